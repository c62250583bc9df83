// deploy/: the Prometheus config and alert rules pass promtool (syntax and rule unit tests),
// every metric the rules and the Grafana dashboard use is one weir exports
// (engine/http/metrics.cc), the systemd unit passes `systemd-analyze verify` with the memory limit
// the plan gives, and the Kubernetes manifests build with kustomize, pass the API's schemas and
// carry the plan's resources (scripts/k8s-tools.sh installs kustomize and the validator).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "absl/strings/str_split.h"
#include "engine/http/metrics.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::ReadFile;

std::set<std::string> MetricNamesIn(const std::string& text) {
  static const std::regex name("weir_[a-z0-9_]+");
  std::set<std::string> names;
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

std::set<std::string> Declared() {
  std::set<std::string> names;
  for (const MetricDescription& d : MetricDescriptions()) names.insert(d.name);
  return names;
}

TEST(Deploy, PromtoolAcceptsTheConfigAndTheRulesAndTheirUnitTestsPass) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"promtool", "check", "config", "deploy/prometheus/prometheus.yml"},
        std::vector<std::string>{"promtool", "check", "rules", "deploy/prometheus/weir-rules.yml"},
        std::vector<std::string>{"promtool", "test", "rules",
                                 "deploy/prometheus/weir-rules.test.yml"}}) {
    const test::CommandResult result = test::RunCommand(argv, "", std::chrono::seconds(60));
    EXPECT_EQ(result.exit_status, 0) << argv[1] << " " << argv[2] << ":\n"
                                     << result.out << result.err;
  }
}

TEST(Deploy, RulesUseOnlyExportedMetrics) {
  const std::set<std::string> used = MetricNamesIn(ReadFile("deploy/prometheus/weir-rules.yml"));
  EXPECT_GE(used.size(), 5u);
  const std::set<std::string> declared = Declared();
  for (const std::string& name : used) EXPECT_TRUE(declared.contains(name)) << name;
}

TEST(Deploy, TheDashboardShowsWhatOperatorsWatchWithExportedMetrics) {
  const nlohmann::json dashboard =
      nlohmann::json::parse(ReadFile("deploy/grafana/weir-dashboard.json"), nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "deploy/grafana/weir-dashboard.json is not JSON";
  std::string expressions;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"])
      expressions += target["expr"].get<std::string>() + "\n";
  }
  const std::set<std::string> used = MetricNamesIn(expressions);
  const std::set<std::string> declared = Declared();
  for (const std::string& name : used) EXPECT_TRUE(declared.contains(name)) << name;
  for (const char* needed :
       {"weir_thread_process_rate", "weir_kafka_consumer_records_lag",
        "weir_processor_node_record_e2e_latency_avg", "weir_state_block_cache_data_hit_ratio",
        "weir_state_write_stall_duration_total", "weir_state_cur_size_all_mem_tables",
        "weir_state_block_cache_usage"}) {
    EXPECT_TRUE(used.contains(needed)) << "the dashboard has no panel on " << needed;
  }
}

// The unit's `Key=value` lines.
std::map<std::string, std::string> UnitSettings(const std::string& text) {
  std::map<std::string, std::string> settings;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) continue;
    settings[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return settings;
}

TEST(Deploy, TheSystemdUnitVerifiesIsHardenedAndHasThePlansMemoryLimit) {
  const std::string unit = ReadFile("deploy/systemd/weir.service");
  ASSERT_FALSE(unit.empty());
  // systemd-analyze checks that ExecStart's binary exists: point it at the one just built.
  const std::string dir = ::testing::TempDir() + "/systemd-unit";
  std::filesystem::create_directories(dir);
  const std::string copy = dir + "/weir.service";
  std::ofstream(copy) << std::regex_replace(
      unit, std::regex("/usr/local/bin/weir"),
      std::filesystem::absolute(test::WeirBinary()).string());
  const test::CommandResult verify =
      test::RunCommand({"systemd-analyze", "verify", copy}, "", std::chrono::seconds(60));
  EXPECT_EQ(verify.exit_status, 0) << verify.err;
  EXPECT_EQ(verify.out + verify.err, "") << "systemd-analyze warns about the unit";

  std::map<std::string, std::string> settings = UnitSettings(unit);
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"User", "weir"},
                                          {"Restart", "on-failure"},
                                          {"KillSignal", "SIGTERM"},
                                          {"ProtectSystem", "strict"},
                                          {"ReadWritePaths", "/var/lib/weir"},
                                          {"NoNewPrivileges", "true"},
                                          {"PrivateTmp", "true"},
                                          {"EnvironmentFile", "/etc/weir/token-key.env"}}) {
    EXPECT_EQ(settings.count(key) ? settings.at(key) : "(absent)", value) << key;
  }
  EXPECT_THAT(settings["ExecStart"], ::testing::HasSubstr("--set state.dir=/var/lib/weir"));
  EXPECT_EQ(settings.count("Environment"), 0u)
      << "the card token key belongs in the EnvironmentFile, not the unit";

  // MemoryMax is the memory plan's container limit for the configuration the unit runs.
  const test::CommandResult plan =
      test::RunCommand({test::WeirBinary(), "plan", "memory", "--config", "config/weir.yaml",
                           "--format", "systemd"},
                          "", std::chrono::seconds(60));
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  EXPECT_THAT(plan.out, ::testing::HasSubstr("MemoryMax=" + settings["MemoryMax"] + "\n"));
}

// The one object of `kind` among `docs`; a null node when there is none.
YAML::Node Find(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const YAML::Node& doc : docs) {
    if (doc["kind"] && doc["kind"].as<std::string>() == kind) return doc;
  }
  return YAML::Node();
}

class KubernetesManifests : public ::testing::TestWithParam<const char*> {};

TEST_P(KubernetesManifests, BuildPassTheSchemasAndCarryThePlansResources) {
  const std::string kustomize = "build/tools/bin/kustomize";
  ASSERT_TRUE(std::filesystem::exists(kustomize) &&
              std::filesystem::exists("deploy/k8s/validate/node_modules"))
      << "run scripts/k8s-tools.sh first (kustomize and the validator's packages)";
  const test::CommandResult built = test::RunCommand(
      {kustomize, "build", std::string("deploy/k8s/") + GetParam()}, "", std::chrono::seconds(60));
  ASSERT_EQ(built.exit_status, 0) << built.err;
  const std::string file = ::testing::TempDir() + "/k8s-" +
                           std::regex_replace(GetParam(), std::regex("/"), "-") + ".yaml";
  std::ofstream(file) << built.out;

  // Every object against the Kubernetes API's schemas (and the Prometheus Operator's).
  const test::CommandResult valid = test::RunCommand(
      {"node", "deploy/k8s/validate/validate.js", file}, "", std::chrono::seconds(60));
  EXPECT_EQ(valid.exit_status, 0) << valid.out << valid.err;
  EXPECT_THAT(valid.out, ::testing::HasSubstr("5 objects, 0 invalid")) << valid.out;

  const std::vector<YAML::Node> docs = YAML::LoadAll(built.out);
  const YAML::Node set = Find(docs, "StatefulSet");
  ASSERT_TRUE(set) << built.out;
  const YAML::Node pod = set["spec"]["template"]["spec"];
  const YAML::Node container = pod["containers"][0];
  // Memory requests = limits, CPU = stream threads: exactly what the plan prints for this many
  // instances sharing the shipped 12 partitions.
  const int replicas = set["spec"]["replicas"].as<int>();
  const test::CommandResult plan = test::RunCommand(
      {test::WeirBinary(), "plan", "memory", "--config", "config/weir.yaml", "--partitions",
       "12", "--instances", std::to_string(replicas), "--format", "k8s"},
      "", std::chrono::seconds(60));
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  const YAML::Node planned = YAML::Load(plan.out)["resources"];
  for (const char* path : {"requests/cpu", "requests/memory", "limits/memory"}) {
    const std::vector<std::string> keys = absl::StrSplit(path, '/');
    EXPECT_EQ(container["resources"][keys[0]][keys[1]].as<std::string>("(absent)"),
              planned[keys[0]][keys[1]].as<std::string>("(not planned)"))
        << path;
  }
  EXPECT_FALSE(container["resources"]["limits"]["cpu"]) << "a CPU limit only throttles";
  EXPECT_EQ(container["resources"]["requests"]["memory"].as<std::string>(),
            container["resources"]["limits"]["memory"].as<std::string>());

  EXPECT_EQ(pod["topologySpreadConstraints"][0]["topologyKey"].as<std::string>(""),
            "kubernetes.io/hostname");
  EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(""), "/healthz");
  EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(""), "/readyz");
  EXPECT_GE(container["startupProbe"]["periodSeconds"].as<int>(0) *
                container["startupProbe"]["failureThreshold"].as<int>(0),
            1800)
      << "the startup probe allows 30 minutes";
  EXPECT_GT(pod["terminationGracePeriodSeconds"].as<int>(0), 90) << "commit (60 s) plus close";
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>(false));
  EXPECT_EQ(set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>(""),
            "state");
  EXPECT_EQ(container["volumeMounts"][0]["mountPath"].as<std::string>(""), "/var/lib/weir");
  bool key_from_secret = false;
  for (const YAML::Node& env : container["env"]) {
    key_from_secret |= env["name"].as<std::string>() == "WEIR_CARD_TOKEN_KEY" &&
                       env["valueFrom"]["secretKeyRef"];
  }
  EXPECT_TRUE(key_from_secret) << "the card token key comes from a Secret";
  const YAML::Node service = Find(docs, "Service");
  ASSERT_TRUE(service);
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(""), "None") << "headless";
  EXPECT_EQ(set["spec"]["serviceName"].as<std::string>(""),
            service["metadata"]["name"].as<std::string>());
  EXPECT_TRUE(Find(docs, "PodDisruptionBudget"));
  EXPECT_TRUE(Find(docs, "PodMonitor"));
  const YAML::Node policy = Find(docs, "NetworkPolicy");
  ASSERT_TRUE(policy);
  EXPECT_THAT(YAML::Dump(policy["spec"]["policyTypes"]), ::testing::HasSubstr("Egress"));
}

INSTANTIATE_TEST_SUITE_P(Kustomizations, KubernetesManifests,
                         ::testing::Values("base", "overlays/prod"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param).find("prod") != std::string::npos
                                      ? std::string("prod")
                                      : std::string("base");
                         });

TEST(Deploy, TheManifestValidatorRejectsAnInvalidObject) {
  ASSERT_TRUE(std::filesystem::exists("deploy/k8s/validate/node_modules"))
      << "run scripts/k8s-tools.sh first";
  const std::string file = ::testing::TempDir() + "/k8s-invalid.yaml";
  std::ofstream(file) << "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\n"
                         "spec: {replicas: three, serviceName: x, selector: {}, template: {}}\n";
  const test::CommandResult result = test::RunCommand(
      {"node", "deploy/k8s/validate/validate.js", file}, "", std::chrono::seconds(60));
  EXPECT_EQ(result.exit_status, 1) << result.out;
  EXPECT_THAT(result.out, ::testing::HasSubstr("spec/replicas must be integer"));
}

}  // namespace
}  // namespace weir
