// `weir run` as a process: the fraud service on its embedded broker, fed and read by kcat.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/broker_process.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::RunCommand;
using test::Subprocess;
using test::WaitFor;
using test::WeirBinary;

std::string ReadTopic(const std::string& bootstrap, const std::string& topic) {
  return RunCommand({"kcat", "-b", bootstrap, "-t", topic, "-C", "-o", "beginning", "-e", "-q",
                     "-f", "%k %s %h\\n"},
                    "", std::chrono::seconds(30))
      .out;
}

// The audit log's entries, one JSON object per line.
std::vector<nlohmann::json> AuditEntries(const std::string& path) {
  std::vector<nlohmann::json> entries;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    entries.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return entries;
}

TEST(WeirRun, DetectsFraudOnTheEmbeddedBrokerAndStopsCleanlyOnSigterm) {
  const std::string log = ::testing::TempDir() + "/weir_run_test.log";
  const std::string audit = ::testing::TempDir() + "/weir_run_test_audit.jsonl";
  std::filesystem::remove(audit);
  constexpr char kTokenKey[] = "audit-test-secret-key-0123456789";
  ASSERT_EQ(::setenv("WEIR_CARD_TOKEN_KEY", kTokenKey, 1), 0);  // the child inherits it
  absl::StatusOr<std::unique_ptr<Subprocess>> weir = Subprocess::Start(
      {WeirBinary(), "run", "--config", "config/weir.yaml", "--set", "commit.interval.ms=100",
       "--set", "broker.topics=[payments:4, fraud-alerts:4, payments-dlq:4]", "--set",
       "audit.log=" + audit, "--progress-interval", "0"},
      log);
  ::unsetenv("WEIR_CARD_TOKEN_KEY");
  ASSERT_TRUE(weir.ok()) << weir.status();
  std::optional<std::string> bootstrap = (*weir)->ReadLine(std::chrono::seconds(60));
  ASSERT_TRUE(bootstrap.has_value()) << "no bootstrap servers printed; see " << log;

  std::string payments;
  for (int i = 1; i <= 5; ++i) {
    absl::StrAppend(&payments, "4111111111111111|{\"txn_id\":\"t", i,
                    "\",\"card\":\"4111111111111111\",\"amount\":10.00,\"merchant\":\"m\","
                    "\"country\":\"DE\",\"ts\":",
                    1'732'270'000'000 + i * 1000, "}\n");
  }
  absl::StrAppend(&payments, "4111111111111111|{\"card\":\"4111111111111111\"}\n");
  ASSERT_EQ(RunCommand({"kcat", "-b", *bootstrap, "-t", "payments", "-P", "-K|"}, payments,
                       std::chrono::seconds(30))
                .exit_status,
            0);

  // The consumer group forms within seconds; poll for the outcome with a deadline.
  std::string alerts;
  std::string dead;
  WaitFor(
      [&] {
        alerts = ReadTopic(*bootstrap, "fraud-alerts");
        dead = ReadTopic(*bootstrap, "payments-dlq");
        return !alerts.empty() && !dead.empty();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  EXPECT_THAT(alerts, HasSubstr("\"rule\":\"VELOCITY\""));
  EXPECT_THAT(alerts, HasSubstr("\"card\":\"411111******1111\""));
  EXPECT_THAT(alerts, HasSubstr("\"txn_id\":\"t5\""));
  EXPECT_THAT(dead, HasSubstr("missing field"));
  EXPECT_THAT(alerts + dead, Not(HasSubstr("4111111111111111")));

  (*weir)->Signal(SIGTERM);
  EXPECT_EQ((*weir)->Wait(std::chrono::seconds(60)), 0) << "see " << log;

  // The audit trail: start with fingerprints, the dead letter, stop with the signal.
  const std::vector<nlohmann::json> entries = AuditEntries(audit);
  ASSERT_GE(entries.size(), 2u) << "see " << audit;
  const nlohmann::json& start = entries.front();
  const nlohmann::json& stop = entries.back();
  EXPECT_EQ(start.value("event", ""), "start");
  EXPECT_THAT(start.value("config_fingerprint", ""), ::testing::MatchesRegex("[0-9a-f]{64}"));
  EXPECT_THAT(start.value("card_token_key_fingerprint", ""),
              ::testing::MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(start.value("card_token_key", ""), "from WEIR_CARD_TOKEN_KEY");
  EXPECT_EQ(stop.value("event", ""), "stop");
  EXPECT_EQ(stop.value("reason", ""), "signal 15");
  EXPECT_EQ(stop.value("dead_letters", -1), 1);
  EXPECT_TRUE(std::any_of(entries.begin(), entries.end(), [](const nlohmann::json& e) {
    return e.value("event", "") == "dead_letters" && e.value("since_start", 0) == 1;
  })) << "no dead_letters entry";
  const std::string text = test::ReadFile(audit);
  EXPECT_THAT(text, Not(HasSubstr(kTokenKey)));
  EXPECT_THAT(text, Not(HasSubstr("4111111111111111")));
}

TEST(WeirRun, TheAuditLogNamesTheKeyByAFingerprintThatChangesWithIt) {
  // Two starts with different keys, each refused right after the audit log opened (a memory
  // limit too small for the plan): both are audited, start and stop.
  std::vector<std::string> fingerprints;
  const std::string audit = ::testing::TempDir() + "/weir_audit_keys.jsonl";
  std::filesystem::remove(audit);
  for (const char* key : {"first-key-0123456789abcdef", "second-key-0123456789abcdef"}) {
    ASSERT_EQ(::setenv("WEIR_CARD_TOKEN_KEY", key, 1), 0);
    const test::CommandResult result =
        RunCommand({WeirBinary(), "run", "--set", "audit.log=" + audit, "--set",
                    "memory.limit.bytes=1MiB"},
                   "", std::chrono::seconds(60));
    ::unsetenv("WEIR_CARD_TOKEN_KEY");
    EXPECT_EQ(result.exit_status, 2) << result.err;
  }
  const std::vector<nlohmann::json> entries = AuditEntries(audit);
  ASSERT_EQ(entries.size(), 4u) << test::ReadFile(audit);
  EXPECT_EQ(entries[1].value("event", ""), "stop");
  EXPECT_THAT(entries[1].value("reason", ""), HasSubstr("memory.limit.bytes"));
  EXPECT_NE(entries[0].value("card_token_key_fingerprint", "a"),
            entries[2].value("card_token_key_fingerprint", "a"));
  EXPECT_EQ(entries[0].value("config_fingerprint", "a"),
            entries[2].value("config_fingerprint", "b"))
      << "the same configuration";
}

TEST(WeirRun, RefusesAnInvalidFraudConfigNamingTheKey) {
  const std::string path = ::testing::TempDir() + "/bad_fraud.yaml";
  RunCommand({"sh", "-c", "echo 'rules.velocity.count: 0' > " + path}, "", std::chrono::seconds(5));
  const test::CommandResult result = RunCommand(
      {WeirBinary(), "run", "--set", "topology.config=" + path}, "", std::chrono::seconds(30));
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, HasSubstr("key 'rules.velocity.count': expected an integer in [1,"));
}

TEST(WeirRun, RefusesToStartWhenTheMemoryPlanExceedsTheLimit) {
  test::CommandResult run = RunCommand(
      {WeirBinary(), "run", "--config", "config/weir.yaml", "--set", "memory.limit.bytes=1GiB",
       "--set", "rocksdb.options=config/rocksdb/default.yaml", "--progress-interval", "0"},
      "", std::chrono::seconds(60));
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_EQ(run.out, "") << "refused only after starting the embedded broker";
  EXPECT_THAT(run.err, HasSubstr("key 'memory.limit.bytes': 1 GiB is less than"));
  EXPECT_THAT(run.err, HasSubstr("RocksDB block cache             50 MiB x 12 tasks"));
  EXPECT_THAT(run.err, HasSubstr("container memory limit"));
}

TEST(WeirRun, WarnsAtStartWhenThePlanExceedsTheHostsMemory) {
  const std::string log = ::testing::TempDir() + "/weir_run_memory_warning.log";
  std::filesystem::remove(log);  // Subprocess appends
  absl::StatusOr<std::unique_ptr<Subprocess>> weir = Subprocess::Start(
      {WeirBinary(), "run", "--config", "config/weir.yaml", "--set",
       "statestore.cache.max.bytes=512GiB", "--set", "metrics.port=0", "--set",
       "state.dir=" + ::testing::TempDir() + "/weir-memory-warning", "--progress-interval", "0.1"},
      log);
  ASSERT_TRUE(weir.ok()) << weir.status();
  ASSERT_TRUE((*weir)->ReadLine(std::chrono::seconds(60)).has_value()) << "see " << log;
  WaitFor([&] { return test::ReadFile(log).find("tasks 0 (") != std::string::npos; },
          std::chrono::seconds(30), std::chrono::milliseconds(50));
  (*weir)->Signal(SIGTERM);
  EXPECT_EQ((*weir)->Wait(std::chrono::seconds(60)), 0) << "see " << log;
  const std::string text = test::ReadFile(log);
  EXPECT_THAT(text, HasSubstr("the memory plan needs "));
  EXPECT_THAT(text, ::testing::ContainsRegex("more than (this host's memory|the cgroup limit)"));
  EXPECT_THAT(text, HasSubstr("its largest line is record cache: 512 GiB x 2 threads"));
  // The warning comes before the broker starts, so a user sees it first.
  EXPECT_LT(text.find("the memory plan needs"), text.find("embedded broker"));
  // Before its first assignment (the group's join takes 3 s) the progress line says why there
  // are no tasks.
  EXPECT_THAT(text, HasSubstr("tasks 0 (joining group fraud-detection: the broker assigns "
                              "partitions once every member has joined, up to "
                              "session.timeout.ms = 3 s)"));
}

TEST(WeirRun, RefusesAStateDirItCannotWriteBeforeStartingAnything) {
  const auto start = std::chrono::steady_clock::now();
  const test::CommandResult run =
      RunCommand({WeirBinary(), "run", "--config", "config/weir.yaml", "--set",
                  "state.dir=/etc/passwd/weir-state", "--progress-interval", "0"},
                 "", std::chrono::seconds(30));
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_THAT(run.err,
              HasSubstr("key 'state.dir': /etc/passwd/weir-state is not a writable directory"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(WeirRun, OnASeparateEmbeddedBrokerWithoutItsTopicsFailsAtOnceNamingTheFlags) {
  const std::string dir = ::testing::TempDir() + "/weir-run-separate-broker";
  absl::StatusOr<test::BrokerProcess> broker =
      test::StartBroker({"payments:2", "fraud-alerts:2", "payments-dlq:2"}, dir + ".log");
  ASSERT_TRUE(broker.ok()) << broker.status();
  const auto start = std::chrono::steady_clock::now();
  const test::CommandResult run =
      RunCommand({WeirBinary(), "run", "--config", "config/weir.yaml", "--set",
                  "bootstrap.servers=" + broker->bootstrap, "--set", "metrics.port=0", "--set",
                  "state.dir=" + dir, "--progress-interval", "0"},
                 "", std::chrono::seconds(60));
  EXPECT_EQ(run.exit_status, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("is an embedded broker (librdkafka's mock cluster)"));
  EXPECT_THAT(run.err, HasSubstr("--topic fraud-detection-instances:1 --topic "
                                 "fraud-detection-card-windows-changelog:2"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  if (broker->process != nullptr) broker->process->Signal(SIGTERM);
}

TEST(WeirStatus, HonoursItsTimeoutAgainstABrokerThatIsNotThere) {
  const auto start = std::chrono::steady_clock::now();
  const test::CommandResult status = RunCommand(
      {WeirBinary(), "status", "--timeout", "3", "--set", "bootstrap.servers=127.0.0.1:1"}, "",
      std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_NE(status.exit_status, 0);
  EXPECT_LT(took, std::chrono::milliseconds(4'500)) << status.err;
}

}  // namespace
}  // namespace weir
