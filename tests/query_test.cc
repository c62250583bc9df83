// Interactive queries across instances: three `weir run` processes of one application share six
// partitions on `weir broker`, with one standby replica. A card's windows asked from any
// instance - the one running its partition or another, which forwards the query - equal what
// `weir replay --query` holds for that card after the same payments; with allow_stale the
// instance keeping the task's standby answers from it. The bearer token is required; no card
// number reaches any instance's log. Under load it prints the query latency (docs/queries.md
// quotes it). On a real cluster too (ctest -L kafka).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http_client.h"
#include "engine/kafka/topic_offsets.h"
#include "tests/support/alerts.h"
#include "tests/support/broker_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"
#include "topologies/fraud_topology.h"

namespace weir {
namespace {

using test::ReadFile;
using test::RunCommand;
using test::Subprocess;
using test::WaitFor;
using test::WeirBinary;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 6;
constexpr int kInstances = 3;
constexpr int kRecords = 20'000;
constexpr int kCardsAsked = 40;
constexpr char kApplication[] = "iq";
constexpr char kToken[] = "query-test-bearer-token-0123456789";

class Queries : public test::FraudBrokerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartBrokerIn("query", kApplication, kPartitions));
    setenv("WEIR_CARD_TOKEN_KEY", "query-test-secret", 1);  // children inherit them
    setenv("WEIR_QUERY_TOKEN", kToken, 1);
  }
  void TearDown() override {
    for (auto& instance : instances_) instance->Signal(SIGKILL);
    FraudBrokerTest::TearDown();
  }

  std::vector<std::string> LoadgenFlags() const {
    return {"--records", absl::StrCat(kRecords), "--rate",   "0",
            "--cards",   "1000",                 "--seed",   "5",
            "--start-ts", "1732269900000",       "--progress-interval", "0"};
  }

  HttpResponse Ask(int port, const std::string& path, const std::string& body,
                   bool with_token = true) const {
    HttpCall call{.url = absl::StrCat("http://127.0.0.1:", port, path), .body = body};
    if (with_token) call.headers.push_back(absl::StrCat("Authorization: Bearer ", kToken));
    return HttpSend(call);
  }

  // Asks until the answer is 200 (a 503 says to retry: a rebalance or a restore). The last
  // answer, whatever its status.
  HttpResponse AskUntilAnswered(int port, const std::string& path, const std::string& body) {
    HttpResponse response;
    WaitFor([&] { return (response = Ask(port, path, body)).status == 200; },
            std::chrono::seconds(60), std::chrono::milliseconds(200));
    return response;
  }

  std::vector<std::unique_ptr<Subprocess>> instances_;
};

TEST_F(Queries, EveryInstanceAnswersACardsWindowsAsTheReplayHoldsThem) {
  // The payments, and the cards asked about: the first kCardsAsked distinct ones.
  const std::string payments = (root_ / "payments.jsonl").string();
  std::vector<std::string> to_file = {WeirBinary(), "loadgen", "--output", payments};
  for (const std::string& flag : LoadgenFlags()) to_file.push_back(flag);
  ASSERT_EQ(RunCommand(to_file, "", std::chrono::seconds(120)).exit_status, 0);
  std::vector<std::string> cards;
  std::set<std::string> all_cards;
  {
    std::ifstream in(payments);
    std::string line;
    while (std::getline(in, line)) {
      const std::string card = nlohmann::json::parse(line)["card"];
      if (all_cards.insert(card).second && cards.size() < kCardsAsked) cards.push_back(card);
    }
  }
  ASSERT_EQ(cards.size(), static_cast<size_t>(kCardsAsked));
  const std::string bodies = (root_ / "cards.jsonl").string();
  {
    std::ofstream out(bodies);
    for (const std::string& card : cards) out << nlohmann::json{{"card", card}}.dump() << "\n";
  }
  // What the replay's state holds for them, over the same six partitions.
  std::map<std::string, std::vector<nlohmann::json>> expected;  // view -> answers, card order
  for (const std::string view : {"card-5m/windows", "card-1m/windows", "card-windows/key"}) {
    const std::string answers = (root_ / absl::StrCat(view.substr(0, 7), ".jsonl")).string();
    const test::CommandResult replay = RunCommand(
        {WeirBinary(), "replay", "--input", payments, "--output", "/dev/null", "--partitions",
         absl::StrCat(kPartitions), "--query", view, "--queries", bodies, "--answers", answers},
        "", std::chrono::seconds(300));
    ASSERT_EQ(replay.exit_status, 0) << replay.err;
    for (const absl::string_view line :
         absl::StrSplit(ReadFile(answers), '\n', absl::SkipEmpty())) {
      expected[view].push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(expected[view].size(), cards.size()) << view;
  }
  EXPECT_TRUE(expected["card-5m/windows"][0]["found"].get<bool>()) << "the first card paid";

  // Three instances, one stream thread each.
  std::vector<int> ports;
  for (int i = 0; i < kInstances; ++i) {
    const std::string log = (root_ / absl::StrCat("run-", i, ".log")).string();
    std::vector<std::string> run = {
        WeirBinary(), "run", "--progress-interval", "0", "--port-file", log + ".port",
        "--set", "bootstrap.servers=" + bootstrap_,
        "--set", absl::StrCat("application.id=", kApplication),
        "--set", "num.stream.threads=1",
        "--set", "metrics.host=127.0.0.1",
        "--set", "metrics.port=0",
        "--set", "http.auth.token.env=WEIR_QUERY_TOKEN",
        "--set", "num.standby.replicas=1",
        "--set", "consumer.session.timeout.ms=6000",
        "--set", "state.dir=" + (root_ / absl::StrCat("state-", i)).string()};
    std::filesystem::remove(log + ".port");
    absl::StatusOr<std::unique_ptr<Subprocess>> started = Subprocess::Start(run, log);
    ASSERT_TRUE(started.ok()) << started.status();
    instances_.push_back(*std::move(started));
    const int port = ReadPortFile(log + ".port", std::chrono::seconds(60)).value_or(0);
    ASSERT_NE(port, 0) << "see " << log;
    ports.push_back(port);
  }
  for (int port : ports) {
    ASSERT_TRUE(WaitFor([&] { return HttpGet(port, "/readyz").status == 200; },
                        std::chrono::seconds(120)))
        << "an instance did not get ready; logs in " << root_;
  }
  std::vector<std::string> to_kafka = {WeirBinary(), "loadgen", "--set",
                                       "bootstrap.servers=" + bootstrap_};
  for (const std::string& flag : LoadgenFlags()) to_kafka.push_back(flag);
  ASSERT_EQ(RunCommand(to_kafka, "", std::chrono::seconds(120)).exit_status, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        return CommittedRecords(bootstrap_, kApplication, "payments", kPartitions) == kRecords;
      },
      std::chrono::seconds(120)))
      << "the instances did not process every payment; logs in " << root_;

  // Every card from every instance, in every view, equals the replay's state.
  int forwarded = 0;
  for (int i = 0; i < kInstances; ++i) {
    const std::string self = absl::StrCat("127.0.0.1:", ports[i]);
    for (const auto& [view, answers] : expected) {
      for (size_t c = 0; c < cards.size(); ++c) {
        const HttpResponse response = AskUntilAnswered(
            ports[i], absl::StrCat("/state/", view), nlohmann::json{{"card", cards[c]}}.dump());
        ASSERT_EQ(response.status, 200) << view << " from instance " << i << ": " << response.body;
        const nlohmann::json answer = nlohmann::json::parse(response.body);
        const nlohmann::json& want = answers[c];
        EXPECT_EQ(answer["found"], want["found"]) << view << " card #" << c;
        EXPECT_EQ(answer["task"], want["task"]) << view << " card #" << c;
        EXPECT_EQ(answer["token"], want["token"]);
        EXPECT_EQ(answer["card"], want["card"]);
        EXPECT_EQ(answer["stale"], false);
        const char* content = view == "card-windows/key" ? "slices" : "windows";
        EXPECT_EQ(answer[content], want[content])
            << view << " card #" << c << " from instance " << i;
        forwarded += answer["served_by"] != self;
      }
    }
  }
  EXPECT_GT(forwarded, 0) << "no query went to another instance";
  std::printf("%d of %d answers came from another instance than the one asked\n", forwarded,
              kInstances * 3 * kCardsAsked);

  // With allow_stale, the instance keeping a task's standby answers from it, saying so; once
  // the standby has caught up it holds the same windows.
  const nlohmann::json stale_body = {{"card", cards[0]}, {"allow_stale", true}};
  int stale_answers = 0;
  for (int i = 0; i < kInstances; ++i) {
    HttpResponse response;
    nlohmann::json answer;
    ASSERT_TRUE(WaitFor(
        [&] {
          response = Ask(ports[i], "/state/card-5m/windows", stale_body.dump());
          if (response.status != 200) return false;
          answer = nlohmann::json::parse(response.body);
          return !answer["stale"].get<bool>() || answer["lag"] == 0;
        },
        std::chrono::seconds(60)))
        << response.status << " " << response.body;
    if (answer["stale"].get<bool>()) {
      ++stale_answers;
      EXPECT_EQ(answer["served_by"], absl::StrCat("127.0.0.1:", ports[i]));
    }
    EXPECT_EQ(answer["windows"], expected["card-5m/windows"][0]["windows"]) << "instance " << i;
  }
  EXPECT_EQ(stale_answers, 1) << "one instance keeps the card's task as a standby";

  // By token, every partition is asked; the answer is the same.
  const std::string token = expected["card-5m/windows"][0]["token"];
  const HttpResponse by_token = AskUntilAnswered(ports[0], "/state/card-5m/windows",
                                                 nlohmann::json{{"token", token}}.dump());
  ASSERT_EQ(by_token.status, 200) << by_token.body;
  EXPECT_EQ(nlohmann::json::parse(by_token.body)["windows"],
            expected["card-5m/windows"][0]["windows"]);
  EXPECT_FALSE(nlohmann::json::parse(by_token.body).contains("card"));

  // `weir query`: the card from stdin, the token from http.auth.token.env; the server as
  // HOST:PORT or as a URL.
  const std::string server = absl::StrCat("127.0.0.1:", ports[1]);
  const test::CommandResult as_json =
      RunCommand({WeirBinary(), "query", "--card", "-", "--store", "card-5m", "--json", "--server",
                  server, "--set", "http.auth.token.env=WEIR_QUERY_TOKEN"},
                 cards[0] + "\n", std::chrono::seconds(60));
  ASSERT_EQ(as_json.exit_status, 0) << as_json.err;
  EXPECT_EQ(nlohmann::json::parse(as_json.out)["windows"],
            expected["card-5m/windows"][0]["windows"]);
  const test::CommandResult table =
      RunCommand({WeirBinary(), "query", "--card", "-", "--store", "card-1m", "--server",
                  absl::StrCat("http://", server, "/"), "--set",
                  "http.auth.token.env=WEIR_QUERY_TOKEN"},
                 cards[0] + "\n", std::chrono::seconds(60));
  ASSERT_EQ(table.exit_status, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::HasSubstr(expected["card-1m/windows"][0]["card"]));
  EXPECT_THAT(table.out, ::testing::HasSubstr("WINDOW START (UTC)"));
  EXPECT_THAT(table.out + table.err, ::testing::Not(::testing::HasSubstr(cards[0])));
  const test::CommandResult no_token =
      RunCommand({WeirBinary(), "query", "--card", "-", "--server", server}, cards[0] + "\n",
                 std::chrono::seconds(60));
  EXPECT_EQ(no_token.exit_status, 2);
  EXPECT_THAT(no_token.err, ::testing::HasSubstr("needs its bearer token"));

  // Without the token: 401, and /tasks too; a bad body: 400 without echoing it.
  EXPECT_EQ(Ask(ports[1], "/state/card-5m/windows", nlohmann::json{{"card", cards[0]}}.dump(),
                /*with_token=*/false)
                .status,
            401);
  EXPECT_EQ(HttpGet(ports[1], "/tasks").status, 401);
  const HttpResponse bad = Ask(ports[1], "/state/card-5m/windows",
                               nlohmann::json{{"card", cards[0] + "x"}}.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, ::testing::Not(::testing::HasSubstr(cards[0])));

  // A rebalance: the third instance leaves, its tasks move to the other two (from their standbys
  // or the changelogs). Meanwhile every answer the two give is the replay's or a 503.
  instances_[2]->Signal(SIGTERM);
  int unavailable = 0, answered = 0;
  bool settled = false;
  const auto give_up = Clock::now() + std::chrono::seconds(90);
  while (!settled && Clock::now() < give_up) {
    settled = instances_[2]->Wait(std::chrono::milliseconds(0)).has_value();
    for (int i = 0; i < 2; ++i) {
      for (size_t c = 0; c < cards.size(); ++c) {
        const HttpResponse response = Ask(ports[i], "/state/card-5m/windows",
                                          nlohmann::json{{"card", cards[c]}}.dump());
        if (response.status == 503) {
          ++unavailable;
          settled = false;
          continue;
        }
        ASSERT_EQ(response.status, 200) << response.body;
        ++answered;
        EXPECT_EQ(nlohmann::json::parse(response.body)["windows"],
                  expected["card-5m/windows"][c]["windows"])
            << "a wrong answer during the rebalance: card #" << c << " from instance " << i;
      }
    }
  }
  EXPECT_TRUE(settled) << "the two instances did not answer every card within 90 s";
  std::printf("while instance 2 left: %d answers, all the replay's; %d were 503\n", answered,
              unavailable);

  // Latency: queries round-robin over instances and cards while new payments (stamped with
  // their send time) stream at 2,000/s.
  const std::vector<std::string> stream = {
      WeirBinary(), "loadgen", "--set", "bootstrap.servers=" + bootstrap_, "--records", "30000",
      "--rate", "2000", "--cards", "1000", "--seed", "6", "--progress-interval", "0"};
  absl::StatusOr<std::unique_ptr<Subprocess>> producer =
      Subprocess::Start(stream, (root_ / "loadgen.log").string());
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::vector<double> local_ms, forwarded_ms;
  for (int q = 0; q < 1'500; ++q) {
    const int i = q % 2;  // the two instances left
    const auto start = Clock::now();
    const HttpResponse response =
        Ask(ports[i], "/state/card-5m/windows",
            nlohmann::json{{"card", cards[static_cast<size_t>(q) % cards.size()]}}.dump());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (response.status != 200) continue;  // counted below: most must be answered
    const bool here = nlohmann::json::parse(response.body)["served_by"] ==
                      absl::StrCat("127.0.0.1:", ports[i]);
    (here ? local_ms : forwarded_ms).push_back(ms);
  }
  EXPECT_EQ((*producer)->Wait(std::chrono::seconds(120)), 0);
  const auto percentile = [](std::vector<double> v, double p) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
  };
  std::printf(
      "query latency under 2000 payments/s, ms: answered here (%zu) p50 %.2f p99 %.2f max %.2f; "
      "forwarded (%zu) p50 %.2f p99 %.2f max %.2f\n",
      local_ms.size(), percentile(local_ms, 0.5), percentile(local_ms, 0.99),
      percentile(local_ms, 1.0), forwarded_ms.size(), percentile(forwarded_ms, 0.5),
      percentile(forwarded_ms, 0.99), percentile(forwarded_ms, 1.0));
  EXPECT_GT(local_ms.size() + forwarded_ms.size(), 1'400u) << "most queries should be answered";

  // PCI: no card number in any instance's log.
  for (auto& instance : instances_) instance->Signal(SIGTERM);
  for (int i = 0; i < kInstances; ++i) {
    EXPECT_EQ(instances_[i]->Wait(std::chrono::seconds(60)), 0) << "instance " << i;
    const std::string log = ReadFile((root_ / absl::StrCat("run-", i, ".log")).string());
    EXPECT_THAT(test::CardsIn(log, all_cards), ::testing::IsEmpty()) << "instance " << i;
  }
  instances_.clear();
}

}  // namespace
}  // namespace weir
