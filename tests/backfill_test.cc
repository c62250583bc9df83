// A backfill on a real cluster (run only as the `kafka.` twin): payments from 2024 — last
// month's history, as a team would replay to try weir — processed at at_least_once, `weir run`
// killed with SIGKILL, its state directory lost, and restarted: every alert an uninterrupted
// replay raises must arrive. The broker deletes records by their timestamp (retention.ms);
// changelog records stamped with the payments' event time were deleted as they were written,
// and the restart came back without them (docs/kafka.md, "What weir creates").
//
// The changelog is created here with segments that roll every 500 ms (so the broker may delete
// them: it never deletes the active segment) and a retention of an hour. A probe topic with the
// same settings and one record stamped 2024 shows when the broker's retention check (every
// 30 s, scripts/kafka.sh) has run: the probe's head is gone then, the changelog's must not be.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/kafka/client_config.h"
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

constexpr int kPartitions = 4;
constexpr int kRecords = 30'000;
constexpr char kApplication[] = "backfill";
constexpr char kChangelog[] = "backfill-card-windows-changelog";

// `lines` of loadgen's JSON, as kcat's "key|value" input keyed by each payment's card.
std::string Keyed(const std::vector<std::string>& lines) {
  static const std::regex card("\"card\":\"([0-9]+)\"");
  std::string out;
  for (const std::string& line : lines) {
    std::smatch match;
    EXPECT_TRUE(std::regex_search(line, match, card)) << line;
    absl::StrAppend(&out, match[1].str(), "|", line, "\n");
  }
  return out;
}

int64_t LogStart(rd_kafka_t* client, const std::string& topic, int32_t partition) {
  int64_t low = -1;
  int64_t high = -1;
  EXPECT_TRUE(QueryWatermarks(client, topic, partition, &low, &high, 10'000).ok());
  return low;
}

TEST(Backfill, OldPaymentsKillAndLostStateLoseNoAlert) {
  const std::optional<std::string> bootstrap = test::RealKafkaBootstrap();
  ASSERT_TRUE(bootstrap.has_value()) << "runs only against a real cluster (ctest -L kafka)";
  const std::map<std::string, std::string> rolling = {
      {"cleanup.policy", "compact,delete"}, {"retention.ms", "3600000"}, {"segment.ms", "500"}};
  ASSERT_TRUE(test::ResetRealKafka(*bootstrap,
                                   {{.name = "payments", .partitions = kPartitions},
                                    {.name = "fraud-alerts", .partitions = kPartitions},
                                    {.name = "payments-dlq", .partitions = kPartitions},
                                    {.name = kChangelog, .partitions = kPartitions,
                                     .config = rolling},
                                    {.name = "backfill-probe", .partitions = 1,
                                     .config = rolling}})
                  .ok());
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-backfill-", ::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  setenv("WEIR_CARD_TOKEN_KEY", "backfill-secret", 1);  // children inherit it

  // History from November 2024, and what an uninterrupted run raises over it.
  const std::string payments = (root / "payments.jsonl").string();
  ASSERT_EQ(RunCommand({WeirBinary(), "loadgen", "--records", absl::StrCat(kRecords), "--rate",
                        "2000", "--cards", "1000", "--seed", "5", "--start-ts", "1732269900000",
                        "--output", payments, "--progress-interval", "0"},
                       "", std::chrono::seconds(120))
                .exit_status,
            0);
  const std::string expected_path = (root / "expected.jsonl").string();
  ASSERT_EQ(RunCommand({WeirBinary(), "replay", "--input", payments, "--output", expected_path},
                       "", std::chrono::seconds(300))
                .exit_status,
            0);
  const std::map<std::string, int> expected = AlertIdCounts(test::ReadFile(expected_path));
  ASSERT_GT(expected.size(), 50u) << "the workload should raise alerts";
  std::vector<std::string> lines;
  std::istringstream in(test::ReadFile(payments));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const auto produce = [&](size_t from, size_t to) {
    const test::CommandResult sent = RunCommand(
        {"kcat", "-b", *bootstrap, "-t", "payments", "-P", "-K|", "-X",
         "partitioner=murmur2_random", "-X", "enable.idempotence=true"},
        Keyed({lines.begin() + from, lines.begin() + to}), std::chrono::seconds(120));
    ASSERT_EQ(sent.exit_status, 0) << sent.err;
  };
  const auto committed = [&] {
    return CommittedRecords(*bootstrap, kApplication, "payments", kPartitions);
  };
  const std::string state = (root / "state").string();
  const auto start = [&](const std::string& log) {
    absl::StatusOr<std::unique_ptr<test::Subprocess>> run = test::Subprocess::Start(
        {WeirBinary(), "run", "--progress-interval", "0", "--set",
         "bootstrap.servers=" + *bootstrap, "--set", absl::StrCat("application.id=", kApplication),
         "--set", "metrics.port=0", "--set", "processing.guarantee=at_least_once", "--set",
         "state.dir=" + state},
        log);
    EXPECT_TRUE(run.ok()) << run.status();
    return run.ok() ? *std::move(run) : nullptr;
  };

  // The first half, then SIGKILL.
  ASSERT_NO_FATAL_FAILURE(produce(0, lines.size() / 2));
  const std::string first_log = (root / "first.log").string();
  std::unique_ptr<test::Subprocess> first = start(first_log);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitFor([&] { return committed() == static_cast<int64_t>(lines.size() / 2); },
                      std::chrono::seconds(180)))
      << "see " << first_log;
  first->Signal(SIGKILL);
  first->Wait(std::chrono::seconds(30));

  // The broker's retention check has run once the probe's 2024 record is gone (a second record
  // rolls its segment); the changelog's records, written now, must all still be there.
  absl::StatusOr<KafkaHandle> admin = test::AdminClient(*bootstrap);
  ASSERT_TRUE(admin.ok()) << admin.status();
  {
    absl::StatusOr<KafkaConf> conf =
        BuildKafkaConf({.bootstrap_servers = *bootstrap}, ClientKind::kProducer);
    ASSERT_TRUE(conf.ok()) << conf.status();
    absl::StatusOr<KafkaHandle> producer =
        NewKafkaClient(*std::move(conf), ClientKind::kProducer);
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (const int64_t ts : {int64_t{1'732'269'900'000}, int64_t{1'732'269'960'000}}) {
      ASSERT_EQ(rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC("backfill-probe"),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY("probe", 5),
                                  RD_KAFKA_V_VALUE(const_cast<char*>("probe"), 5),
                                  RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      ASSERT_EQ(rd_kafka_flush(producer->get(), 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  ASSERT_TRUE(WaitFor([&] { return LogStart(admin->get(), "backfill-probe", 0) > 0; },
                      std::chrono::seconds(120)))
      << "the broker's retention never deleted the probe's 2024 record";
  for (int32_t p = 0; p < kPartitions; ++p) {
    EXPECT_EQ(LogStart(admin->get(), kChangelog, p), 0)
        << kChangelog << "-" << p << " lost its head to retention: the state's records carry "
        << "event time";
  }

  // The state directory lost; the restart restores from the changelog, then the second half.
  std::filesystem::remove_all(state);
  const std::string second_log = (root / "second.log").string();
  std::unique_ptr<test::Subprocess> second = start(second_log);
  ASSERT_NE(second, nullptr);
  ASSERT_NO_FATAL_FAILURE(produce(lines.size() / 2, lines.size()));
  ASSERT_TRUE(WaitFor([&] { return committed() == static_cast<int64_t>(lines.size()); },
                      std::chrono::seconds(180)))
      << "see " << second_log;
  second->Signal(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(60)), 0) << test::ReadFile(second_log);
  EXPECT_EQ(test::ReadFile(second_log).find("the restored state lacks"), std::string::npos);

  const test::CommandResult read =
      RunCommand({"kcat", "-b", *bootstrap, "-C", "-t", "fraud-alerts", "-o", "beginning", "-e",
                  "-q", "-f", "%s\n"},
                 "", std::chrono::seconds(120));
  ASSERT_EQ(read.exit_status, 0) << read.err;
  const std::map<std::string, int> actual = AlertIdCounts(read.out);
  int missing = 0;
  for (const auto& [id, count] : expected) missing += actual.contains(id) ? 0 : 1;
  std::printf("alerts: %zu expected, %zu distinct delivered, %d missing\n", expected.size(),
              actual.size(), missing);
  EXPECT_EQ(missing, 0) << "alerts of the uninterrupted replay missing after the restore";
  for (const auto& [id, count] : actual) {
    EXPECT_TRUE(expected.contains(id)) << "an alert the replay did not raise: " << id;
  }
  if (!HasFailure()) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace weir
