// The fraud topology through the test driver: each case is a short story of payments and the
// alerts (or dead letters) it must produce.
#include "topologies/fraud_topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/runtime/test_driver.h"
#include "stores/key_value_store.h"

namespace weir::fraud {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCard[] = "4111111111111111";
constexpr char kOtherCard[] = "5500005555555559";
constexpr int64_t kT0 = 1'732'270'000'000 - 1'732'270'000'000 % 300'000;  // a 5-minute boundary

class FraudTopologyTest : public ::testing::Test {
 protected:
  FraudTopologyTest()
      : tokenizer_("test-key"),
        driver_(BuildFraudTopology(FraudConfig{}, tokenizer_), {.application_id = "fraud"}) {}

  void Pay(const std::string& card, const std::string& amount, const std::string& country,
           int64_t ts, const std::string& merchant = "m-1") {
    const std::string txn = absl::StrCat("t", next_txn_++);
    PayRaw(card, absl::StrCat(R"({"txn_id":")", txn, R"(","card":")", card, R"(","amount":)",
                              amount, R"(,"currency":"EUR","merchant":")", merchant,
                              R"(","country":")", country, R"(","ts":)", ts, "}"));
  }
  void PayRaw(const std::string& key, const std::string& value) {
    ASSERT_TRUE(driver_.PipeRaw("payments", {.key = key, .value = value, .timestamp = 0}).ok());
  }
  // "RULE@window_start_offset_seconds count sum" for each alert, in order.
  std::vector<std::string> Alerts() {
    std::vector<std::string> out;
    for (const OutputRecord& r : driver_.ReadOutput("fraud-alerts")) {
      all_output_ += *r.record.key + *r.record.value;
      const nlohmann::json alert = nlohmann::json::parse(*r.record.value);
      EXPECT_EQ(r.record.key->size(), 32u) << "alerts are keyed by the card token";
      EXPECT_EQ(alert["alert_id"],
                absl::StrCat(*r.record.key, ":", alert["rule"].get<std::string>(), ":",
                             alert["window_start"].get<int64_t>()));
      // The sum exactly as written (a decimal with 2 places), not as a parsed double.
      const std::string& text = *r.record.value;
      const size_t sum_at = text.find("\"sum\":") + 6;
      out.push_back(absl::StrCat(alert["rule"].get<std::string>(), "@",
                                 (alert["window_start"].get<int64_t>() - kT0) / 1000, " ",
                                 alert["count"].get<int64_t>(), " ",
                                 text.substr(sum_at, text.find(',', sum_at) - sum_at)));
    }
    return out;
  }

  CardTokenizer tokenizer_;
  TopologyTestDriver driver_;
  int next_txn_ = 1;
  std::string all_output_;
};

TEST_F(FraudTopologyTest, VelocityFiresOnTheFifthPaymentInAMinuteOnce) {
  for (int i = 0; i < 7; ++i) Pay(kCard, "1.00", "DE", kT0 + i * 1000);
  EXPECT_THAT(Alerts(), ElementsAre("VELOCITY@0 5 5.00"));
}

TEST_F(FraudTopologyTest, AnAlertCarriesItsTxnIdEscapedAsJson) {
  // Quotes, a backslash, a newline, a control character and UTF-8, as a producer may send.
  const std::string txn = "t\"q\\b\ncontrol\x01-caf\xc3\xa9";
  for (int i = 0; i < 5; ++i) {
    PayRaw(kCard, absl::StrCat(R"({"txn_id":)", nlohmann::json(txn).dump(), R"(,"card":")", kCard,
                               R"(","amount":1.00,"merchant":"m","country":"DE","ts":)",
                               kT0 + i, "}"));
  }
  const std::vector<OutputRecord> alerts = driver_.ReadOutput("fraud-alerts");
  ASSERT_EQ(alerts.size(), 1u);
  const std::string& text = *alerts[0].record.value;
  EXPECT_THAT(text, HasSubstr(absl::StrCat(R"("txn_id":)", nlohmann::json(txn).dump(), ",")));
  EXPECT_EQ(nlohmann::json::parse(text)["txn_id"], txn);
  EXPECT_THAT(text, HasSubstr(R"("card":"411111******1111")"));
  EXPECT_THAT(text, HasSubstr(R"("sum":5.00,)"));
}

TEST_F(FraudTopologyTest, VelocityCooldownCoversOneWindowSize) {
  for (int i = 0; i < 5; ++i) Pay(kCard, "1.00", "DE", kT0 + i * 1000);
  // The next minute's window crosses again: it starts at s + S, so it may alert.
  for (int i = 0; i < 5; ++i) Pay(kCard, "1.00", "DE", kT0 + 60'000 + i * 1000);
  EXPECT_THAT(Alerts(), ElementsAre("VELOCITY@0 5 5.00", "VELOCITY@60 5 5.00"));
}

TEST_F(FraudTopologyTest, HighSpendReportsTheEarliestCrossingWindowOnly) {
  // 4000 at t0+250 s sits in windows starting 0, 60, 120, 180, 240 s; 1000 at t0+260 s crosses
  // 5000 in the windows starting 0 s ... 240 s that hold both: only the earliest alerts.
  Pay(kCard, "4000.00", "DE", kT0 + 250'000);
  Pay(kCard, "1000.00", "DE", kT0 + 260'000);
  EXPECT_THAT(Alerts(), ElementsAre("HIGH_SPEND@0 2 5000.00"));
  // Still within the cooldown of window 0 (windows starting before 300 s): no new alert.
  Pay(kCard, "5000.00", "DE", kT0 + 290'000);
  EXPECT_THAT(Alerts(), ElementsAre());
}

TEST_F(FraudTopologyTest, GeoHopFiresOnTheSecondCountry) {
  Pay(kCard, "10.00", "DE", kT0 + 1'000);
  Pay(kCard, "10.00", "DE", kT0 + 2'000);
  Pay(kCard, "10.00", "FR", kT0 + 3'000);
  // The earliest five-minute window holding t0+3 s starts 240 s before t0.
  EXPECT_THAT(Alerts(), ElementsAre("GEO_HOP@-240 3 30.00"));
}

TEST_F(FraudTopologyTest, CardsAreIndependent) {
  for (int i = 0; i < 4; ++i) Pay(kCard, "1.00", "DE", kT0 + i * 1000);
  for (int i = 0; i < 4; ++i) Pay(kOtherCard, "1.00", "DE", kT0 + i * 1000);
  EXPECT_THAT(Alerts(), ElementsAre());
}

TEST_F(FraudTopologyTest, LateRecordsAreDroppedPerWindowAndCounted) {
  Pay(kCard, "1.00", "DE", kT0 + 200'000);  // stream time t0+200 s; grace 30 s
  // At t0+10 s: the minute window [0, 60) and the five-minute windows [-240, 60) and
  // [-180, 120) end at or before 200 - 30 = 170 s: dropped for those 3 windows and counted; the
  // windows [-120, 180) ... [0, 300) still take it.
  Pay(kCard, "1.00", "DE", kT0 + 10'000);
  EXPECT_EQ(driver_.Totals().late, 3);
  EXPECT_EQ(driver_.Totals().dropped, 3);
  PayRaw(kCard, "not json");  // invalid: dropped-records too (Kafka Streams), but not late
  EXPECT_EQ(driver_.Totals().dropped, 4);
  EXPECT_EQ(driver_.Totals().late, 3);
}

TEST_F(FraudTopologyTest, InvalidPaymentsGoToTheDeadLetterTopicMasked) {
  PayRaw(kCard, "not json");
  PayRaw(kCard, R"({"txn_id":"t","card":"4111111111111111","amount":1.234,"merchant":"m",)"
                R"("country":"DE","ts":5})");
  PayRaw(kCard, R"({"txn_id":"t","card":"41111","amount":1,"merchant":"m","country":"DE","ts":5})");
  PayRaw(kCard, R"({"txn_id":"t","card":"4111111111111111","amount":-3,"merchant":"m",)"
                R"("country":"DE","ts":5})");
  PayRaw(kCard, R"({"txn_id":"t","card":"4111111111111111","amount":3,"merchant":"m",)"
                R"("country":"DE"})");
  PayRaw(kCard, R"({"txn_id":7,"card":"4111111111111111","amount":3,"merchant":"m",)"
                R"("country":"DE","ts":5})");
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), 6u);
  std::vector<std::string> errors;
  for (const OutputRecord& r : dead) {
    EXPECT_EQ(r.record.key, "411111******1111");
    EXPECT_THAT(*r.record.value, Not(HasSubstr(kCard)));
    for (const Header& h : r.record.headers) {
      if (h.key == "__streams.errors.message") errors.push_back(*h.value);
    }
    EXPECT_THAT(r.record.headers,
                ::testing::Contains(Header{"__streams.errors.topic", "payments"}));
  }
  EXPECT_THAT(errors,
              ElementsAre("not a JSON object", HasSubstr("at most 2 decimal places"),
                          "field 'card' must be 12-19 digits", HasSubstr("must be positive"),
                          "missing field 'ts'", "field 'txn_id' must be a string"));
  EXPECT_THAT(*dead[1].record.value, HasSubstr("411111******1111"));
  EXPECT_THAT(dead[5].record.headers, ::testing::Contains(Header{"__streams.errors.offset", "5"}));
}

TEST_F(FraudTopologyTest, PaymentsNotKeyedByTheirCardAreDeadLettersNotSilentlyMissed) {
  // Five payments of one card within a minute, each under another key: counted apart by
  // partition, they would raise nothing and say nothing.
  const std::vector<std::string> keys = {"5500005555555559", "customer-7", "", "4111111111111112",
                                         "4111111111111111 "};
  for (size_t i = 0; i < keys.size(); ++i) {
    PayRaw(keys[i], absl::StrCat(R"({"txn_id":"k)", i, R"(","card":")", kCard,
                                 R"(","amount":1,"merchant":"m","country":"DE","ts":)",
                                 kT0 + static_cast<int64_t>(i) * 1000, "}"));
  }
  EXPECT_THAT(Alerts(), ElementsAre());
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), keys.size());
  for (size_t i = 0; i < dead.size(); ++i) {
    const OutputRecord& r = dead[i];
    EXPECT_THAT(r.record.headers,
                ::testing::Contains(Header{"__streams.errors.exception", "InvalidKey"}));
    EXPECT_THAT(r.record.headers,
                ::testing::Contains(Header{"__streams.errors.message",
                                           keys[i].empty() ? "record key is missing: payments "
                                                             "must be keyed by their card"
                                                           : "key does not match card: payments "
                                                             "must be keyed by their card"}));
    EXPECT_THAT(*r.record.value, HasSubstr("411111******1111"));
    EXPECT_THAT(*r.record.value + r.record.key.value_or(""), Not(HasSubstr(kCard)));
  }
  EXPECT_EQ(driver_.Totals().dropped, 5);
  // Neither moved stream time: a payment keyed by its card at t0 is on time.
  for (int i = 0; i < 5; ++i) Pay(kCard, "1.00", "DE", kT0 + i * 1000);
  EXPECT_THAT(Alerts(), ElementsAre("VELOCITY@0 5 5.00"));
  EXPECT_EQ(driver_.Totals().late, 0);
}

TEST_F(FraudTopologyTest, ATruncatedPaymentIsReportedAsTruncatedWithItsLength) {
  const std::string whole = absl::StrCat(R"({"txn_id":"t","card":")", kCard,
                                         R"(","amount":1,"merchant":"m","country":"DE","ts":5})");
  PayRaw(kCard, whole.substr(0, 30));  // inside the card's string
  PayRaw(kCard, whole.substr(0, 48));  // after the key "amount"
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_THAT(dead[0].record.headers,
              ::testing::Contains(Header{"__streams.errors.message",
                                         "truncated JSON: the text ends at byte 30 inside a "
                                         "string"}));
  EXPECT_THAT(dead[1].record.headers,
              ::testing::Contains(Header{"__streams.errors.message",
                                         "truncated JSON: the text ends at byte 48 inside an "
                                         "object"}));
}

// An oversized field would make the payment's alert (txn_id) or stored aggregate (merchant,
// country) too large to send: such a payment is invalid, not a way to stop the service.
TEST_F(FraudTopologyTest, APaymentWithAnOversizedFieldIsADeadLetter) {
  const std::string long_merchant(300, 'm');
  PayRaw(kCard, absl::StrCat(R"({"txn_id":"t","card":")", kCard, R"(","amount":1,"merchant":")",
                             long_merchant, R"(","country":"DE","ts":5})"));
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_THAT(dead[0].record.headers,
              ::testing::Contains(
                  Header{"__streams.errors.message", "field 'merchant' is longer than 256 bytes"}));
}

TEST_F(FraudTopologyTest, DeadLettersKeepTheRecordsOwnHeadersMasked) {
  ASSERT_TRUE(driver_
                  .PipeRaw("payments", {.key = kCard,
                                        .value = "not json",
                                        .timestamp = 0,
                                        .headers = {{"trace-id", "abc"}, {"card", kCard}}})
                  .ok());
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), 1u);
  ASSERT_GE(dead[0].record.headers.size(), 3u);
  EXPECT_EQ(dead[0].record.headers[0], (Header{"trace-id", "abc"}));
  EXPECT_EQ(dead[0].record.headers[1], (Header{"card", "411111******1111"}));
  EXPECT_EQ(dead[0].record.headers[2], (Header{"__streams.errors.exception", "InvalidPayment"}));
}

TEST_F(FraudTopologyTest, DeadLettersMaskCardsThatFailLuhnToo) {
  const std::string card = "4000123412341234";  // fails Luhn, still a card-shaped number
  PayRaw(card, R"({"txn_id":"t","card":"4000123412341234","amount":"12","merchant":"m",)"
               R"("country":"DE","ts":1732270000000})");
  std::vector<OutputRecord> dead = driver_.ReadOutput("payments-dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].record.key, "400012******1234");
  EXPECT_THAT(*dead[0].record.value, Not(HasSubstr(card)));
  EXPECT_THAT(*dead[0].record.value, HasSubstr("\"ts\":1732270000000"));
}

TEST_F(FraudTopologyTest, NoCardNumberInClearInStoresOrAlerts) {
  for (int i = 0; i < 5; ++i) Pay(kCard, "2000.00", i % 2 ? "DE" : "FR", kT0 + i * 1000);
  EXPECT_FALSE(Alerts().empty());
  EXPECT_THAT(all_output_, Not(HasSubstr(kCard)));
  EXPECT_THAT(all_output_, HasSubstr("411111******1111"));
  auto* cards = dynamic_cast<KeyValueBytesStore*>(driver_.store({0, 0}, kCardWindowsStore));
  ASSERT_NE(cards, nullptr);
  int entries = 0;
  cards->All([&](absl::string_view key, absl::string_view value) {
    ++entries;
    EXPECT_THAT(std::string(key), Not(HasSubstr(kCard)));
    EXPECT_THAT(std::string(value), Not(HasSubstr(kCard)));
    return true;
  });
  EXPECT_EQ(entries, 1);  // one value per card
}

TEST(Payment, MasksAndTokens) {
  EXPECT_EQ(MaskCard("4111111111111111"), "411111******1111");
  // Every 12-19 digit run is masked, Luhn-valid or not; short runs and "ts" values are not.
  EXPECT_EQ(MaskCardNumbers("card 4111111111111111, id 12345, ref 4111111111111112"),
            "card 411111******1111, id 12345, ref 411111******1112");
  EXPECT_EQ(MaskCardNumbers(R"({"card":"4000000000000001","ts": 1732270000000,"n":1732270000000})"),
            R"({"card":"400000******0001","ts": 1732270000000,"n":173227***0000})");
  const CardTokenizer a("k1"), b("k2");
  EXPECT_EQ(a.Token(kCard), a.Token(kCard));
  EXPECT_NE(a.Token(kCard), b.Token(kCard));
  EXPECT_EQ(a.Token(kCard).size(), 32u);
  EXPECT_EQ(FormatCents(500'000), "5000.00");
  EXPECT_EQ(FormatCents(1'205), "12.05");
}

}  // namespace
}  // namespace weir::fraud
