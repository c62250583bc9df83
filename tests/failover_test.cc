// Scale-out and failover: three `weir run` instances of the fraud application share twelve
// partitions on `weir broker`; one is killed with SIGKILL mid-stream (bench/failover.h drives
// the processes). Every partition must resume on the survivors, and every alert an
// uninterrupted replay of the same payments raises must be on the alerts topic (duplicates
// are allowed under at-least-once, and counted). With one standby replica, the tasks that
// found a caught-up standby on their new owner must restore at most acceptable.recovery.lag
// changelog records; without standbys they restore their changelogs.
#include "bench/failover.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_offsets.h"
#include "tests/support/alerts.h"
#include "tests/support/broker_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"

namespace weir {
namespace {

using test::AlertIdCounts;
using test::Subprocess;
using test::WaitFor;
using test::RunCommand;
using test::WeirBinary;

constexpr int64_t kRecords = 50'000;
constexpr double kRate = 2'000;  // 25 s of stream
constexpr int64_t kStartTs = 1'732'269'900'000;
constexpr uint64_t kSeed = 7;
constexpr int64_t kCards = 5'000;
constexpr int64_t kAcceptableLag = 10'000;


// What an uninterrupted run raises over the stream the bench produces (`records` payments of
// the constants above): the same payments through `weir replay`, alert_id -> count, in
// `expected`. Files go to `dir`.
void ExpectedAlerts(const std::filesystem::path& dir, int64_t records,
                    std::map<std::string, int>* expected) {
  const std::string payments = (dir / "payments.jsonl").string();
  const std::string expected_path = (dir / "expected.jsonl").string();
  ASSERT_EQ(RunCommand({WeirBinary(), "loadgen", "--records", absl::StrCat(records), "--rate",
                        absl::StrCat(kRate), "--cards", absl::StrCat(kCards), "--seed",
                        absl::StrCat(kSeed), "--start-ts", absl::StrCat(kStartTs), "--output",
                        payments, "--progress-interval", "0"},
                       "", std::chrono::seconds(120))
                .exit_status,
            0);
  ASSERT_EQ(RunCommand({WeirBinary(), "replay", "--input", payments, "--output", expected_path}, "",
                       std::chrono::seconds(300))
                .exit_status,
            0);
  *expected = AlertIdCounts(test::ReadFile(expected_path));
  ASSERT_GT(expected->size(), 50u) << "the workload should raise alerts";
}

class Failover : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            absl::StrCat("weir-failover-", ::getpid(), "-", GetParam());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    setenv("WEIR_CARD_TOKEN_KEY", "failover-secret", 1);  // children inherit it
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }
  std::filesystem::path root_;
};

TEST_P(Failover, KillingOneOfThreeInstancesLosesNoAlert) {
  const int replicas = GetParam();
  // Without standbys the survivors restore from the changelogs: a path the real broker's run
  // covers (ctest -L kafka); the embedded broker's twin would add a minute of serial time to
  // the suite for the same code.
  if (replicas == 0 && !test::RealKafkaBootstrap()) {
    GTEST_SKIP() << "without standbys on the real broker only (ctest -L kafka)";
  }
  std::map<std::string, int> expected;
  ASSERT_NO_FATAL_FAILURE(ExpectedAlerts(root_, kRecords, &expected));

  std::string alerts;
  std::string status;  // `weir status --json` once everything is processed
  bench::FailoverOptions options{.weir_binary = WeirBinary(),
                                 .work_dir = (root_ / "run").string(),
                                 .instances = 3,
                                 .partitions = 12,
                                 .standby_replicas = replicas,
                                 .stream_records = kRecords,
                                 .rate = kRate,
                                 .start_ts = kStartTs,
                                 .kill_after_s = 4,
                                 .cards = kCards,
                                 .seed = kSeed,
                                 .session_timeout_ms = 4'000,
                                 .acceptable_recovery_lag = kAcceptableLag};
  options.before_stop = [&alerts, &status](const std::string& bootstrap,
                                           const std::string& alerts_topic) {
    const test::CommandResult read =
        RunCommand({"kcat", "-b", bootstrap, "-C", "-t", alerts_topic, "-o", "beginning", "-e",
                    "-q", "-f", "%s\n"},
                   "", std::chrono::seconds(120));
    EXPECT_EQ(read.exit_status, 0) << read.err;
    alerts = read.out;
    const test::CommandResult view = RunCommand(
        {WeirBinary(), "status", "--json", "--set", absl::StrCat("bootstrap.servers=", bootstrap),
         "--set", absl::StrCat("application.id=", bench::kFailoverApplication)},
        "", std::chrono::seconds(60));
    EXPECT_EQ(view.exit_status, 0) << view.err;
    status = view.out;
  };
  // On a real cluster (ctest -L kafka): the brokers' group.min.session.timeout.ms is Kafka's
  // 6 s, and the failover must finish within a session timeout + 5 s of the kill.
  const std::optional<std::string> real = test::RealKafkaBootstrap();
  if (real) {
    options.bootstrap_servers = *real;
    options.session_timeout_ms = 6'000;
  }
  absl::StatusOr<bench::FailoverReport> report = bench::RunFailover(options);
  ASSERT_TRUE(report.ok()) << report.status() << " (logs kept in " << root_ << ")";
  std::printf("%s", bench::FailoverTable({*report}).c_str());

  // No alert lost; duplicates counted.
  const std::map<std::string, int> actual = AlertIdCounts(alerts);
  int missing = 0;
  int64_t duplicates = 0;
  for (const auto& [id, count] : expected) {
    if (!actual.contains(id)) ++missing;
  }
  for (const auto& [id, count] : actual) duplicates += count - 1;
  std::printf("alerts: %zu expected, %zu distinct delivered, %d missing, %lld duplicates\n",
              expected.size(), actual.size(), missing, static_cast<long long>(duplicates));
  RecordProperty("duplicate_alerts", static_cast<int>(duplicates));
  EXPECT_EQ(missing, 0) << "alerts of the uninterrupted replay missing after the failover";
  for (const auto& [id, count] : actual) {
    EXPECT_TRUE(expected.contains(id)) << "an alert the replay did not raise: " << id;
  }

  // `weir status` sees the two survivors (the dead instance's heartbeat has expired) running
  // all 12 tasks between them.
  const nlohmann::json instances = nlohmann::json::parse(status, nullptr, false);
  ASSERT_TRUE(instances.is_array()) << status;
  EXPECT_EQ(instances.size(), 2u) << status;
  std::set<std::string> running;
  for (const nlohmann::json& instance : instances) {
    EXPECT_NE(instance.at("instance").get<std::string>(), report->killed);
    for (const nlohmann::json& task : instance.at("active")) {
      running.insert(task.at("task").get<std::string>());
    }
  }
  EXPECT_EQ(running.size(), 12u) << status;

  if (real) {
    for (const bench::MovedTask& task : report->moved) {
      EXPECT_GE(task.failover_ms, 0) << task.task << " processed nothing on its new owner";
      EXPECT_LE(task.failover_ms, options.session_timeout_ms + 5'000) << task.task;
    }
  }

  // The killed instance's 4 tasks (12 over 3) moved, each to a survivor.
  int from_killed = 0;
  for (const bench::MovedTask& task : report->moved) from_killed += task.from == report->killed;
  EXPECT_EQ(from_killed, 4);
  if (replicas > 0) {
    // Tasks that found a caught-up standby on their new owner restored at most
    // acceptable.recovery.lag records. The placement predicts where `range` sends each task;
    // the prediction holds while the survivors keep their group member ids (they normally do;
    // the embedded broker renews a member's id when its rejoin is late), so at least the
    // dead instance's tasks must have found one.
    int with_standby = 0;
    for (const bench::MovedTask& task : report->moved) {
      if (!task.standby_on_new_owner) continue;
      ++with_standby;
      EXPECT_LE(task.restored, kAcceptableLag) << task.task;
    }
    std::printf("%d of %zu moved tasks found a caught-up standby on their new owner\n",
                with_standby, report->moved.size());
    EXPECT_GE(with_standby, 1) << "the standby placement missed every moved task";
    // The two survivors now keep standbys of each other's tasks, and export them.
    const std::regex updating("weir_state_updater_standby_updating_tasks\\{[^}]*\\} ([0-9.e+]+)");
    std::smatch match;
    ASSERT_TRUE(std::regex_search(report->survivor_metrics, match, updating));
    EXPECT_GT(std::stod(match[1].str()), 0);
    EXPECT_NE(report->survivor_metrics.find("weir_task_update_total{"), std::string::npos);
    EXPECT_NE(report->survivor_metrics.find("weir_task_standby_records_lag{"), std::string::npos);
  } else {
    EXPECT_GT(report->records_restored, 0) << "without standbys the moved tasks restore";
  }
}

INSTANTIATE_TEST_SUITE_P(Standbys, Failover, ::testing::Values(1, 0),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat("Replicas", info.param);
                         });

// The pause trial on a real cluster (ctest -L kafka): one of three instances stopped with
// SIGSTOP for 12 s - past its 6 s session timeout and exactly-once's 10 s transaction timeout,
// as a long pause or a network blip - under load, then resumed. Its producers are fenced and
// its group generation is gone: like Kafka Streams (TaskMigratedException) it must close its
// tasks without committing, make new producers and rejoin, not exit. Every instance must be
// ready again within session timeout + 10 s of the resume, and the alerts must be exactly
// those of an uninterrupted replay: each exactly once under exactly_once_v2 (read_committed),
// each at least once under at_least_once. The parameter: processing.guarantee.
class Pause : public ::testing::TestWithParam<const char*> {};

TEST_P(Pause, AnInstancePausedPastItsSessionRejoinsAndTheOutputHolds) {
  const std::optional<std::string> real = test::RealKafkaBootstrap();
  if (!real) GTEST_SKIP() << "fencing and exactly-once need a real cluster (ctest -L kafka)";
  const bool exactly_once = std::string(GetParam()) == "exactly_once_v2";
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     absl::StrCat("weir-pause-", ::getpid(), "-", GetParam());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  setenv("WEIR_CARD_TOKEN_KEY", "pause-secret", 1);  // children inherit it
  constexpr int64_t kStream = 70'000;  // 35 s at 2,000/s: outlasts the pause and the rejoin
  std::map<std::string, int> expected;
  ASSERT_NO_FATAL_FAILURE(ExpectedAlerts(root, kStream, &expected));

  std::string alerts;
  bench::FailoverOptions options{.weir_binary = WeirBinary(),
                                 .bootstrap_servers = *real,
                                 .overrides = {absl::StrCat("processing.guarantee=", GetParam())},
                                 .work_dir = (root / "run").string(),
                                 .instances = 3,
                                 .partitions = 12,
                                 .standby_replicas = 1,
                                 .stream_records = kStream,
                                 .rate = kRate,
                                 .start_ts = kStartTs,
                                 .kill_after_s = 4,
                                 .pause_s = 12,
                                 .cards = kCards,
                                 .seed = kSeed,
                                 .session_timeout_ms = 6'000};
  options.before_stop = [&alerts](const std::string& bootstrap, const std::string& topic) {
    const test::CommandResult read =
        RunCommand({"kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                    "-X", "isolation.level=read_committed", "-f", "%s\n"},
                   "", std::chrono::seconds(120));
    EXPECT_EQ(read.exit_status, 0) << read.err;
    alerts = read.out;
  };
  absl::StatusOr<bench::FailoverReport> report = bench::RunFailover(options);
  ASSERT_TRUE(report.ok()) << report.status() << " (logs kept in " << root << ")";
  std::printf("every instance ready %lld ms after the resume; lost assignments %lld, task "
              "migrations %lld\n",
              static_cast<long long>(report->rejoin_ms),
              static_cast<long long>(report->assignments_lost),
              static_cast<long long>(report->task_migrations));
  EXPECT_LE(report->rejoin_ms, options.session_timeout_ms + 10'000);
  // Which comes first depends on timing: the consumer finding its assignment lost (the open
  // transaction is then aborted), or the producer finding itself fenced (the coordinator
  // aborted the transaction past transaction.timeout.ms). Either way the group went on.
  EXPECT_GE(report->assignments_lost + report->task_migrations, 1)
      << "the pause cost the instance nothing: the trial tested nothing";

  const std::map<std::string, int> actual = AlertIdCounts(alerts);
  int missing = 0;
  int64_t duplicates = 0;
  for (const auto& [id, count] : expected) missing += actual.contains(id) ? 0 : 1;
  for (const auto& [id, count] : actual) {
    duplicates += count - 1;
    EXPECT_TRUE(expected.contains(id)) << "an alert the replay did not raise: " << id;
  }
  std::printf("alerts: %zu expected, %zu distinct delivered, %d missing, %lld duplicates\n",
              expected.size(), actual.size(), missing, static_cast<long long>(duplicates));
  EXPECT_EQ(missing, 0);
  if (exactly_once) {
    EXPECT_EQ(duplicates, 0) << "exactly_once_v2 delivered an alert twice";
  }
  if (!HasFailure()) std::filesystem::remove_all(root);
}

// Under at_least_once the paused member's late commit reaches the changelogs after the new
// owner's; readers drop it by its writer epoch (engine/runtime/internal/changelog_marker.h).
INSTANTIATE_TEST_SUITE_P(Guarantees, Pause, ::testing::Values("at_least_once", "exactly_once_v2"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

// A DSL application under kill -9 on the real broker (ctest -L kafka): three instances of a
// stream-table join (tests/support/dsl_join_app.cc) share six partitions. The table's 1,000
// rows are processed and committed first; then 30,000 stream records flow at 3,000/s and one
// instance is killed with SIGKILL once 3,000 are committed. Its tasks move to the survivors,
// which restore the table from its changelog (no standbys): every stream record must still be
// joined with its row - at least once, none with a missing or a wrong row.
TEST(JoinFailover, KillingOneOfThreeInstancesLosesNoJoinResult) {
  const std::optional<std::string> real = test::RealKafkaBootstrap();
  if (!real) GTEST_SKIP() << "runs on a real cluster only (ctest -L kafka)";
  constexpr int kPartitions = 6;
  constexpr int kRows = 1'000;
  constexpr int kRecords = 30'000;
  constexpr char kApplication[] = "dsl-join";
  const std::filesystem::path root = std::filesystem::temp_directory_path() /
                                     absl::StrCat("weir-join-failover-", ::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  absl::StatusOr<test::BrokerProcess> broker =
      test::StartBroker({absl::StrCat("join-stream:", kPartitions),
                         absl::StrCat("join-table:", kPartitions),
                         absl::StrCat("join-out:", kPartitions)},
                        (root / "broker.log").string());
  ASSERT_TRUE(broker.ok()) << broker.status();
  const std::string bootstrap = broker->bootstrap;

  absl::StatusOr<KafkaConf> conf = BuildKafkaConf(
      {.bootstrap_servers = bootstrap,
       .common = {{"linger.ms", "5"}, {"partitioner", "murmur2_random"}}},  // Kafka's
      ClientKind::kProducer);
  ASSERT_TRUE(conf.ok()) << conf.status();
  absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
  ASSERT_TRUE(producer.ok()) << producer.status();
  const auto produce = [&](const std::string& topic, const std::string& key,
                           const std::string& value) {
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer->get(), 10);
    }
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
  };
  for (int i = 0; i < kRows; ++i) produce("join-table", absl::StrCat("k", i), absl::StrCat("t", i));
  ASSERT_EQ(rd_kafka_flush(producer->get(), 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);

  std::vector<std::unique_ptr<Subprocess>> instances;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Subprocess>> instance = Subprocess::StartLogged(
        {WEIR_DSL_JOIN_APP, bootstrap, kApplication, (root / absl::StrCat("state-", i)).string()},
        (root / absl::StrCat("instance-", i, ".log")).string());
    ASSERT_TRUE(instance.ok()) << instance.status();
    instances.push_back(*std::move(instance));
  }
  const auto committed = [&](const char* topic) {
    return CommittedRecords(bootstrap, kApplication, topic, kPartitions);
  };
  ASSERT_TRUE(WaitFor([&] { return committed("join-table") == kRows; }, std::chrono::seconds(120)))
      << "the table's rows were not all processed; logs in " << root;

  // The stream, paced; the kill once a tenth of it is committed.
  const auto start = std::chrono::steady_clock::now();
  bool killed = false;
  for (int n = 0; n < kRecords; ++n) {
    produce("join-stream", absl::StrCat("k", n % kRows), absl::StrCat(n));
    if (n % 300 != 299) continue;
    rd_kafka_poll(producer->get(), 0);
    std::this_thread::sleep_until(start + std::chrono::milliseconds(n / 3));  // 3,000/s
    if (!killed && n >= 3'000 && committed("join-stream") >= 3'000) {
      instances[1]->Signal(SIGKILL);
      ASSERT_TRUE(instances[1]->Wait(std::chrono::seconds(10)).has_value());
      killed = true;
      std::printf("killed instance 1 after %d records were produced\n", n + 1);
    }
  }
  ASSERT_EQ(rd_kafka_flush(producer->get(), 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(killed) << "the stream was produced before 3,000 records were committed";
  ASSERT_TRUE(
      WaitFor([&] { return committed("join-stream") == kRecords; }, std::chrono::seconds(120)))
      << "the survivors did not process the whole stream; logs in " << root;
  // The killed instance had tasks, and a survivor restored their table from the changelog.
  EXPECT_NE(test::ReadFile((root / "instance-1.log").string()).find("created"), std::string::npos)
      << "instance 1 never had a task";
  const std::string survivors = test::ReadFile((root / "instance-0.log").string()) +
                                test::ReadFile((root / "instance-2.log").string());
  EXPECT_NE(survivors.find("changelog records"), std::string::npos)
      << "no survivor restored a moved task's state";
  EXPECT_EQ(survivors.find("wrong partition"), std::string::npos);

  const test::CommandResult read =
      RunCommand({"kcat", "-b", bootstrap, "-C", "-t", "join-out", "-o", "beginning", "-e", "-q",
                  "-f", "%k %s\n"},
                 "", std::chrono::seconds(120));
  ASSERT_EQ(read.exit_status, 0) << read.err;
  std::vector<int> seen(kRecords, 0);
  int wrong = 0;
  for (absl::string_view line : absl::StrSplit(read.out, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> parts = absl::StrSplit(line, absl::ByAnyChar(" |"));
    int n = -1;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &n) || n < 0 || n >= kRecords ||
        parts[0] != absl::StrCat("k", n % kRows) || parts[2] != absl::StrCat("t", n % kRows)) {
      if (++wrong <= 5) ADD_FAILURE() << "a wrong join result: " << line;
      continue;
    }
    ++seen[n];
  }
  int missing = 0;
  int duplicates = 0;
  for (int count : seen) {
    missing += count == 0;
    duplicates += std::max(count - 1, 0);
  }
  std::printf("join results: %d stream records, %d missing, %d duplicates, %d wrong\n", kRecords,
              missing, duplicates, wrong);
  EXPECT_EQ(missing, 0) << "stream records whose join result was lost";
  EXPECT_EQ(wrong, 0);
  for (int i : {0, 2}) instances[i]->Signal(SIGTERM);
  for (int i : {0, 2}) EXPECT_EQ(instances[i]->Wait(std::chrono::seconds(60)), 0);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace weir
