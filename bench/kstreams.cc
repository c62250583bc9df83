#include "bench/kstreams.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/compare.h"
#include "bench/html_report.h"
#include "bench/measure.h"
#include "bench/processes.h"
#include "common/clock.h"
#include "common/http_client.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_admin.h"
#include "engine/runtime/app_config.h"
#include "topologies/payment.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr char kTokenKey[] = "weir-bench-kstreams-token-key";

// The loadgen file, each line with the key a producer gives it (its card) and its txn_id.
struct Payments {
  std::vector<std::string> lines;
  std::vector<std::string> keys;
  std::unordered_map<std::string, size_t> index_of_txn;  // live-phase payments only
};

absl::StatusOr<Payments> ReadPayments(const std::string& path, size_t live_from) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read it"));
  Payments payments;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    payments.keys.push_back(fraud::ExtractCard(line).value_or(""));
    payments.lines.push_back(std::move(line));
  }
  for (size_t i = live_from; i < payments.lines.size(); ++i) {
    const nlohmann::json payment = nlohmann::json::parse(payments.lines[i], nullptr, false);
    if (payment.is_object() && payment.contains("txn_id") && payment["txn_id"].is_string()) {
      payments.index_of_txn[payment["txn_id"].get<std::string>()] = i;
    }
  }
  return payments;
}

// Produces payments keyed by card with murmur2 (Java's partitioner), in the file's order per
// partition (idempotent: without it, a batch retried while a new topic's leader is elected
// lands after later ones, and both systems then see another story), noting each one's append
// time on the broker (the topics use LogAppendTime) from its delivery report.
class Loader {
 public:
  static absl::StatusOr<std::unique_ptr<Loader>> Open(const std::string& bootstrap,
                                                      size_t records) {
    auto loader = std::unique_ptr<Loader>(new Loader());
    loader->append_ms_.assign(records, -1);
    WEIR_ASSIGN_OR_RETURN(KafkaConf conf,
                          BuildKafkaConf({.bootstrap_servers = bootstrap,
                                          .common = {{"partitioner", "murmur2_random"},
                                                     {"linger.ms", "20"},
                                                     {"batch.size", "1000000"},
                                                     {"compression.type", "lz4"},
                                                     // In order even when a batch to a
                                                     // new topic is retried.
                                                     {"enable.idempotence", "true"}}},
                                         ClientKind::kProducer));
    rd_kafka_conf_set_opaque(conf.get(), loader.get());
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &Loader::Delivered);
    WEIR_ASSIGN_OR_RETURN(loader->producer_, NewKafkaClient(std::move(conf), ClientKind::kProducer));
    return loader;
  }

  // Produces payments [from, to) to `topic`, at `rate` per second (0: as fast as it can).
  absl::Status Produce(const Payments& payments, const std::string& topic, size_t from, size_t to,
                       double rate) {
    const auto start = Clock::now();
    for (size_t i = from; i < to; ++i) {
      if (rate > 0) {
        std::this_thread::sleep_until(
            start + std::chrono::microseconds(static_cast<int64_t>((i - from) * 1e6 / rate)));
      }
      const std::string& key = payments.keys[i];
      const std::string& value = payments.lines[i];
      while (rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                               RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer_.get(), 10);
      }
      rd_kafka_poll(producer_.get(), 0);
    }
    if (rd_kafka_flush(producer_.get(), 300'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::DeadlineExceededError(absl::StrCat("producing to ", topic, " did not finish"));
    }
    if (!first_error_.empty()) {
      return absl::InternalError(absl::StrCat("producing to ", topic, ": ", first_error_));
    }
    return absl::OkStatus();
  }

  int64_t append_ms(size_t i) const { return append_ms_[i]; }

 private:
  Loader() = default;
  static void Delivered(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<Loader*>(opaque);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (self->first_error_.empty()) self->first_error_ = rd_kafka_err2str(message->err);
      return;
    }
    rd_kafka_timestamp_type_t type;
    self->append_ms_[reinterpret_cast<size_t>(message->_private)] =
        rd_kafka_message_timestamp(message, &type);
  }
  KafkaHandle producer_;
  std::vector<int64_t> append_ms_;
  std::string first_error_;
};

// The offsets a group has committed on a topic, read with one client for the whole run (it
// never subscribes, so it never joins the group).
class CommitWatcher {
 public:
  static absl::StatusOr<CommitWatcher> Open(const std::string& bootstrap,
                                            const std::string& group, const std::string& topic,
                                            int partitions) {
    WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf({.bootstrap_servers = bootstrap,
                                                          .common = {{"group.id", group}}},
                                                         ClientKind::kConsumer));
    WEIR_ASSIGN_OR_RETURN(KafkaHandle consumer,
                          NewKafkaClient(std::move(conf), ClientKind::kConsumer));
    return CommitWatcher(std::move(consumer), topic, partitions);
  }
  // Records committed on the topic's partitions, summed; -1 when unreadable.
  int64_t Committed() {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions_);
    for (int p = 0; p < partitions_; ++p) {
      rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
    }
    int64_t total = -1;
    if (rd_kafka_committed(consumer_.get(), list, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      total = 0;
      for (int i = 0; i < list->cnt; ++i) total += std::max<int64_t>(list->elems[i].offset, 0);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return total;
  }

 private:
  CommitWatcher(KafkaHandle consumer, std::string topic, int partitions)
      : consumer_(std::move(consumer)), topic_(std::move(topic)), partitions_(partitions) {}
  KafkaHandle consumer_;
  std::string topic_;
  int partitions_;
};

// A record read back from a topic: its value and its timestamp (the broker's append time).
struct ReadRecord {
  std::string value;
  int64_t timestamp = 0;
};

absl::StatusOr<std::vector<ReadRecord>> ReadTopic(const std::string& bootstrap,
                                                  const std::string& topic, int partitions) {
  WEIR_ASSIGN_OR_RETURN(
      KafkaConf conf,
      BuildKafkaConf({.bootstrap_servers = bootstrap,
                      .common = {{"group.id", absl::StrCat(topic, "-reader")},
                                 {"enable.partition.eof", "true"},
                                 {"enable.auto.commit", "false"}}},
                     ClientKind::kConsumer));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle consumer, NewKafkaClient(std::move(conf), ClientKind::kConsumer));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<ReadRecord> records;
  std::set<int32_t> at_end;
  const auto deadline = Clock::now() + std::chrono::minutes(5);
  while (static_cast<int>(at_end.size()) < partitions) {
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("reading ", topic, " did not reach its end"));
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer.get(), 500);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.insert(message->partition);
    } else if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      at_end.erase(message->partition);
      rd_kafka_timestamp_type_t type;
      records.push_back({std::string(static_cast<const char*>(message->payload), message->len),
                         rd_kafka_message_timestamp(message, &type)});
    } else {
      const std::string error = rd_kafka_message_errstr(message);
      rd_kafka_message_destroy(message);
      return absl::InternalError(absl::StrCat("reading ", topic, ": ", error));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer.get());
  return records;
}

// CPU seconds (user + system) a process has used so far.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  // Fields from the third (state): utime and stime are the 14th and 15th of the line.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The process's peak resident set (VmHWM), bytes.
int64_t PeakRss(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, "VmHWM:")) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

// Runs a command to completion, its output in `log`.
absl::Status RunToEnd(const std::vector<std::string>& argv, const std::string& log,
                      std::chrono::minutes timeout) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::StartLogged(argv, log));
  const int status = child->Wait(timeout).value_or(-1);
  if (status != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " ", argv.size() > 1 ? argv[1] : "",
                                            " exited with ", status, "; see ", log));
  }
  return absl::OkStatus();
}

// The peer's Kafka Streams version, as its pom pins it.
std::string PeerKafkaVersion(const std::string& peer_dir) {
  std::ifstream in(fs::path(peer_dir) / "pom.xml");
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("<kafka.version>");
    if (at != std::string::npos) {
      const size_t from = at + 15;
      return line.substr(from, line.find('<', from) - from);
    }
  }
  return "?";
}

// Builds the peer into `out` (offline when Maven already has everything) and returns its
// classpath.
absl::StatusOr<std::string> BuildPeer(const KStreamsOptions& options, const fs::path& out) {
  const std::string pom = (fs::path(options.peer_dir) / "pom.xml").string();
  if (!fs::exists(pom)) {
    return absl::NotFoundError(absl::StrCat(pom, ": the Kafka Streams peer is missing (run from "
                                            "the repository root or pass --peer-dir)"));
  }
  const std::string log = (out.parent_path() / "peer-build.log").string();
  std::vector<std::string> argv = {"mvn",     "-q", "-B",          "-f", pom, "package",
                                   "-DskipTests", absl::StrCat("-Dpeer.build.dir=", out.string())};
  std::vector<std::string> offline = argv;
  offline.insert(offline.begin() + 1, "-o");
  if (!RunToEnd(offline, log, std::chrono::minutes(10)).ok()) {
    WEIR_RETURN_IF_ERROR(RunToEnd(argv, log, std::chrono::minutes(20)));
  }
  return absl::StrCat((out / "weir-kstreams-peer.jar").string(), ":", (out / "lib/*").string());
}

struct Broker {
  std::string bootstrap;
  std::string dir;  // set when this run started it
};

absl::StatusOr<Broker> StartBroker(const KStreamsOptions& options, const fs::path& work) {
  if (!options.bootstrap_servers.empty()) return Broker{options.bootstrap_servers, ""};
  const fs::path dir = work / "kafka";
  spdlog::info("kstreams: starting a Kafka broker with {} in {}", options.kafka_script,
               dir.string());
  WEIR_RETURN_IF_ERROR(RunToEnd({options.kafka_script, "start", dir.string()},
                                (work / "kafka-start.log").string(), std::chrono::minutes(10)));
  std::ifstream in(dir / "bootstrap");
  std::string bootstrap;
  std::getline(in, bootstrap);
  if (bootstrap.empty()) return absl::InternalError(absl::StrCat(dir.string(), "/bootstrap is empty"));
  return Broker{bootstrap, dir.string()};
}

struct RunTopics {
  std::string prefix, payments, alerts, dlq;
};

absl::Status CreateRunTopics(const std::string& bootstrap, const RunTopics& topics,
                             int partitions) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf({.bootstrap_servers = bootstrap},
                                                       ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle admin, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  const std::map<std::string, std::string> append_time = {
      {"message.timestamp.type", "LogAppendTime"}};
  return CreateTopics(admin.get(),
                      {{.name = topics.payments, .partitions = partitions, .config = append_time},
                       {.name = topics.alerts, .partitions = partitions, .config = append_time},
                       {.name = topics.dlq, .partitions = partitions}},
                      -1);
}

int64_t TopicRecords(const std::string& bootstrap, const std::string& topic, int partitions) {
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = bootstrap}, ClientKind::kConsumer);
  if (!conf.ok()) return -1;
  absl::StatusOr<KafkaHandle> client = NewKafkaClient(*std::move(conf), ClientKind::kConsumer);
  if (!client.ok()) return -1;
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (!QueryWatermarks(client->get(), topic, p, &low, &high).ok()) return -1;
    total += high - low;
  }
  return total;
}

// The system's process, started on the run's topics from empty state.
absl::StatusOr<std::unique_ptr<Subprocess>> StartSystem(const KStreamsOptions& options,
                                                   const std::string& system, int threads,
                                                   const std::string& bootstrap,
                                                   const RunTopics& topics, const fs::path& dir,
                                                   const std::string& peer_classpath) {
  const std::string state = (dir / "state").string();
  const std::string log = (dir / "process.log").string();
  if (system == "weir") {
    WEIR_ASSIGN_OR_RETURN(const AppConfig app, LoadAppConfig(options.config_path, {}));
    const std::string fraud = (dir / "fraud.yaml").string();
    WEIR_RETURN_IF_ERROR(WriteRenamedFraudConfig(app.topology_config, fraud, topics.payments,
                                                 topics.alerts, topics.dlq));
    std::vector<std::string> argv = {options.weir_binary, "run", "--config", options.config_path,
                                     "--progress-interval", "10"};
    for (const std::string& setting :
         {absl::StrCat("bootstrap.servers=", bootstrap),
          absl::StrCat("application.id=", topics.prefix), absl::StrCat("topology.config=", fraud),
          absl::StrCat("state.dir=", state), std::string("metrics.host=127.0.0.1"),
          std::string("metrics.port=0"), absl::StrCat("num.stream.threads=", threads),
          std::string("num.standby.replicas=0"),
          absl::StrCat("commit.interval.ms=", options.commit_interval_ms)}) {
      argv.push_back("--set");
      argv.push_back(setting);
    }
    return Subprocess::StartLogged(argv, log);
  }
  std::vector<std::string> argv = {"java"};
  argv.insert(argv.end(), options.jvm_options.begin(), options.jvm_options.end());
  for (const std::string& arg :
       {std::string("-cp"), peer_classpath, std::string("dev.weir.peer.Main"),
        std::string("--bootstrap-servers"), bootstrap, std::string("--application-id"),
        topics.prefix, std::string("--threads"), absl::StrCat(threads),
        std::string("--state-dir"), state, std::string("--commit-interval-ms"),
        absl::StrCat(options.commit_interval_ms), std::string("--rocksdb-memory-bytes"),
        absl::StrCat(options.rocksdb_memory_bytes), std::string("--payments"), topics.payments,
        std::string("--alerts"), topics.alerts, std::string("--dlq"), topics.dlq}) {
    argv.push_back(arg);
  }
  return Subprocess::StartLogged(argv, log);
}

// A running system under test: its process and log, and the group commits it makes.
struct SystemUnderTest {
  std::string system;
  std::unique_ptr<Subprocess> process;
  std::string log;
  CommitWatcher& watcher;

  // Waits until the group has committed `records`, calling `on_commit` with each new figure.
  absl::Status WaitCommitted(int64_t records, const std::function<void(int64_t)>& on_commit) {
    int64_t last = -1;
    bool exited = false;
    const bool committed_all = WaitFor(
        [&] {
          exited = process->Wait(std::chrono::milliseconds(0)).has_value();
          if (exited) return true;
          const int64_t committed = watcher.Committed();
          if (committed > last) {
            on_commit(committed);
            last = committed;
          }
          return committed >= records;
        },
        std::chrono::minutes(60), std::chrono::milliseconds(100));
    if (exited) return absl::InternalError(absl::StrCat(system, " exited early; see ", log));
    if (committed_all) return absl::OkStatus();
    return absl::DeadlineExceededError(absl::StrCat(
        system, " committed ", last, " of ", records, " payments in 60 min; see ", log));
  }

  // SIGTERM, then a clean close: weir exits 0, a JVM 128 + SIGTERM once its shutdown hooks
  // (the peer's clean close) are done.
  absl::Status Stop() {
    process->Signal(SIGTERM);
    const int clean = system == "weir" ? 0 : 128 + SIGTERM;
    if (const int status = process->Wait(std::chrono::minutes(2)).value_or(-1); status != clean) {
      return absl::InternalError(absl::StrCat(system, " did not close cleanly (status ", status,
                                              "); see ", log));
    }
    return absl::OkStatus();
  }
};

// The catch-up phase: throughput and CPU from the group's first commit to the one covering
// every catch-up payment.
absl::Status TimeCatchUp(SystemUnderTest& sut, int threads, size_t catch_up, KStreamsRun& run) {
  int64_t first_committed = -1, first_ms = 0, last_ms = 0, last_progress_ms = 0;
  double first_cpu = 0, last_cpu = 0;
  WEIR_RETURN_IF_ERROR(sut.WaitCommitted(static_cast<int64_t>(catch_up), [&](int64_t committed) {
    const int64_t now = WallClockMs();
    if (first_committed < 0 && committed > 0) {
      first_committed = committed;
      first_ms = now;
      first_cpu = CpuSeconds(sut.process->pid());
    }
    last_ms = now;
    last_cpu = CpuSeconds(sut.process->pid());
    if (now - last_progress_ms >= 10'000) {
      spdlog::info("kstreams: {} with {} thread(s): {} of {} committed", sut.system, threads,
                   committed, catch_up);
      last_progress_ms = now;
    }
  }));
  run.catch_up_records = static_cast<int64_t>(catch_up) - first_committed;
  run.catch_up_seconds = static_cast<double>(last_ms - first_ms) / 1000.0;
  run.cpu_seconds = last_cpu - first_cpu;
  if (run.catch_up_seconds > 0) {
    run.records_per_s = static_cast<double>(run.catch_up_records) / run.catch_up_seconds;
    run.records_per_s_per_thread = run.records_per_s / threads;
  }
  return absl::OkStatus();
}

// The run's alerts by alert_id, and the latency of those whose payment was appended live (alert
// append time minus payment append time).
absl::Status ReadAlerts(const KStreamsOptions& options, const std::string& bootstrap,
                        const RunTopics& topics, const Payments& payments, const Loader& loader,
                        KStreamsRun& run) {
  WEIR_ASSIGN_OR_RETURN(std::vector<ReadRecord> alerts,
                        ReadTopic(bootstrap, topics.alerts, options.partitions));
  std::vector<double> latencies;
  for (ReadRecord& alert : alerts) {
    const nlohmann::json json = nlohmann::json::parse(alert.value, nullptr, false);
    if (!json.is_object() || !json.contains("alert_id") || !json.contains("txn_id")) {
      return absl::InternalError(absl::StrCat(run.system, " wrote an alert that is not one: ",
                                              alert.value.substr(0, 200)));
    }
    const auto payment = payments.index_of_txn.find(json["txn_id"].get<std::string>());
    if (payment != payments.index_of_txn.end() && loader.append_ms(payment->second) > 0) {
      latencies.push_back(static_cast<double>(alert.timestamp - loader.append_ms(payment->second)));
    }
    run.alerts[json["alert_id"].get<std::string>()] = std::move(alert.value);
  }
  run.latency_samples = static_cast<int64_t>(latencies.size());
  run.latency_p50_ms = Percentile(latencies, 0.50);
  run.latency_p99_ms = Percentile(latencies, 0.99);
  return absl::OkStatus();
}

absl::StatusOr<KStreamsRun> RunOne(const KStreamsOptions& options, const std::string& system,
                                   int threads, const std::string& bootstrap,
                                   const Payments& payments, const fs::path& work,
                                   const std::string& nonce, const std::string& peer_classpath) {
  const std::string name = absl::StrCat(system == "weir" ? "weir" : "kstreams", "-", threads);
  const fs::path dir = work / name;
  fs::create_directories(dir);
  RunTopics topics;
  topics.prefix = absl::StrCat("kstreams-bench-", nonce, "-", name);
  topics.payments = topics.prefix + "-payments";
  topics.alerts = topics.prefix + "-fraud-alerts";
  topics.dlq = topics.prefix + "-payments-dlq";
  WEIR_RETURN_IF_ERROR(CreateRunTopics(bootstrap, topics, options.partitions));

  const size_t total = payments.lines.size();
  const size_t live = std::min<size_t>(static_cast<size_t>(options.latency_records), total / 2);
  const size_t catch_up = total - live;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Loader> loader, Loader::Open(bootstrap, total));
  spdlog::info("kstreams: {} with {} thread(s): producing {} payments to {}", system, threads,
               catch_up, topics.payments);
  WEIR_RETURN_IF_ERROR(loader->Produce(payments, topics.payments, 0, catch_up, 0));

  KStreamsRun run{.system = system,
                  .version = system == "weir" ? std::string(BuildType())
                                              : PeerKafkaVersion(options.peer_dir),
                  .threads = threads};
  WEIR_ASSIGN_OR_RETURN(CommitWatcher watcher,
                        CommitWatcher::Open(bootstrap, topics.prefix, topics.payments,
                                            options.partitions));
  SystemUnderTest sut{.system = system, .log = (dir / "process.log").string(), .watcher = watcher};
  WEIR_ASSIGN_OR_RETURN(sut.process, StartSystem(options, system, threads, bootstrap, topics, dir,
                                                 peer_classpath));
  WEIR_RETURN_IF_ERROR(TimeCatchUp(sut, threads, catch_up, run));

  spdlog::info("kstreams: {} with {} thread(s): {} live payments at {}/s", system, threads, live,
               options.latency_rate);
  WEIR_RETURN_IF_ERROR(
      loader->Produce(payments, topics.payments, catch_up, total, options.latency_rate));
  WEIR_RETURN_IF_ERROR(sut.WaitCommitted(static_cast<int64_t>(total), [](int64_t) {}));
  run.peak_rss_bytes = PeakRss(sut.process->pid());
  WEIR_RETURN_IF_ERROR(sut.Stop());
  run.state_bytes = DirectoryBytes(dir / "state");
  WEIR_RETURN_IF_ERROR(ReadAlerts(options, bootstrap, topics, payments, *loader, run));
  run.dead_letters = TopicRecords(bootstrap, topics.dlq, options.partitions);
  spdlog::info("kstreams: {} with {} thread(s): {:.0f} records/s, {} alerts", system, threads,
               run.records_per_s, run.alerts.size());
  return run;
}

void CompareAlerts(KStreamsReport& report) {
  std::set<std::string> ids;
  for (const KStreamsRun& run : report.runs) {
    for (const auto& [id, json] : run.alerts) ids.insert(id);
  }
  for (const std::string& id : ids) {
    std::string problem;
    const std::string* first = nullptr;
    std::string first_where;
    for (const KStreamsRun& run : report.runs) {
      const auto it = run.alerts.find(id);
      const std::string where = absl::StrCat(run.system, " with ", run.threads, " thread(s)");
      if (it == run.alerts.end()) {
        absl::StrAppend(&problem, problem.empty() ? "" : "; ", "missing from ", where);
      } else if (first == nullptr) {
        first = &it->second;
        first_where = where;
      } else if (it->second != *first) {
        absl::StrAppend(&problem, problem.empty() ? "" : "; ", where, " wrote ", it->second);
      }
    }
    if (!problem.empty() && first != nullptr) {
      absl::StrAppend(&problem, "; ", first_where, " wrote ", *first);
    }
    if (problem.empty()) {
      ++report.identical_alerts;
    } else {
      ++report.differing_alerts;
      if (report.differences.size() < 20) report.differences.push_back(id + ": " + problem);
    }
  }
}

const KStreamsRun* FindRun(const KStreamsReport& report, const std::string& system, int threads) {
  for (const KStreamsRun& run : report.runs) {
    if (run.system == system && run.threads == threads) return &run;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<KStreamsReport> RunKStreams(const KStreamsOptions& options) {
  if (options.records < 2 || options.cards < 1 || options.threads.empty()) {
    return absl::InvalidArgumentError("kstreams: records >= 2, cards >= 1 and a thread count");
  }
  const fs::path work = options.work_dir;
  std::error_code ignored;
  fs::remove_all(work, ignored);
  fs::create_directories(work);
  setenv("WEIR_CARD_TOKEN_KEY", kTokenKey, 1);  // both systems inherit it: same tokens

  const std::string file = (work / "payments.jsonl").string();
  spdlog::info("kstreams: generating {} payments over {} cards", options.records, options.cards);
  WEIR_RETURN_IF_ERROR(RunToEnd({options.weir_binary, "loadgen", "--records",
                                 absl::StrCat(options.records), "--cards",
                                 absl::StrCat(options.cards), "--seed", absl::StrCat(options.seed),
                                 "--rate", "0", "--progress-interval", "0", "--output", file},
                                (work / "loadgen.log").string(), std::chrono::minutes(30)));
  const size_t live = std::min<size_t>(static_cast<size_t>(options.latency_records),
                                       static_cast<size_t>(options.records) / 2);
  WEIR_ASSIGN_OR_RETURN(const Payments payments,
                        ReadPayments(file, static_cast<size_t>(options.records) - live));

  std::string peer_classpath;
  if (std::find(options.systems.begin(), options.systems.end(), "kafka-streams") !=
      options.systems.end()) {
    spdlog::info("kstreams: building the Kafka Streams peer ({})", options.peer_dir);
    WEIR_ASSIGN_OR_RETURN(peer_classpath, BuildPeer(options, work / "peer"));
  }
  WEIR_ASSIGN_OR_RETURN(const Broker broker, StartBroker(options, work));
  KStreamsReport report{.options = options};
  const std::string nonce = absl::StrCat(WallClockMs() % 100'000'000);
  absl::Status status;
  for (int threads : options.threads) {
    for (const std::string& system : options.systems) {
      absl::StatusOr<KStreamsRun> run =
          RunOne(options, system, threads, broker.bootstrap, payments, work, nonce, peer_classpath);
      if (!run.ok()) {
        status = run.status();
        break;
      }
      report.runs.push_back(*std::move(run));
    }
    if (!status.ok()) break;
  }
  if (!broker.dir.empty()) {
    RunToEnd({options.kafka_script, "stop", broker.dir}, (work / "kafka-stop.log").string(),
             std::chrono::minutes(3))
        .IgnoreError();
  }
  WEIR_RETURN_IF_ERROR(status);
  CompareAlerts(report);
  std::vector<double> ratios;
  for (int threads : options.threads) {
    const KStreamsRun* weir = FindRun(report, "weir", threads);
    const KStreamsRun* peer = FindRun(report, "kafka-streams", threads);
    if (weir != nullptr && peer != nullptr && peer->records_per_s_per_thread > 0) {
      ratios.push_back(weir->records_per_s_per_thread / peer->records_per_s_per_thread);
    }
  }
  if (!ratios.empty()) {
    double sum = 0;
    for (double r : ratios) sum += r;
    report.throughput_ratio = sum / static_cast<double>(ratios.size());
  }
  return report;
}

std::string KStreamsTable(const KStreamsReport& report) {
  const KStreamsOptions& o = report.options;
  std::string out = absl::StrFormat(
      "%d payments over %d cards (seed %d), %d partitions; live phase: the last %d at %g/s\n\n",
      o.records, o.cards, o.seed, o.partitions, o.latency_records, o.latency_rate);
  absl::StrAppendFormat(&out, "%-14s %-15s %7s %10s %11s %7s %9s %8s %8s %8s %7s %6s\n", "system",
                        "version", "threads", "records/s", "per thread", "CPU s", "peak RSS",
                        "state", "p50 ms", "p99 ms", "alerts", "DLQ");
  for (const KStreamsRun& r : report.runs) {
    absl::StrAppendFormat(&out, "%-14s %-15s %7d %10.0f %11.0f %7.1f %6.0f MB %5.0f MB %8.1f %8.1f %7d %6d\n",
                          r.system, r.version, r.threads, r.records_per_s,
                          r.records_per_s_per_thread, r.cpu_seconds, r.peak_rss_bytes / 1048576.0,
                          r.state_bytes / 1048576.0, r.latency_p50_ms, r.latency_p99_ms,
                          r.alerts.size(), r.dead_letters);
  }
  for (const std::string& difference : report.differences) {
    absl::StrAppend(&out, "  differs: ", difference, "\n");
  }
  absl::StrAppendFormat(&out,
                        "weir/kafka-streams throughput per thread: %.2fx; alerts: %d identical, "
                        "%d differ\n",
                        report.throughput_ratio, report.identical_alerts,
                        report.differing_alerts);
  return out;
}

std::string KStreamsJson(const KStreamsReport& report) {
  const KStreamsOptions& o = report.options;
  nlohmann::json runs = nlohmann::json::array();
  for (const KStreamsRun& r : report.runs) {
    runs.push_back({{"system", r.system},
                    {"version", r.version},
                    {"threads", r.threads},
                    {"catch_up_records", r.catch_up_records},
                    {"catch_up_seconds", r.catch_up_seconds},
                    {"records_per_s", r.records_per_s},
                    {"records_per_s_per_thread", r.records_per_s_per_thread},
                    {"cpu_seconds", r.cpu_seconds},
                    {"peak_rss_bytes", r.peak_rss_bytes},
                    {"state_bytes", r.state_bytes},
                    {"latency_samples", r.latency_samples},
                    {"latency_p50_ms", r.latency_p50_ms},
                    {"latency_p99_ms", r.latency_p99_ms},
                    {"alerts", r.alerts.size()},
                    {"dead_letters", r.dead_letters}});
  }
  const nlohmann::json json = {{"records", o.records},
                               {"cards", o.cards},
                               {"seed", o.seed},
                               {"partitions", o.partitions},
                               {"latency_records", o.latency_records},
                               {"latency_rate", o.latency_rate},
                               {"commit_interval_ms", o.commit_interval_ms},
                               {"jvm_options", o.jvm_options},
                               {"peer_rocksdb_memory_bytes", o.rocksdb_memory_bytes},
                               {"runs", runs},
                               {"identical_alerts", report.identical_alerts},
                               {"differing_alerts", report.differing_alerts},
                               {"differences", report.differences},
                               {"throughput_ratio_per_thread", report.throughput_ratio}};
  return json.dump(2) + "\n";
}

std::string KStreamsHtml(const KStreamsReport& report) {
  const KStreamsOptions& o = report.options;
  HtmlReport page("weir bench kstreams");
  page.Paragraph(absl::StrFormat(
      "%d payments over %d cards (seed %d) from `weir loadgen`, on a real Kafka broker, %d "
      "partitions (murmur2); each system from empty state on its own topics. Throughput: "
      "records committed by the consumer group from its first commit to the one covering all "
      "but the last %d payments, which then arrive at %g/s: the latency columns are those "
      "alerts' broker append time minus their payment's. weir built as %s; Kafka Streams with "
      "JVM options `%s` and a %d-byte shared RocksDB cache.",
      o.records, o.cards, o.seed, o.partitions, o.latency_records, o.latency_rate, BuildType(),
      absl::StrJoin(o.jvm_options, " "), o.rocksdb_memory_bytes));
  std::vector<std::vector<std::string>> rows;
  for (const KStreamsRun& r : report.runs) {
    rows.push_back({r.system, r.version, absl::StrCat(r.threads),
                    absl::StrFormat("%.0f", r.records_per_s),
                    absl::StrFormat("%.0f", r.records_per_s_per_thread),
                    absl::StrFormat("%.1f", r.cpu_seconds),
                    absl::StrFormat("%.0f", r.peak_rss_bytes / 1048576.0),
                    absl::StrFormat("%.0f", r.state_bytes / 1048576.0),
                    absl::StrFormat("%.1f", r.latency_p50_ms),
                    absl::StrFormat("%.1f", r.latency_p99_ms), absl::StrCat(r.alerts.size()),
                    absl::StrCat(r.dead_letters)});
  }
  page.Table({"system", "version", "threads", "records/s", "records/s per thread", "CPU s",
              "peak RSS MB", "state MB", "p50 ms", "p99 ms", "alerts", "dead letters"},
             rows);
  page.Paragraph(absl::StrFormat(
      "weir/kafka-streams throughput per thread: %.2fx; alerts: %d identical, %d differ.",
      report.throughput_ratio, report.identical_alerts, report.differing_alerts));
  page.List(report.differences, /*code=*/true);
  return page.Render();
}

}  // namespace weir::bench
