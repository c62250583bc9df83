// What no input, flag or restart may do to `weir run`: stop it, leak a secret, or mislead.
// The service runs as a process against `weir broker` in a process of its own, so it can be
// killed and restarted over the same topics, and kcat writes and reads those topics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http_client.h"
#include "engine/kafka/partitioner.h"
#include "tests/support/broker_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"
#include "topologies/fraud_topology.h"

namespace weir {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using test::RunCommand;
using test::Subprocess;
using test::WaitFor;
using test::WeirBinary;

constexpr char kApplication[] = "hardening";
constexpr char kCard[] = "4111111111111111";

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / absl::StrCat("weir-hardening-", ::getpid());
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
    std::filesystem::create_directories(root_);
    if (std::optional<std::string> real = test::RealKafkaBootstrap(); real.has_value()) {
      // A real broker refuses records over its message.max.bytes (1 MB) unless the topic
      // allows more; weir creates its internal topics itself.
      const absl::Status reset = test::ResetRealKafka(
          *real, {{.name = "payments", .config = {{"max.message.bytes", "4000000"}}},
                  {.name = "fraud-alerts"},
                  {.name = "payments-dlq"}});
      ASSERT_TRUE(reset.ok()) << reset;
      bootstrap_ = *real;
      return;
    }
    absl::StatusOr<test::BrokerProcess> broker =
        test::StartBroker(test::FraudTopics(kApplication, 1), (root_ / "broker.log").string());
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = std::move(broker->process);
    bootstrap_ = broker->bootstrap;
  }
  void TearDown() override {
    if (broker_ != nullptr) broker_->Signal(SIGTERM);
    test::RemoveUnlessFailed(root_);
  }

  // `weir run` on the broker with one thread and no commit for 10 minutes: what it processed
  // stays uncommitted, so a restart processes it again. (On the embedded broker the group
  // session defaults to 3 s, so a restarted instance rejoins in seconds.)
  std::unique_ptr<Subprocess> StartWeir(const std::string& log_name) {
    std::vector<std::string> argv = {WeirBinary(),
                                     "run",
                                     "--config",
                                     "config/weir.yaml",
                                     "--progress-interval",
                                     "0",
                                     "--set",
                                     absl::StrCat("bootstrap.servers=", bootstrap_),
                                     "--set",
                                     absl::StrCat("application.id=", kApplication),
                                     "--set",
                                     "num.stream.threads=1",
                                     "--set",
                                     "num.standby.replicas=0",
                                     "--set",
                                     "commit.interval.ms=600000",
                                     "--set",
                                     absl::StrCat("state.dir=", (root_ / "state").string()),
                                     "--set",
                                     "metrics.host=127.0.0.1",
                                     "--set",
                                     "metrics.port=0"};
    if (test::RealKafkaBootstrap().has_value()) {
      // A real broker waits for the killed member's session (45 s by default) before the
      // restarted one gets its partitions; its minimum is 6 s.
      for (const char* flag :
           {"consumer.session.timeout.ms=6000", "consumer.heartbeat.interval.ms=1000"}) {
        argv.push_back("--set");
        argv.push_back(flag);
      }
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> weir =
        Subprocess::Start(argv, (root_ / log_name).string());
    EXPECT_TRUE(weir.ok()) << weir.status();
    return weir.ok() ? *std::move(weir) : nullptr;
  }

  void Produce(const std::string& records) {
    ASSERT_EQ(RunCommand({"kcat", "-b", bootstrap_, "-t", "payments", "-P", "-K|", "-X",
                          "message.max.bytes=4000000", "-X", "partitioner=murmur2_random"},
                         records, std::chrono::seconds(60))
                  .exit_status,
              0);
  }

  // Each record of `topic`: value size, then headers, one per line.
  std::vector<std::string> ReadTopic(const std::string& topic) const {
    const test::CommandResult read =
        RunCommand({"kcat", "-b", bootstrap_, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                    "-X", "fetch.message.max.bytes=4000000", "-f", "%S\t%h\t%s\n"},
                   "", std::chrono::seconds(60));
    EXPECT_EQ(read.exit_status, 0) << read.err;
    std::vector<std::string> records;
    for (absl::string_view line : absl::StrSplit(read.out, '\n', absl::SkipEmpty())) {
      records.emplace_back(line.substr(0, std::min<size_t>(line.size(), 2'000)));
    }
    return records;
  }

  // Waits until `topic` holds `count` records (or 90 s pass); returns them.
  std::vector<std::string> WaitForRecords(const std::string& topic, size_t count) const {
    std::vector<std::string> records;
    WaitFor(
        [&] {
          records = ReadTopic(topic);
          return records.size() >= count;
        },
        std::chrono::seconds(90), std::chrono::milliseconds(250));
    return records;
  }

  std::filesystem::path root_;
  std::unique_ptr<Subprocess> broker_;
  std::string bootstrap_;
};

std::string FivePayments() {
  std::string payments;
  for (int i = 1; i <= 5; ++i) {
    absl::StrAppend(&payments, kCard, "|{\"txn_id\":\"t", i, "\",\"card\":\"", kCard,
                    "\",\"amount\":10.00,\"merchant\":\"m\",\"country\":\"DE\",\"ts\":",
                    1'732'270'000'000 + i * 1000, "}\n");
  }
  return payments;
}

// A dead letter as ReadTopic shows it is too large for the producer's message.max.bytes
// (librdkafka's default 1,000,000) unless cut: it must be cut, say so and still arrive.
void ExpectCutToFit(const std::string& dead_letter, int64_t original_size) {
  int64_t size = 0;
  ASSERT_TRUE(absl::SimpleAtoi(dead_letter.substr(0, dead_letter.find('\t')), &size))
      << dead_letter.substr(0, 200);
  EXPECT_LT(size, 1'000'000);
  EXPECT_GT(size, 990'000);
  EXPECT_THAT(dead_letter,
              HasSubstr(absl::StrCat("weir.errors.value.original.size=", original_size)));
  EXPECT_THAT(dead_letter, HasSubstr("__streams.errors.exception=InvalidPayment"));
}

TEST_F(Hardening, AnOversizedRecordGoesToTheDeadLetterTopicAndTheServiceGoesOn) {
  // 1.2 MB each: a JSON object (missing fields) and text that is not JSON.
  const std::string filler(1'200'000, 'x');
  const std::string json =
      absl::StrCat("{\"txn_id\":\"big\",\"card\":\"", kCard, "\",\"note\":\"", filler, "\"}");
  const std::string text = absl::StrCat("not json ", filler);
  std::unique_ptr<Subprocess> weir = StartWeir("weir-1.log");
  ASSERT_NE(weir, nullptr);
  Produce(absl::StrCat(kCard, "|", json, "\n", kCard, "|", text, "\n", FivePayments()));

  std::vector<std::string> alerts = WaitForRecords("fraud-alerts", 1);
  ASSERT_EQ(alerts.size(), 1u) << "no alert; see " << (root_ / "weir-1.log");
  EXPECT_THAT(alerts[0], HasSubstr("\"rule\":\"VELOCITY\""));
  std::vector<std::string> dead = WaitForRecords("payments-dlq", 2);
  ASSERT_EQ(dead.size(), 2u);
  ExpectCutToFit(dead[0], static_cast<int64_t>(json.size()));
  ExpectCutToFit(dead[1], static_cast<int64_t>(text.size()));
  EXPECT_EQ(weir->Wait(std::chrono::milliseconds(0)), std::nullopt) << "the service stopped";
  const std::string log = test::ReadFile((root_ / "weir-1.log").string());
  EXPECT_THAT(log, HasSubstr("dead letter to payments-dlq: record payments-0@0"));
  EXPECT_THAT(log, Not(HasSubstr("xxxxxxxx")));  // a dead letter's log line never holds its value

  // Killed before any commit, the restarted service meets both records again and goes on.
  weir->Signal(SIGKILL);
  weir->Wait(std::chrono::seconds(10));
  weir = StartWeir("weir-2.log");
  ASSERT_NE(weir, nullptr);
  alerts = WaitForRecords("fraud-alerts", 2);
  EXPECT_EQ(alerts.size(), 2u) << "no alert after the restart; see " << (root_ / "weir-2.log");
  dead = WaitForRecords("payments-dlq", 4);
  EXPECT_EQ(dead.size(), 4u);
  EXPECT_EQ(weir->Wait(std::chrono::milliseconds(0)), std::nullopt) << "the service stopped";
  weir->Signal(SIGTERM);
  EXPECT_EQ(weir->Wait(std::chrono::seconds(60)), 0);
}

// Loadgen partitions as Java producers and `weir replay --partitions` do (murmur2 of the key),
// and stamps each payment with its send time, so the stream never runs ahead of the clock.
TEST_F(Hardening, LoadgenPlacesCardsByMurmur2AndStampsSendTimes) {
  absl::StatusOr<test::BrokerProcess> broker =
      test::StartBroker({"spread:4"}, (root_ / "broker-spread.log").string());
  ASSERT_TRUE(broker.ok()) << broker.status();
  const int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const test::CommandResult loadgen = RunCommand(
      {WeirBinary(), "loadgen", "--set", "bootstrap.servers=" + broker->bootstrap, "--topic",
       "spread", "--records", "2000", "--rate", "0", "--progress-interval", "0"},
      "", std::chrono::seconds(60));
  ASSERT_EQ(loadgen.exit_status, 0) << loadgen.err;
  const int64_t after = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const test::CommandResult read =
      RunCommand({"kcat", "-b", broker->bootstrap, "-C", "-t", "spread", "-o", "beginning", "-e",
                  "-q", "-f", "%p %k %s\n"},
                 "", std::chrono::seconds(60));
  if (broker->process != nullptr) broker->process->Signal(SIGTERM);
  int records = 0;
  for (absl::string_view line : absl::StrSplit(read.out, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    ASSERT_EQ(fields.size(), 3u) << line;
    int32_t partition = -1;
    ASSERT_TRUE(absl::SimpleAtoi(fields[0], &partition));
    EXPECT_EQ(partition, PartitionForKey(fields[1], 4)) << line;
    const size_t ts_at = fields[2].find("\"ts\":");
    int64_t ts = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields[2].substr(ts_at + 5, 13), &ts)) << line;
    EXPECT_GE(ts, before - 1'000) << line;  // patterns' payments were scheduled a little earlier
    EXPECT_LE(ts, after) << "a payment from the future: " << line;
    ++records;
  }
  EXPECT_EQ(records, 2000);
}

// Secrets given the ways a user would give them - `--set` for client properties, the
// environment for the card token key - appear nowhere weir writes: `config show`, the log at
// its most verbose (librdkafka's debug output included), /metrics, /tasks and `weir status`.
TEST(Secrets, NoSecretValueAppearsInAnyOutput) {
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"kafka.sasl.password", "pw-0d5c9e"},
      {"kafka.ssl.key.password", "keypw-8a1f3b"},
      {"kafka.ssl.key.pem", "pem-77c2e4"},
      {"producer.sasl.password", "ppw-5b9d01"}};
  const std::string token_key = "tokenkey-c4e1a7";
  std::vector<std::string> sets;
  for (const auto& [key, value] : secrets) {
    sets.push_back("--set");
    sets.push_back(key + "=" + value);
  }
  std::string seen;  // everything weir wrote

  std::vector<std::string> show = {WeirBinary(), "config", "show"};
  show.insert(show.end(), sets.begin(), sets.end());
  const test::CommandResult shown = RunCommand(show, "", std::chrono::seconds(30));
  ASSERT_EQ(shown.exit_status, 0) << shown.err;
  EXPECT_THAT(shown.out,
              HasSubstr("kafka.sasl.password: '******'  # --set kafka.sasl.password=******"));
  seen += shown.out + shown.err;
  // Secrets librdkafka refuses here (a Java client's JAAS config; OAUTHBEARER's client secret,
  // which needs a libcurl build): the refusal names the key, never the value.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"kafka.sasl.jaas.config", "jaas-3e9f0a"},
           {"kafka.sasl.oauthbearer.client.secret", "secret-91b2c7"}}) {
    const test::CommandResult refused = RunCommand(
        {WeirBinary(), "config", "show", "--set", key + "=" + value}, "", std::chrono::seconds(30));
    EXPECT_EQ(refused.exit_status, 2) << key;
    EXPECT_THAT(refused.err, HasSubstr(key)) << key;
    EXPECT_THAT(refused.out + refused.err, Not(HasSubstr(value))) << key;
  }

  const std::string dir = ::testing::TempDir() + "/weir-secrets";
  std::filesystem::remove_all(dir);
  std::filesystem::remove(dir + ".port");  // from an earlier run
  setenv("WEIR_CARD_TOKEN_KEY", token_key.c_str(), 1);
  std::vector<std::string> run = {WeirBinary(),
                                  "--log-level",
                                  "trace",
                                  "run",
                                  "--set",
                                  "kafka.debug=all",
                                  "--set",
                                  "metrics.host=127.0.0.1",
                                  "--set",
                                  "metrics.port=0",
                                  "--set",
                                  "state.dir=" + dir,
                                  "--progress-interval",
                                  "1",
                                  "--port-file",
                                  dir + ".port"};
  run.insert(run.end(), sets.begin(), sets.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> weir = Subprocess::Start(run, dir + ".log");
  unsetenv("WEIR_CARD_TOKEN_KEY");
  ASSERT_TRUE(weir.ok()) << weir.status();
  std::optional<std::string> bootstrap = (*weir)->ReadLine(std::chrono::seconds(60));
  ASSERT_TRUE(bootstrap.has_value());
  const int port = ReadPortFile(dir + ".port", std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(port, 0) << "weir wrote no --port-file; see " << dir << ".log";
  ASSERT_EQ(RunCommand({"kcat", "-b", *bootstrap, "-t", "payments", "-P", "-K|", "-X",
                        "partitioner=murmur2_random"},
                       FivePayments(), std::chrono::seconds(30))
                .exit_status,
            0);
  std::string alerts;
  WaitFor(
      [&] {
        alerts = RunCommand({"kcat", "-b", *bootstrap, "-t", "fraud-alerts", "-C", "-o",
                             "beginning", "-e", "-q"},
                            "", std::chrono::seconds(30))
                     .out;
        return !alerts.empty();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(200));
  EXPECT_THAT(alerts, HasSubstr("VELOCITY"));
  seen += alerts;
  for (const char* path : {"/metrics", "/tasks"}) {
    const HttpResponse response = HttpGet(port, path);
    EXPECT_EQ(response.status, 200) << path;
    seen += response.body;
  }
  std::vector<std::string> status = {WeirBinary(), "status", "--timeout",
                                     "10",         "--set",  "bootstrap.servers=" + *bootstrap};
  status.insert(status.end(), sets.begin(), sets.end());
  // The membership topic carries the instance's tasks from its next heartbeat on: one taken
  // before the tasks were assigned lists none, so ask until the task shows (30 s bound).
  test::CommandResult statused = RunCommand(status, "", std::chrono::seconds(30));
  for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       statused.out.find("0_0") == std::string::npos && std::chrono::steady_clock::now() < until;
       statused = RunCommand(status, "", std::chrono::seconds(30))) {
    seen += statused.out + statused.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the next heartbeat
  }
  EXPECT_EQ(statused.exit_status, 0) << statused.err;
  EXPECT_THAT(statused.out, HasSubstr("0_0"));
  seen += statused.out + statused.err;
  (*weir)->Signal(SIGTERM);
  EXPECT_EQ((*weir)->Wait(std::chrono::seconds(60)), 0);
  const std::string log = test::ReadFile(dir + ".log");
  EXPECT_THAT(log, HasSubstr("debug"));  // the log really was at its most verbose
  seen += log;

  for (const auto& [key, value] : secrets) EXPECT_THAT(seen, Not(HasSubstr(value))) << key;
  EXPECT_THAT(seen, Not(HasSubstr(token_key)));
}

}  // namespace
}  // namespace weir
