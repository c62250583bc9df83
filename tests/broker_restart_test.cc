// Broker outages on a real cluster (run only as the `kafka.` twin: it stops and starts the
// `kafka_cluster` fixture's broker with scripts/kafka.sh). The production-readiness check
// "the application recovers from a broker restart": with every broker gone `weir run` stays up,
// /readyz answers 503 while they are gone and 200 again once they are back, and the payments sent
// around the outage are all processed, by the same process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/http_client.h"
#include "engine/kafka/topic_admin.h"
#include "engine/kafka/topic_offsets.h"
#include "tests/support/alerts.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"

namespace weir {
namespace {

using test::AlertIdCounts;
using test::RunCommand;
using test::WaitFor;
using test::WeirBinary;
using Clock = std::chrono::steady_clock;

test::CommandResult Cluster(const std::string& command) {
  return RunCommand({"scripts/kafka.sh", command, test::RealKafkaDir(), "1"}, "",
                    std::chrono::seconds(180));
}

TEST(BrokerOutage, WithEveryBrokerGoneTheServiceStaysUpNotReadyAndResumes) {
  const std::optional<std::string> bootstrap = test::RealKafkaBootstrap();
  ASSERT_TRUE(bootstrap.has_value()) << "runs only against a real cluster (ctest -L kafka)";
  ASSERT_TRUE(test::ResetRealKafka(*bootstrap, {{.name = "payments", .partitions = 2},
                                                   {.name = "fraud-alerts", .partitions = 2},
                                                   {.name = "payments-dlq", .partitions = 2}})
                  .ok());
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-outage-", ::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  auto loadgen = [&](int records, int seed) {
    return RunCommand({WeirBinary(), "loadgen", "--set", "bootstrap.servers=" + *bootstrap,
                       "--records", absl::StrCat(records), "--rate", "0", "--cards", "50",
                       "--seed", absl::StrCat(seed), "--progress-interval", "0"},
                      "", std::chrono::seconds(120));
  };
  auto committed = [&] { return CommittedRecords(*bootstrap, "outage", "payments", 2); };
  ASSERT_EQ(loadgen(500, 1).exit_status, 0);

  const std::string log = (root / "run.log").string();
  absl::StatusOr<std::unique_ptr<test::Subprocess>> run = test::Subprocess::Start(
      {WeirBinary(), "run", "--progress-interval", "0", "--port-file", log + ".port", "--set",
       "bootstrap.servers=" + *bootstrap,
       "--set", "application.id=outage", "--set", "metrics.host=127.0.0.1", "--set",
       "metrics.port=0", "--set", "state.dir=" + (root / "state").string()},
      log);
  ASSERT_TRUE(run.ok()) << run.status();
  const int port = ReadPortFile(log + ".port", std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(port, 0) << "weir wrote no --port-file; see " << log;
  ASSERT_TRUE(WaitFor([&] { return committed() == 500; }, std::chrono::seconds(120)))
      << "see " << log;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; },
                      std::chrono::seconds(60)));

  // Every broker gone (the cluster has one): not ready within two statistics intervals (5 s
  // each), yet alive and still running.
  const auto stopped_at = Clock::now();
  ASSERT_EQ(Cluster("stop-broker").exit_status, 0);
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 503; },
                      std::chrono::seconds(30)))
      << "/readyz still answers 200 with every broker gone; see " << log;
  std::printf("not ready %.1f s after the broker stopped\n",
              std::chrono::duration<double>(Clock::now() - stopped_at).count());
  EXPECT_THAT(HttpGet(port, "/readyz").body, ::testing::HasSubstr("reaches no broker"))
      << "/readyz says why it is not ready";
  // Out 30 s in all, as the readiness check has it (docs/runbook.md).
  while (Clock::now() - stopped_at < std::chrono::seconds(30)) {
    EXPECT_EQ(HttpGet(port, "/healthz").status, 200) << "the stream threads must not die";
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the outage's length, by design
  }
  EXPECT_FALSE((*run)->Wait(std::chrono::milliseconds(0)).has_value()) << "weir run exited";

  ASSERT_EQ(Cluster("start-broker").exit_status, 0);
  ASSERT_EQ(loadgen(500, 2).exit_status, 0);
  EXPECT_TRUE(WaitFor([&] { return committed() == 1000; }, std::chrono::seconds(120)))
      << "processing did not resume after the broker came back; see " << log;
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; },
                      std::chrono::seconds(60)));
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);

  (*run)->Signal(SIGTERM);
  EXPECT_EQ((*run)->Wait(std::chrono::seconds(60)), 0) << test::ReadFile(log);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

TEST(BrokerOutage, OneBrokerOfThreeStoppedUnderLoadLosesNoAlert) {
  ASSERT_TRUE(test::RealKafkaBootstrap().has_value())
      << "runs only where real Kafka is (ctest -L kafka)";
  constexpr int kRecords = 60'000;  // 30 s at 2,000/s
  constexpr int64_t kStartTs = 1'732'269'900'000;
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-outage3-", ::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  setenv("WEIR_CARD_TOKEN_KEY", "outage-secret", 1);  // children inherit it
  const std::string cluster = (root / "cluster").string();
  const test::CommandResult started =
      RunCommand({"scripts/kafka.sh", "start", cluster, "--brokers", "3"}, "",
                 std::chrono::seconds(180));
  ASSERT_EQ(started.exit_status, 0) << started.err;
  const std::string bootstrap = started.out.substr(0, started.out.find('\n'));
  struct StopCluster {
    std::string dir;
    ~StopCluster() { RunCommand({"scripts/kafka.sh", "stop", dir}, "", std::chrono::seconds(120)); }
  } stop_cluster{cluster};
  {
    absl::StatusOr<KafkaHandle> admin = test::AdminClient(bootstrap);
    ASSERT_TRUE(admin.ok()) << admin.status();
    ASSERT_TRUE(CreateTopics(admin->get(),
                             {{.name = "payments", .partitions = 6},
                              {.name = "fraud-alerts", .partitions = 6},
                              {.name = "payments-dlq", .partitions = 6}},
                             3)
                    .ok());
  }
  // What an uninterrupted run raises: the same payments through `weir replay`.
  const std::vector<std::string> generate = {
      "--records", absl::StrCat(kRecords), "--rate", "2000", "--cards", "5000", "--seed", "11",
      "--start-ts", absl::StrCat(kStartTs), "--progress-interval", "0"};
  std::vector<std::string> to_file = {WeirBinary(), "loadgen", "--output",
                                      (root / "payments.jsonl").string()};
  to_file.insert(to_file.end(), generate.begin(), generate.end());
  ASSERT_EQ(RunCommand(to_file, "", std::chrono::seconds(120)).exit_status, 0);
  ASSERT_EQ(RunCommand({WeirBinary(), "replay", "--input", (root / "payments.jsonl").string(),
                        "--output", (root / "expected.jsonl").string()},
                       "", std::chrono::seconds(300))
                .exit_status,
            0);
  const std::map<std::string, int> expected =
      AlertIdCounts(test::ReadFile((root / "expected.jsonl").string()));
  ASSERT_GT(expected.size(), 50u);

  const std::string log = (root / "run.log").string();
  absl::StatusOr<std::unique_ptr<test::Subprocess>> run = test::Subprocess::Start(
      {WeirBinary(), "run", "--progress-interval", "0", "--port-file", log + ".port", "--set",
       "bootstrap.servers=" + bootstrap,
       "--set", "application.id=outage3", "--set", "replication.factor=3", "--set",
       "metrics.host=127.0.0.1", "--set", "metrics.port=0", "--set",
       "state.dir=" + (root / "state").string()},
      log);
  ASSERT_TRUE(run.ok()) << run.status();
  const int port = ReadPortFile(log + ".port", std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(port, 0) << "weir wrote no --port-file; see " << log;
  ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; },
                      std::chrono::seconds(90)))
      << "see " << log;
  std::vector<std::string> stream = {WeirBinary(), "loadgen", "--set",
                                     "bootstrap.servers=" + bootstrap};
  stream.insert(stream.end(), generate.begin(), generate.end());
  absl::StatusOr<std::unique_ptr<test::Subprocess>> producer =
      test::Subprocess::Start(stream, (root / "loadgen.log").string());
  ASSERT_TRUE(producer.ok()) << producer.status();

  // 5 s into the stream, broker 2 goes for 30 s.
  std::this_thread::sleep_for(std::chrono::seconds(5));  // the scenario's timing
  ASSERT_EQ(RunCommand({"scripts/kafka.sh", "stop-broker", cluster, "2"}, "",
                       std::chrono::seconds(120))
                .exit_status,
            0);
  for (const auto back = Clock::now() + std::chrono::seconds(30); Clock::now() < back;) {
    EXPECT_EQ(HttpGet(port, "/healthz").status, 200) << "a stream thread died";
    std::this_thread::sleep_for(std::chrono::seconds(1));  // the outage's length, by design
  }
  ASSERT_EQ(RunCommand({"scripts/kafka.sh", "start-broker", cluster, "2"}, "",
                       std::chrono::seconds(180))
                .exit_status,
            0);
  EXPECT_EQ((*producer)->Wait(std::chrono::seconds(120)), 0)
      << test::ReadFile((root / "loadgen.log").string());
  EXPECT_TRUE(WaitFor(
      [&] { return CommittedRecords(bootstrap, "outage3", "payments", 6) == kRecords; },
      std::chrono::seconds(120)))
      << "the lag did not recover; see " << log;
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);

  const test::CommandResult read =
      RunCommand({"kcat", "-b", bootstrap, "-C", "-t", "fraud-alerts", "-o", "beginning", "-e",
                  "-q", "-f", "%s\n"},
                 "", std::chrono::seconds(120));
  ASSERT_EQ(read.exit_status, 0) << read.err;
  const std::map<std::string, int> actual = AlertIdCounts(read.out);
  int missing = 0;
  int64_t duplicates = 0;
  for (const auto& [id, count] : expected) missing += !actual.contains(id);
  for (const auto& [id, count] : actual) duplicates += count - 1;
  std::printf("one broker of three out 30 s: %zu alerts expected, %d missing, %lld duplicates\n",
              expected.size(), missing, static_cast<long long>(duplicates));
  EXPECT_EQ(missing, 0) << "see " << log;
  for (const auto& [id, count] : actual) EXPECT_TRUE(expected.contains(id)) << id;

  (*run)->Signal(SIGTERM);
  EXPECT_EQ((*run)->Wait(std::chrono::seconds(60)), 0) << test::ReadFile(log);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace weir
