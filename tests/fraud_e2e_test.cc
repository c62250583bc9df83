// Fraud detection end to end on the embedded broker, every part its own process: `weir broker`,
// `weir loadgen` producing payments with injected fraud, `weir run` detecting it, and kcat
// reading what came out. Checks:
//  - every alert the injected patterns must raise is on `fraud-alerts` (recall 100%);
//  - loadgen's summary matches the payments topic, and every record was consumed;
//  - PCI: no card number used appears in clear in anything the service wrote - the alerts, the
//    dead letters, the changelogs (keys, values, headers), the state directory (raw files and
//    decoded entries), its log or its /metrics (at recording level debug).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/http_client.h"
#include "engine/kafka/partitioner.h"
#include "engine/kafka/topic_offsets.h"
#include "tests/support/alerts.h"
#include "tests/support/broker_process.h"
#include "tests/support/subprocess.h"
#include "topologies/fraud_topology.h"

namespace weir {
namespace {

using test::CardsIn;
using test::ReadFile;

using test::RunCommand;
using test::Subprocess;
using test::WaitFor;
using test::WeirBinary;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 4;
constexpr int kRecords = 20'000;
constexpr char kApplication[] = "e2e";
const std::vector<std::string> kStores = {"card-windows"};

class FraudEndToEnd : public test::FraudBrokerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartBrokerIn("e2e", kApplication, kPartitions));
    setenv("WEIR_CARD_TOKEN_KEY", "e2e-secret", 1);  // children inherit it
  }

  std::vector<std::string> LoadgenFlags() const {
    return {"--records",
            std::to_string(kRecords),
            "--rate",
            "0",
            "--cards",
            "2000",
            "--seed",
            "11",
            "--fraud-fraction",
            "0.03",
            "--start-ts",
            "1732269900000",
            "--progress-interval",
            "0"};
  }

  // `weir run` of kApplication on the broker with its state in `state`, `overrides` as --set
  // flags, logging to root_/weir.log; `port` its HTTP listener's.
  void StartRun(const std::filesystem::path& state, const std::vector<std::string>& overrides,
                std::unique_ptr<Subprocess>* weir, int* port) const {
    const std::filesystem::path port_file = root_ / "weir.port";
    std::vector<std::string> argv = {
        WeirBinary(), "run", "--progress-interval", "0", "--port-file", port_file.string(),
        "--set", absl::StrCat("bootstrap.servers=", bootstrap_), "--set",
        absl::StrCat("application.id=", kApplication), "--set",
        absl::StrCat("state.dir=", state.string()), "--set", "metrics.host=127.0.0.1", "--set",
        "metrics.port=0"};
    for (const std::string& o : overrides) argv.insert(argv.end(), {"--set", o});
    absl::StatusOr<std::unique_ptr<Subprocess>> started =
        Subprocess::Start(argv, (root_ / "weir.log").string());
    ASSERT_TRUE(started.ok()) << started.status();
    *weir = *std::move(started);
    *port = ReadPortFile(port_file.string(), std::chrono::seconds(60)).value_or(0);
    ASSERT_NE(*port, 0) << "weir wrote no --port-file; see " << root_ / "weir.log";
  }

  // Everything `topic` holds: key, value and headers of each record, one per line.
  std::string ReadTopic(const std::string& topic) const {
    test::CommandResult read = RunCommand({"kcat", "-b", bootstrap_, "-C", "-t", topic, "-o",
                                              "beginning", "-e", "-q", "-f", "%k\t%s\t%h\n"},
                                             "", std::chrono::seconds(120));
    EXPECT_EQ(read.exit_status, 0) << topic << ": " << read.err;
    return read.out;
  }

};

TEST_F(FraudEndToEnd, InjectedFraudIsAllDetectedAndNoCardNumberLeaks) {
  // The same payments, written to a file (to know every card number used) and produced.
  std::vector<std::string> to_file = {WeirBinary(), "loadgen", "--output",
                                      (root_ / "payments.jsonl").string()};
  std::vector<std::string> to_kafka = {WeirBinary(), "loadgen",
                                       "--set",      absl::StrCat("bootstrap.servers=", bootstrap_),
                                       "--truth",    (root_ / "truth.jsonl").string()};
  for (const std::string& flag : LoadgenFlags()) {
    to_file.push_back(flag);
    to_kafka.push_back(flag);
  }
  ASSERT_EQ(RunCommand(to_file, "", std::chrono::seconds(120)).exit_status, 0);
  test::CommandResult produced = RunCommand(to_kafka, "", std::chrono::seconds(300));
  ASSERT_EQ(produced.exit_status, 0) << produced.err;
  EXPECT_THAT(produced.err, ::testing::HasSubstr(absl::StrCat(kRecords, " records sent")));
  EXPECT_THAT(produced.err, ::testing::HasSubstr("ms 99th"));

  // Invalid records carrying card numbers: they must reach the dead-letter topic masked.
  std::set<std::string> cards;
  std::string invalid;
  for (int i = 0; i < 5; ++i) {
    const std::string card = absl::StrCat("49927398716", 10'000 + i);
    cards.insert(card);
    absl::StrAppend(&invalid, card, "|{\"txn_id\":\"bad", i, "\",\"card\":\"", card,
                    "\",\"amount\":\"lots\",\"note\":\"card ", card, "\"}\n");
  }
  ASSERT_EQ(RunCommand({"kcat", "-b", bootstrap_, "-t", "payments", "-P", "-K|"}, invalid,
                       std::chrono::seconds(60))
                .exit_status,
            0);
  const int64_t total = kRecords + 5;

  const std::string payments = ReadFile(root_ / "payments.jsonl");
  const std::regex card_field("\"card\":\"([0-9]+)\"");
  for (std::sregex_iterator it(payments.begin(), payments.end(), card_field), end; it != end;
       ++it) {
    cards.insert((*it)[1].str());
  }
  ASSERT_GT(cards.size(), 500u);
  // The scanner finds every card of the input (the 5 invalid records' cards are not in it).
  ASSERT_EQ(CardsIn(payments, cards).size(), cards.size() - 5);

  const std::filesystem::path state = root_ / "state";
  const std::vector<std::string> run_flags = {
      "--set", absl::StrCat("bootstrap.servers=", bootstrap_),
      "--set", absl::StrCat("application.id=", kApplication),
      "--set", absl::StrCat("state.dir=", state.string()),
      "--set", "commit.interval.ms=500",
      "--set", "consumer.session.timeout.ms=6000",
      "--set", "consumer.heartbeat.interval.ms=500"};
  std::vector<std::string> run = {WeirBinary(),
                                  "run",
                                  "--progress-interval",
                                  "1",
                                  "--set",
                                  "metrics.host=127.0.0.1",
                                  "--set",
                                  "metrics.port=0",
                                  "--set",
                                  "metrics.recording.level=debug"};
  run.insert(run.end(), run_flags.begin(), run_flags.end());
  const std::filesystem::path log = root_ / "weir.log";
  const std::filesystem::path port_file = root_ / "weir.port";
  std::filesystem::remove(port_file);
  run.insert(run.end(), {"--port-file", port_file.string()});
  absl::StatusOr<std::unique_ptr<Subprocess>> weir = Subprocess::Start(run, log.string());
  ASSERT_TRUE(weir.ok()) << weir.status();
  const int metrics_port = ReadPortFile(port_file.string(), std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(metrics_port, 0) << "weir wrote no --port-file; see " << log;
  WaitFor(
      [&] { return CommittedRecords(bootstrap_, kApplication, "payments", kPartitions) >= total; },
      std::chrono::seconds(180), std::chrono::milliseconds(100));
  ASSERT_EQ(CommittedRecords(bootstrap_, kApplication, "payments", kPartitions), total)
      << "not every payment was consumed and committed";
  // Every metric at the most detailed level, for the PCI scan below. Task-level metrics exist
  // while tasks do: on a real broker the second thread may join after the first has processed
  // everything, and for a moment during that rebalance no task is open.
  HttpResponse metrics;
  WaitFor(
      [&] {
        metrics = HttpGet(metrics_port, "/metrics");
        return absl::StrContains(metrics.body, "weir_record_cache_hit_ratio{");
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("weir_record_cache_hit_ratio{"));
  (*weir)->Signal(SIGTERM);
  ASSERT_EQ((*weir)->Wait(std::chrono::seconds(60)), 0) << ReadFile(log);

  // Recall: every expected alert, by rule and triggering payment.
  std::set<std::pair<std::string, std::string>> raised;
  const std::string alerts = ReadTopic("fraud-alerts");
  for (absl::string_view line : absl::StrSplit(alerts, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    ASSERT_GE(fields.size(), 2u) << line;
    const nlohmann::json alert = nlohmann::json::parse(fields[1]);
    raised.insert({alert["rule"].get<std::string>(), alert["txn_id"].get<std::string>()});
  }
  int expected = 0;
  std::istringstream truth(ReadFile(root_ / "truth.jsonl"));
  for (std::string line; std::getline(truth, line); ++expected) {
    const nlohmann::json e = nlohmann::json::parse(line);
    EXPECT_TRUE(raised.contains({e["rule"].get<std::string>(), e["txn_id"].get<std::string>()}))
        << "missed: " << line;
  }
  EXPECT_GT(expected, 50);
  // The service's summary counts what the topics hold.
  EXPECT_THAT(ReadFile(log),
              ::testing::HasSubstr(absl::StrCat("summary: processed ", total,
                                                " records, late drops 0; topics now hold ",
                                                std::count(alerts.begin(), alerts.end(), '\n'),
                                                " alerts (fraud-alerts) and 5 dead letters")));
  EXPECT_THAT(produced.err, ::testing::HasSubstr(absl::StrCat(expected, " completed")));

  // PCI: nothing the service wrote holds a card number in clear.
  std::map<std::string, std::string> written = {{"log", ReadFile(log)},
                                                {"/metrics", metrics.body},
                                                {"fraud-alerts", alerts},
                                                {"payments-dlq", ReadTopic("payments-dlq")}};
  EXPECT_THAT(written["payments-dlq"], ::testing::HasSubstr("InvalidPayment"));
  for (const std::string& store : kStores) {
    const std::string changelog = absl::StrCat(kApplication, "-", store, "-changelog");
    written[changelog] = ReadTopic(changelog);
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(state)) {
    if (entry.is_regular_file()) written[entry.path().string()] = ReadFile(entry.path());
  }
  std::vector<std::string> dump = {WeirBinary(), "state", "dump"};
  dump.insert(dump.end(), run_flags.begin(), run_flags.end());
  test::CommandResult dumped = RunCommand(dump, "", std::chrono::seconds(60));
  ASSERT_EQ(dumped.exit_status, 0) << dumped.err;
  std::string decoded;  // the dump's hex keys and values, as bytes
  for (absl::string_view line : absl::StrSplit(dumped.out, '\n', absl::SkipEmpty())) {
    for (absl::string_view field : absl::StrSplit(line, '\t')) {
      absl::StrAppend(&decoded, absl::HexStringToBytes(field), "\n");
    }
  }
  ASSERT_GT(decoded.size(), 10'000u);
  written["state dump"] = decoded;
  for (const auto& [what, text] : written) {
    const std::set<std::string> leaked = CardsIn(text, cards);
    EXPECT_TRUE(leaked.empty()) << what << " holds " << leaked.size() << " card numbers in clear, "
                                << "e.g. " << (leaked.empty() ? "" : *leaked.begin());
  }
}

// kcat's default partitioner (librdkafka's consistent_random): CRC-32 of the key, modulo the
// partition count. Bitwise; the test reads back where kcat put each record to confirm.
uint32_t Crc32(absl::string_view bytes) {
  uint32_t crc = 0xffffffff;
  for (const unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

// Payments a client without murmur2 placed in another partition than their card's (kcat's
// default partitioner): counted, named in the log, and with `misplaced.records: dead-letter`
// sent to the dead-letter topic as MisplacedKey - the card number masked there as everywhere.
TEST_F(FraudEndToEnd, PaymentsInTheWrongPartitionAreCountedNamedAndDeadLettered) {
  std::string payments;
  std::set<std::string> cards;
  std::map<std::string, int32_t> murmur2_partition;
  for (int64_t n = 4000'0000'0000'0000; cards.size() < 5; ++n) {
    const std::string card = absl::StrCat(n);
    const int32_t murmur2 = PartitionForKey(card, kPartitions);
    if (static_cast<int32_t>(Crc32(card) % kPartitions) == murmur2) continue;
    cards.insert(card);
    murmur2_partition[card] = murmur2;
    absl::StrAppend(&payments, card, "|{\"txn_id\":\"m", cards.size(), "\",\"card\":\"", card,
                    "\",\"amount\":12.5,\"currency\":\"EUR\",\"merchant\":\"m-1\",",
                    "\"country\":\"US\",\"ts\":1732269900000}\n");
  }
  ASSERT_EQ(RunCommand({"kcat", "-b", bootstrap_, "-t", "payments", "-P", "-K|"}, payments,
                       std::chrono::seconds(60))
                .exit_status,
            0);
  const test::CommandResult placed =
      RunCommand({"kcat", "-b", bootstrap_, "-C", "-t", "payments", "-o", "beginning", "-e", "-q",
                  "-f", "%k %p\n"},
                 "", std::chrono::seconds(60));
  for (absl::string_view line : absl::StrSplit(placed.out, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ');
    ASSERT_EQ(fields.size(), 2u) << line;
    EXPECT_NE(fields[1], absl::StrCat(murmur2_partition[fields[0]]))
        << "kcat put a payment where murmur2 would: the test's premise fails";
  }

  const std::filesystem::path log = root_ / "weir.log";
  std::unique_ptr<Subprocess> weir;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(StartRun(root_ / "state", {"misplaced.records=dead-letter"}, &weir,
                                   &port));
  ASSERT_TRUE(WaitFor(
      [&] { return CommittedRecords(bootstrap_, kApplication, "payments", kPartitions) == 5; },
      std::chrono::seconds(120)))
      << "see " << log;
  int64_t counted = 0;
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::string metrics = HttpGet(port, "/metrics").body;
        counted = 0;
        for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
          double value = 0;
          if (absl::ConsumePrefix(&line, "weir_task_misplaced_records_total{") &&
              absl::SimpleAtod(line.substr(line.find("} ") + 2), &value)) {
            counted += static_cast<int64_t>(value);
          }
        }
        return counted == 5;
      },
      std::chrono::seconds(60)))
      << counted << " counted as misplaced";
  weir->Signal(SIGTERM);
  ASSERT_EQ(weir->Wait(std::chrono::seconds(60)), 0) << ReadFile(log);

  const std::string written = ReadFile(log);
  EXPECT_THAT(written, ::testing::ContainsRegex("record payments-[0-9]+@0 is in the wrong "
                                                "partition: .* puts its key in partition [0-9]"));
  const std::string dead = ReadTopic("payments-dlq");
  EXPECT_EQ(std::count(dead.begin(), dead.end(), '\n'), 5) << dead;
  int misplaced_key = 0;
  for (absl::string_view line : absl::StrSplit(dead, '\n', absl::SkipEmpty())) {
    misplaced_key += absl::StrContains(line, "__streams.errors.exception=MisplacedKey");
  }
  EXPECT_EQ(misplaced_key, 5) << dead;
  EXPECT_TRUE(ReadTopic("fraud-alerts").empty());
  for (const std::string& text : {written, dead}) {
    EXPECT_TRUE(CardsIn(text, cards).empty()) << "a card number in clear: " << text;
  }
}

// The full-disk trial: state.dir on a 24 MiB tmpfs the test mounts (root only; skipped
// otherwise), state.dir.min.free.bytes 16 MiB, more payments than fit. The instance must stop
// consuming before the volume fills and say why (log, /readyz, metric), stay alive, and resume
// by itself once the volume is enlarged (remounted at 256 MiB), as a volume claim expanded
// under a running pod; every payment then processed, no abort.
TEST_F(FraudEndToEnd, AFillingDiskStopsConsumptionUntilThereIsRoomAgain) {
  const std::filesystem::path volume = root_ / "volume";
  std::filesystem::create_directories(volume);
  const test::CommandResult mounted = RunCommand(
      {"mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", volume.string()}, "",
      std::chrono::seconds(30));
  if (mounted.exit_status != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << mounted.err;
  }
  const absl::Cleanup unmount = [&] {
    RunCommand({"umount", "-l", volume.string()}, "", std::chrono::seconds(30));
  };
  constexpr int kPayments = 300'000;
  const test::CommandResult produced = RunCommand(
      {WeirBinary(), "loadgen", "--set", absl::StrCat("bootstrap.servers=", bootstrap_),
       "--records", absl::StrCat(kPayments), "--rate", "0", "--cards", "150000", "--seed", "3",
       "--progress-interval", "0"},
      "", std::chrono::seconds(300));
  ASSERT_EQ(produced.exit_status, 0) << produced.err;

  const std::filesystem::path log = root_ / "weir.log";
  std::unique_ptr<Subprocess> weir;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(
      StartRun(volume / "state", {"state.dir.min.free.bytes=16MiB"}, &weir, &port));
  const auto committed = [&] {
    return CommittedRecords(bootstrap_, kApplication, "payments", kPartitions);
  };
  HttpResponse ready;
  ASSERT_TRUE(WaitFor(
      [&] {
        ready = HttpGet(port, "/readyz");
        return absl::StrContains(ready.body, "stopped consuming");
      },
      std::chrono::seconds(180)))
      << "never stopped for disk space; committed " << committed() << "; see " << log;
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, ::testing::HasSubstr("under state.dir.min.free.bytes (16 MiB)"));
  EXPECT_THAT(HttpGet(port, "/metrics").body,
              ::testing::ContainsRegex("weir_thread_paused_for_disk\\{[^}]*\\} 1"));
  EXPECT_LT(committed(), kPayments) << "the volume held everything: the trial tested nothing";
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("stopped consuming (partitions paused"));
  EXPECT_FALSE(weir->Wait(std::chrono::milliseconds(0)).has_value()) << "weir run exited";

  // The volume enlarged: consumption resumes by itself and every payment is processed.
  ASSERT_EQ(RunCommand({"mount", "-o", "remount,size=256m", volume.string()}, "",
                       std::chrono::seconds(30))
                .exit_status,
            0);
  EXPECT_TRUE(WaitFor([&] { return committed() == kPayments; }, std::chrono::seconds(300)))
      << committed() << " of " << kPayments << " committed; see " << log;
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; },
                      std::chrono::seconds(60)));
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("free again: consuming"));
  weir->Signal(SIGTERM);
  EXPECT_EQ(weir->Wait(std::chrono::seconds(60)), 0) << ReadFile(log);
}

}  // namespace
}  // namespace weir
