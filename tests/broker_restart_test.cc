// Broker outages on a real cluster (run only as the `kafka.` twin: it stops and starts the
// `kafka_cluster` fixture's broker with scripts/kafka.sh). The seed's readiness check "app
// recovers from broker restart": with every broker gone `weir run` stays up, /readyz answers 503
// while they are gone and 200 again once they are back, and the payments sent around the
// outage are all processed, by the same process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/http_client.h"
#include "engine/topic_offsets.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"

namespace weir {
namespace {

using testing::RunCommand;
using testing::WeirBinary;
using Clock = std::chrono::steady_clock;

// Polls `condition` every 100 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a condition
  }
  return true;
}

testing::CommandResult Cluster(const std::string& command) {
  return RunCommand({"scripts/kafka.sh", command, testing::RealKafkaDir(), "1"}, "",
                    std::chrono::seconds(180));
}

TEST(BrokerOutage, WithEveryBrokerGoneTheServiceStaysUpNotReadyAndResumes) {
  const std::optional<std::string> bootstrap = testing::RealKafkaBootstrap();
  ASSERT_TRUE(bootstrap.has_value()) << "runs only against a real cluster (ctest -L kafka)";
  ASSERT_TRUE(testing::ResetRealKafka(*bootstrap, {{.name = "payments", .partitions = 2},
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

  const int port = FreePort();
  const std::string log = (root / "run.log").string();
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> run = testing::Subprocess::Start(
      {WeirBinary(), "run", "--progress-interval", "0", "--set", "bootstrap.servers=" + *bootstrap,
       "--set", "application.id=outage", "--set", "metrics.host=127.0.0.1", "--set",
       absl::StrCat("metrics.port=", port), "--set", "state.dir=" + (root / "state").string()},
      log);
  ASSERT_TRUE(run.ok()) << run.status();
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
  // Out 30 s in all, as the seed's check has it.
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
  EXPECT_EQ((*run)->Wait(std::chrono::seconds(60)), 0) << testing::ReadFile(log);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace weir
