#include "bench/failover.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/processes.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_admin.h"
#include "engine/kafka/topic_offsets.h"
#include "engine/processor/topic_name.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/membership.h"
#include "topologies/fraud_topology.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kApplication = kFailoverApplication;

struct Instance {
  std::unique_ptr<Subprocess> process;
  int port = 0;
  std::string log;
};

absl::StatusOr<InstanceView> ReadTasks(const Instance& instance) {
  const HttpResponse response = HttpGet(instance.port, "/tasks");
  if (response.status != 200) {
    return absl::UnavailableError(absl::StrCat("GET /tasks on port ", instance.port, ": status ",
                                               response.status, "; see ", instance.log));
  }
  return InstanceView::FromJson(response.body);
}

int64_t Median(std::vector<int64_t> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The run's own topics, so that on a real cluster it touches nothing else.
std::string RunTopic(absl::string_view topic) { return absl::StrCat(kApplication, "-", topic); }

// The fraud configuration the run's processes use: the configured one, naming the run's topics.
std::string FraudConfigPath(const FailoverOptions& options) {
  return (std::filesystem::path(options.work_dir) / "fraud.yaml").string();
}

// The configured fraud configuration (topology.config), naming the run's own topics.
absl::Status WriteFraudConfig(const FailoverOptions& options) {
  WEIR_ASSIGN_OR_RETURN(const AppConfig app, LoadAppConfig(options.config_path, {}));
  return WriteRenamedFraudConfig(app.topology_config, FraudConfigPath(options),
                                 RunTopic("payments"), RunTopic("fraud-alerts"),
                                 RunTopic("payments-dlq"));
}

// Runs `weir loadgen` to the payments topic to completion.
absl::Status Produce(const FailoverOptions& options, const std::string& bootstrap, int64_t records,
                     double rate, int64_t start_ts, uint64_t seed, const std::string& log,
                     std::unique_ptr<Subprocess>* background) {
  std::vector<std::string> argv = {options.weir_binary,
                                   "loadgen",
                                   "--config",
                                   options.config_path,
                                   "--set",
                                   absl::StrCat("bootstrap.servers=", bootstrap),
                                   "--set",
                                   absl::StrCat("topology.config=", FraudConfigPath(options)),
                                   "--records",
                                   absl::StrCat(records),
                                   "--rate",
                                   absl::StrFormat("%g", rate),
                                   "--cards",
                                   absl::StrCat(options.cards),
                                   "--seed",
                                   absl::StrCat(seed),
                                   "--progress-interval",
                                   "0"};
  if (start_ts > 0) {
    argv.push_back("--start-ts");
    argv.push_back(absl::StrCat(start_ts));
  }
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::StartLogged(argv, log));
  if (background != nullptr) {
    *background = std::move(child);
    return absl::OkStatus();
  }
  const int status = child->Wait(std::chrono::minutes(10)).value_or(-1);
  if (status != 0) {
    return absl::InternalError(absl::StrCat("weir loadgen exited with ", status, "; see ", log));
  }
  return absl::OkStatus();
}

// Waits until the application has committed `records` input records.
absl::Status WaitProcessed(const std::string& bootstrap, int partitions, int64_t records,
                           std::chrono::seconds timeout) {
  int64_t committed = 0;
  if (WaitFor(
          [&] {
            committed = CommittedRecords(bootstrap, kApplication, RunTopic("payments"), partitions);
            return committed >= records;
          },
          timeout, std::chrono::milliseconds(200))) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the application committed ", committed, " of ", records, " payments in time"));
}

// The stream must outlast the failover: the moved tasks must still receive records once they
// resume, about two session timeouts after the kill on the embedded broker (see the header),
// one and a rebalance on a real cluster, plus room.
absl::Status CheckStreamOutlastsFailover(const FailoverOptions& options) {
  const double sessions = options.bootstrap_servers.empty() ? 3.0 : 1.5;
  const double needed_s = options.kill_after_s + options.pause_s +
                          sessions * static_cast<double>(options.session_timeout_ms) / 1000 + 5;
  if (static_cast<double>(options.stream_records) / options.rate >= needed_s) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "the stream of %d payments at %g/s ends %.0f s in, before the failover can show: it must "
      "last at least --kill-after + --pause + %g x session timeout + 5 s = %.0f s (raise "
      "--records to %d)",
      options.stream_records, options.rate,
      static_cast<double>(options.stream_records) / options.rate, sessions, needed_s,
      static_cast<int64_t>(needed_s * options.rate)));
}

// Where the run's topics live: a `weir broker` process started for it, or a real cluster.
struct Cluster {
  std::unique_ptr<Subprocess> broker;  // null on a real cluster
  std::string bootstrap;
};

// A `weir broker` with every topic, the instances' internal ones too (it has no CreateTopics).
absl::StatusOr<Cluster> StartBroker(const FailoverOptions& options, std::vector<TopicSpec> topics) {
  const std::filesystem::path dir = options.work_dir;
  const std::string bootstrap_file = (dir / "bootstrap").string();
  std::vector<std::string> argv = {
      options.weir_binary,   "broker", "--brokers",        "1",
      "--progress-interval", "0",      "--bootstrap-file", bootstrap_file};
  for (const TopicSpec& topic : fraud::FraudInternalTopics(kApplication, options.partitions)) {
    topics.push_back(topic);
  }
  for (const TopicSpec& topic : topics) {
    argv.push_back("--topic");
    argv.push_back(absl::StrCat(topic.name, ":", topic.partitions));
  }
  Cluster cluster;
  WEIR_ASSIGN_OR_RETURN(cluster.broker,
                        Subprocess::StartLogged(argv, (dir / "broker.log").string()));
  const bool written = WaitFor(
      [&] {
        std::ifstream in(bootstrap_file);
        std::getline(in, cluster.bootstrap);
        return !cluster.bootstrap.empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50));
  if (!written) {
    return absl::DeadlineExceededError("the broker wrote no bootstrap file; see broker.log");
  }
  return cluster;
}

// A real cluster: a previous run's topics and group go first, then the run's topics are created
// (the instances create their internal topics themselves).
absl::StatusOr<Cluster> ResetCluster(const FailoverOptions& options,
                                     const std::vector<TopicSpec>& topics) {
  const std::string& bootstrap = options.bootstrap_servers;
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf,
                        BuildKafkaConf({.bootstrap_servers = bootstrap}, ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle admin, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(const auto counts, PartitionCounts(admin.get()));
  std::vector<std::string> previous;
  for (const auto& [name, partitions] : counts) {
    if (absl::StartsWith(name, absl::StrCat(kApplication, "-"))) previous.push_back(name);
  }
  WEIR_RETURN_IF_ERROR(DeleteTopics(admin.get(), previous));
  WEIR_ASSIGN_OR_RETURN(const std::vector<std::string> groups, ListGroups(admin.get()));
  if (std::find(groups.begin(), groups.end(), kApplication) != groups.end()) {
    WEIR_RETURN_IF_ERROR(DeleteGroups(admin.get(), {kApplication}));
  }
  WEIR_RETURN_IF_ERROR(CreateTopics(admin.get(), topics, -1));
  spdlog::info("failover: on the cluster at {}, topics {}-*", bootstrap, kApplication);
  return Cluster{.bootstrap = bootstrap};
}

// Instance `i`: `weir run` with one stream thread, its HTTP port read back once it listens.
absl::StatusOr<Instance> StartInstance(const FailoverOptions& options, int i,
                                       const std::string& bootstrap) {
  const std::filesystem::path dir = options.work_dir;
  Instance instance;
  instance.log = (dir / absl::StrCat("instance-", i, ".log")).string();
  const std::string port_file = instance.log + ".port";
  std::vector<std::string> argv = {options.weir_binary,   "run", "--config",    options.config_path,
                                   "--progress-interval", "5",   "--port-file", port_file};
  std::vector<std::string> settings = {
      absl::StrCat("bootstrap.servers=", bootstrap),
      absl::StrCat("application.id=", kApplication),
      absl::StrCat("topology.config=", FraudConfigPath(options)),
      absl::StrCat("state.dir=", (dir / absl::StrCat("state-", i)).string()),
      "metrics.host=127.0.0.1",
      "metrics.port=0",  // the kernel picks it as weir binds it: read back below
      "num.stream.threads=1",
      absl::StrCat("num.standby.replicas=", options.standby_replicas),
      absl::StrCat("acceptable.recovery.lag=", options.acceptable_recovery_lag),
      absl::StrCat("consumer.session.timeout.ms=", options.session_timeout_ms),
      "consumer.heartbeat.interval.ms=500",
      "commit.interval.ms=1000"};
  settings.insert(settings.end(), options.overrides.begin(), options.overrides.end());
  for (const std::string& setting : settings) {
    argv.push_back("--set");
    argv.push_back(setting);
  }
  std::filesystem::remove(port_file);
  WEIR_ASSIGN_OR_RETURN(instance.process, Subprocess::StartLogged(argv, instance.log));
  const std::optional<int> port = ReadPortFile(port_file, std::chrono::seconds(60));
  if (!port.has_value()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "instance ", i, " did not start its HTTP listener within 60 s; see ", instance.log));
  }
  instance.port = *port;
  return instance;
}

// Waits until every task is active somewhere and every instance answers; returns their ids.
absl::StatusOr<std::vector<std::string>> WaitForTasksShared(
    const FailoverOptions& options, const std::vector<Instance>& instances) {
  std::vector<std::string> id_of(instances.size());
  const bool shared = WaitFor(
      [&] {
        size_t tasks = 0;
        for (size_t i = 0; i < instances.size(); ++i) {
          absl::StatusOr<InstanceView> view = ReadTasks(instances[i]);
          if (!view.ok()) return false;
          id_of[i] = view->instance;
          tasks += view->active.size();
        }
        return tasks == static_cast<size_t>(options.partitions);
      },
      std::chrono::seconds(90), std::chrono::milliseconds(200));
  if (!shared) {
    return absl::DeadlineExceededError(absl::StrCat("the instances did not share the ",
                                                    options.partitions, " tasks within 90 s; see ",
                                                    options.work_dir, "/instance-*.log"));
  }
  return id_of;
}

// The fill: payments sent first as fast as possible, processed, and (with standbys) each
// standby placed and caught up before the stream starts.
absl::Status Fill(const FailoverOptions& options, const std::string& bootstrap,
                  const std::vector<Instance>& instances) {
  if (options.fill_records <= 0) return absl::OkStatus();
  spdlog::info("failover: filling the state with {} payments", options.fill_records);
  WEIR_RETURN_IF_ERROR(
      Produce(options, bootstrap, options.fill_records, 0, 0, options.seed + 1,
              (std::filesystem::path(options.work_dir) / "loadgen-fill.log").string(), nullptr));
  WEIR_RETURN_IF_ERROR(WaitProcessed(bootstrap, options.partitions, options.fill_records,
                                     std::chrono::seconds(600)));
  const int64_t expected = static_cast<int64_t>(options.partitions) * options.standby_replicas;
  int64_t caught_up = 0;
  const bool ready = WaitFor(
      [&] {
        caught_up = 0;
        for (const Instance& instance : instances) {
          absl::StatusOr<InstanceView> view = ReadTasks(instance);
          if (!view.ok()) continue;
          for (const StandbyTaskView& standby : view->standby) caught_up += standby.caught_up;
        }
        return caught_up >= expected;
      },
      std::chrono::seconds(300), std::chrono::milliseconds(200));
  if (!ready) {
    return absl::DeadlineExceededError(
        absl::StrCat(caught_up, " of ", expected, " standbys caught up in 300 s"));
  }
  return absl::OkStatus();
}

// The view just before the kill: owners and standbys, and what the survivors had restored.
struct BeforeKill {
  std::map<std::string, std::string> owner;                                // task -> instance
  int64_t restored_by_survivors = 0;                                       // since they started
  std::map<std::pair<std::string, std::string>, StandbyTaskView> standby;  // (task, instance)
};

absl::StatusOr<BeforeKill> ReadBeforeKill(const std::vector<Instance>& instances) {
  BeforeKill before;
  for (const Instance& instance : instances) {
    WEIR_ASSIGN_OR_RETURN(InstanceView view, ReadTasks(instance));
    if (&instance != &instances.back()) before.restored_by_survivors += view.records_restored;
    for (const ActiveTaskView& task : view.active) before.owner[task.id.ToString()] = view.instance;
    for (const StandbyTaskView& standby : view.standby) {
      before.standby[{standby.id.ToString(), view.instance}] = standby;
    }
  }
  return before;
}

// Records the changelogs hold now (0 when they cannot be read).
int64_t ChangelogRecords(const std::string& bootstrap) {
  absl::StatusOr<std::unique_ptr<TopicOffsetsReader>> reader =
      TopicOffsetsReader::Open({.bootstrap_servers = bootstrap});
  if (!reader.ok()) return 0;
  absl::StatusOr<std::vector<TopicOffsets>> offsets = (*reader)->Read(std::chrono::seconds(10));
  if (!offsets.ok()) return 0;
  int64_t records = 0;
  for (const TopicOffsets& topic : *offsets) {
    if (topic.topic.ends_with("-changelog")) records += topic.retained;
  }
  return records;
}

// A task created on a survivor after the kill, as /tasks shows it.
struct Moved {
  std::string owner;
  int64_t first_processed_ms = -1;
  std::map<std::pair<std::string, int64_t>, int64_t> restored;  // (owner, created) -> records
};

// Watches the survivors until every task is processing on one of them, each of the killed
// instance's tasks has processed a record, and the stream has ended; returns what moved.
absl::StatusOr<std::map<std::string, Moved>> WatchTasksMove(const FailoverOptions& options,
                                                            const std::vector<Instance>& survivors,
                                                            const BeforeKill& before,
                                                            const std::string& killed,
                                                            int64_t kill_ms, Subprocess& stream) {
  std::map<std::string, Moved> moved;
  const auto resumed = [&] {
    bool all = true;
    std::set<std::string> active;
    for (const Instance& survivor : survivors) {
      absl::StatusOr<InstanceView> view = ReadTasks(survivor);
      if (!view.ok()) {
        all = false;
        continue;
      }
      for (const ActiveTaskView& task : view->active) {
        const std::string id = task.id.ToString();
        active.insert(id);
        if (task.created_ms < kill_ms) continue;  // stayed where it was
        Moved& m = moved[id];
        m.owner = view->instance;
        m.restored[{view->instance, task.created_ms}] = task.restored;
        if (task.first_processed_ms >= 0 &&
            (m.first_processed_ms < 0 || task.first_processed_ms < m.first_processed_ms)) {
          m.first_processed_ms = task.first_processed_ms;
        }
      }
    }
    bool processing = all && active.size() == static_cast<size_t>(options.partitions);
    for (const auto& [task, owner] : before.owner) {
      if (owner != killed) continue;
      auto m = moved.find(task);
      processing = processing && m != moved.end() && m->second.first_processed_ms >= 0;
    }
    return processing && stream.Wait(std::chrono::milliseconds(0)).has_value();
  };
  if (!WaitFor(resumed, std::chrono::seconds(180), std::chrono::milliseconds(100))) {
    return absl::DeadlineExceededError(
        "the killed instance's tasks did not resume on the survivors within 180 s");
  }
  return moved;
}

// The report's moved tasks and failover times, from what moved and the view before the kill.
void ReportMoves(const std::map<std::string, Moved>& moved, const BeforeKill& before,
                 int64_t kill_ms, FailoverReport& report) {
  std::vector<int64_t> failover_times;
  for (const auto& [task, m] : moved) {
    MovedTask task_report{.task = task, .from = before.owner.at(task), .to = m.owner};
    if (task_report.from == task_report.to) continue;  // revoked and handed back (eager)
    if (auto standby = before.standby.find({task, m.owner}); standby != before.standby.end()) {
      task_report.standby_lag = standby->second.lag;
      task_report.standby_on_new_owner = standby->second.caught_up;
    }
    for (const auto& [creation, records] : m.restored) task_report.restored += records;
    if (m.first_processed_ms >= 0) task_report.failover_ms = m.first_processed_ms - kill_ms;
    failover_times.push_back(task_report.failover_ms);
    report.moved.push_back(std::move(task_report));
  }
  report.failover_ms_median = Median(failover_times);
  report.failover_ms_max =
      failover_times.empty() ? -1 : *std::max_element(failover_times.begin(), failover_times.end());
}

// The stream's end: `weir loadgen` done, and every payment processed and committed.
absl::Status AwaitStream(const FailoverOptions& options, const std::string& bootstrap,
                         Subprocess& stream) {
  if (const int status = stream.Wait(std::chrono::minutes(5)).value_or(-1); status != 0) {
    return absl::InternalError(absl::StrCat("weir loadgen exited with ", status));
  }
  return WaitProcessed(bootstrap, options.partitions,
                       options.fill_records + options.stream_records, std::chrono::seconds(300));
}

// The sum of `family` over every series in a /metrics text.
double SumOfMetric(const std::string& metrics, const std::string& family) {
  double total = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, family + "{") && !absl::StartsWith(line, family + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) total += value;
  }
  return total;
}

// Stops the last instance for pause_s (SIGSTOP), resumes it, and waits until every instance is
// alive and ready and the paused one owns tasks again: it rejoined rather than died.
absl::Status PauseLast(const FailoverOptions& options, std::vector<Instance>& instances,
                       FailoverReport& report) {
  Instance& paused = instances.back();
  paused.process->Signal(SIGSTOP);
  spdlog::info("failover: stopped instance {} (SIGSTOP) for {} s", instances.size() - 1,
               options.pause_s);
  std::this_thread::sleep_for(std::chrono::milliseconds(
      static_cast<int64_t>(options.pause_s * 1000)));  // the scenario's own timing
  paused.process->Signal(SIGCONT);
  const int64_t resumed_ms = WallClockMs();
  std::string why;
  const auto rejoined = [&] {
    size_t tasks = 0;
    for (size_t i = 0; i < instances.size(); ++i) {
      if (instances[i].process->Wait(std::chrono::milliseconds(0)).has_value()) {
        why = absl::StrCat("instance ", i, " exited; see ", instances[i].log);
        return false;
      }
      const HttpResponse ready = HttpGet(instances[i].port, "/readyz");
      if (ready.status != 200) {
        why = absl::StrCat("instance ", i, " not ready: ", ready.body);
        return false;
      }
      absl::StatusOr<InstanceView> view = ReadTasks(instances[i]);
      if (!view.ok()) return false;
      if (i + 1 == instances.size() && view->active.empty()) {
        why = "the paused instance owns no task";
        return false;
      }
      tasks += view->active.size();
    }
    why = absl::StrCat(tasks, " of ", options.partitions, " tasks running");
    return tasks == static_cast<size_t>(options.partitions);
  };
  if (!WaitFor(rejoined, std::chrono::seconds(180), std::chrono::milliseconds(200))) {
    return absl::DeadlineExceededError(
        absl::StrCat("180 s after the paused instance resumed: ", why));
  }
  report.rejoin_ms = WallClockMs() - resumed_ms;
  const std::string metrics = HttpGet(paused.port, "/metrics").body;
  report.assignments_lost =
      static_cast<int64_t>(SumOfMetric(metrics, "weir_thread_assignments_lost_total"));
  report.task_migrations =
      static_cast<int64_t>(SumOfMetric(metrics, "weir_thread_task_migrations_total"));
  spdlog::info("failover: every instance ready {} ms after the resume (assignments lost {}, "
               "task migrations {})", report.rejoin_ms, report.assignments_lost,
               report.task_migrations);
  return absl::OkStatus();
}

// SIGTERM to every instance; an error naming the first that does not exit 0 (or exited before).
absl::Status StopAll(std::vector<Instance>& survivors, Cluster& cluster) {
  for (Instance& instance : survivors) instance.process->Signal(SIGTERM);
  absl::Status status;
  for (Instance& instance : survivors) {
    const std::optional<int> exit = instance.process->Wait(std::chrono::seconds(60));
    if (exit != 0 && status.ok()) {
      status = absl::InternalError(absl::StrCat("an instance exited with ", exit.value_or(-1),
                                                " on SIGTERM; see ", instance.log));
    }
  }
  if (cluster.broker != nullptr) {
    cluster.broker->Signal(SIGTERM);
    cluster.broker->Wait(std::chrono::seconds(30));
  }
  return status;
}

}  // namespace

absl::StatusOr<FailoverReport> RunFailover(const FailoverOptions& options) {
  if (options.instances < 2) {
    return absl::InvalidArgumentError("a failover needs at least 2 instances");
  }
  WEIR_RETURN_IF_ERROR(CheckStreamOutlastsFailover(options));
  const std::filesystem::path dir = options.work_dir;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(dir.string(), ": ", error.message()));
  }
  WEIR_RETURN_IF_ERROR(WriteFraudConfig(options));
  const std::vector<TopicSpec> topics = {
      {.name = RunTopic("payments"), .partitions = options.partitions},
      {.name = RunTopic("fraud-alerts"), .partitions = options.partitions},
      {.name = RunTopic("payments-dlq"), .partitions = options.partitions}};
  WEIR_ASSIGN_OR_RETURN(Cluster cluster, options.bootstrap_servers.empty()
                                             ? StartBroker(options, topics)
                                             : ResetCluster(options, topics));
  const std::string& bootstrap = cluster.bootstrap;

  std::vector<Instance> instances;
  for (int i = 0; i < options.instances; ++i) {
    WEIR_ASSIGN_OR_RETURN(Instance instance, StartInstance(options, i, bootstrap));
    instances.push_back(std::move(instance));
  }
  WEIR_ASSIGN_OR_RETURN(const std::vector<std::string> id_of,
                        WaitForTasksShared(options, instances));
  spdlog::info("failover: {} instances up, {} standby replicas", options.instances,
               options.standby_replicas);
  WEIR_RETURN_IF_ERROR(Fill(options, bootstrap, instances));

  spdlog::info("failover: streaming {} payments at {}/s; killing instance {} after {} s",
               options.stream_records, options.rate, options.instances - 1, options.kill_after_s);
  std::unique_ptr<Subprocess> stream;
  WEIR_RETURN_IF_ERROR(Produce(options, bootstrap, options.stream_records, options.rate,
                               options.start_ts, options.seed,
                               (dir / "loadgen-stream.log").string(), &stream));
  std::this_thread::sleep_for(std::chrono::milliseconds(
      static_cast<int64_t>(options.kill_after_s * 1000)));  // the scenario's own timing
  WEIR_ASSIGN_OR_RETURN(const BeforeKill before, ReadBeforeKill(instances));
  FailoverReport report{.standby_replicas = options.standby_replicas,
                        .fill_records = options.fill_records,
                        .stream_records = options.stream_records,
                        .state_changelog_records = ChangelogRecords(bootstrap),
                        .killed = id_of.back()};
  if (options.pause_s > 0) {
    WEIR_RETURN_IF_ERROR(PauseLast(options, instances, report));
    WEIR_RETURN_IF_ERROR(AwaitStream(options, bootstrap, *stream));
    report.survivor_metrics = HttpGet(instances.back().port, "/metrics").body;
    if (options.before_stop) options.before_stop(bootstrap, RunTopic("fraud-alerts"));
    WEIR_RETURN_IF_ERROR(StopAll(instances, cluster));
    return report;
  }
  const int64_t kill_ms = WallClockMs();
  instances.back().process->Signal(SIGKILL);
  instances.back().process->Wait(std::chrono::seconds(10));
  spdlog::info("failover: killed instance {} ({})", options.instances - 1, report.killed);
  std::vector<Instance> survivors(std::make_move_iterator(instances.begin()),
                                  std::make_move_iterator(instances.end() - 1));

  WEIR_ASSIGN_OR_RETURN(const auto moved, WatchTasksMove(options, survivors, before, report.killed,
                                                         kill_ms, *stream));
  WEIR_RETURN_IF_ERROR(AwaitStream(options, bootstrap, *stream));
  // Every restoration on the survivors since the kill, including tasks created and revoked
  // again between two reads of /tasks (the per-task figures may miss those).
  for (const Instance& survivor : survivors) {
    WEIR_ASSIGN_OR_RETURN(InstanceView view, ReadTasks(survivor));
    report.records_restored += view.records_restored;
  }
  report.records_restored -= before.restored_by_survivors;
  report.survivor_metrics = HttpGet(survivors.front().port, "/metrics").body;
  ReportMoves(moved, before, kill_ms, report);

  if (options.before_stop) options.before_stop(bootstrap, RunTopic("fraud-alerts"));
  WEIR_RETURN_IF_ERROR(StopAll(survivors, cluster));
  return report;
}

std::string FailoverTable(const std::vector<FailoverReport>& reports) {
  std::string out;
  for (const FailoverReport& report : reports) {
    if (report.rejoin_ms >= 0) {
      absl::StrAppendFormat(&out,
                            "\nnum.standby.replicas=%d: paused %s; every instance ready %lld ms "
                            "after it resumed; it recovered from %lld lost assignments and %lld "
                            "task migrations\n",
                            report.standby_replicas, report.killed,
                            static_cast<long long>(report.rejoin_ms),
                            static_cast<long long>(report.assignments_lost),
                            static_cast<long long>(report.task_migrations));
      continue;
    }
    absl::StrAppendFormat(&out,
                          "\nnum.standby.replicas=%d: killed %s with %lld changelog records of "
                          "state in the cluster\n",
                          report.standby_replicas, report.killed,
                          static_cast<long long>(report.state_changelog_records));
    absl::StrAppendFormat(&out, "  %-6s %-9s %-9s %-18s %10s %12s\n", "TASK", "FROM", "TO",
                          "STANDBY THERE", "RESTORED", "FAILOVER ms");
    for (const MovedTask& task : report.moved) {
      const std::string standby =
          task.standby_lag < 0 ? "no"
                               : absl::StrCat(task.standby_on_new_owner ? "caught up" : "behind",
                                              " (lag ", task.standby_lag, ")");
      absl::StrAppendFormat(&out, "  %-6s %-9s %-9s %-18s %10lld %12lld\n", task.task, task.from,
                            task.to, standby, static_cast<long long>(task.restored),
                            static_cast<long long>(task.failover_ms));
    }
    absl::StrAppendFormat(&out,
                          "  moved tasks %zu, records restored %lld, failover median %lld ms, "
                          "max %lld ms\n",
                          report.moved.size(), static_cast<long long>(report.records_restored),
                          static_cast<long long>(report.failover_ms_median),
                          static_cast<long long>(report.failover_ms_max));
  }
  if (reports.size() == 2 && reports[1].records_restored > 0) {
    absl::StrAppendFormat(&out,
                          "\nrecords restored: %lld without standbys, %lld with (%.1fx fewer)\n",
                          static_cast<long long>(reports[0].records_restored),
                          static_cast<long long>(reports[1].records_restored),
                          static_cast<double>(reports[0].records_restored) /
                              static_cast<double>(reports[1].records_restored));
  } else if (reports.size() == 2) {
    absl::StrAppendFormat(&out, "\nrecords restored: %lld without standbys, 0 with\n",
                          static_cast<long long>(reports[0].records_restored));
  }
  return out;
}

std::string FailoverJson(const std::vector<FailoverReport>& reports) {
  nlohmann::json json = nlohmann::json::array();
  for (const FailoverReport& report : reports) {
    nlohmann::json moved = nlohmann::json::array();
    for (const MovedTask& task : report.moved) {
      moved.push_back({{"task", task.task},
                       {"from", task.from},
                       {"to", task.to},
                       {"standby_on_new_owner", task.standby_on_new_owner},
                       {"standby_lag", task.standby_lag},
                       {"restored", task.restored},
                       {"failover_ms", task.failover_ms}});
    }
    json.push_back({{"num_standby_replicas", report.standby_replicas},
                    {"fill_records", report.fill_records},
                    {"stream_records", report.stream_records},
                    {"state_changelog_records", report.state_changelog_records},
                    {"records_restored", report.records_restored},
                    {"failover_ms_median", report.failover_ms_median},
                    {"failover_ms_max", report.failover_ms_max},
                    {"rejoin_ms", report.rejoin_ms},
                    {"assignments_lost", report.assignments_lost},
                    {"task_migrations", report.task_migrations},
                    {"moved", moved}});
  }
  return json.dump(2) + "\n";
}

}  // namespace weir::bench
