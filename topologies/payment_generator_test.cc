// The payment generator: deterministic, valid payments with the promised distributions, and
// injected patterns that the fraud topology detects - every one (recall 100%).
#include "topologies/payment_generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/runtime/test_driver.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment.h"

namespace weir::fraud {
namespace {

PaymentGenerator Generator(PaymentGeneratorOptions options) {
  absl::StatusOr<PaymentGenerator> generator = PaymentGenerator::Create(options, FraudConfig{});
  EXPECT_TRUE(generator.ok()) << generator.status();
  return *std::move(generator);
}

TEST(PaymentGenerator, TheSameSeedGivesTheSamePaymentsAndAnotherSeedOthers) {
  PaymentGenerator a = Generator({.seed = 7}), b = Generator({.seed = 7}),
                   c = Generator({.seed = 8});
  int differing = 0;
  for (int i = 0; i < 5'000; ++i) {
    const GeneratedPayment x = a.Next(), y = b.Next(), z = c.Next();
    ASSERT_EQ(x.json, y.json) << "payment " << i;
    differing += x.json != z.json;
  }
  EXPECT_GT(differing, 4'000);
}

TEST(PaymentGenerator, PaymentsAreValidAndFollowTheDistributions) {
  PaymentGenerator generator = Generator({.cards = 10'000, .fraud_fraction = 0, .rate = 1'000});
  std::map<std::string, int> per_card;
  std::map<std::string, std::set<std::string>> countries_of_card;
  std::vector<int64_t> amounts;
  int64_t last_ts = 0;
  constexpr int kPayments = 100'000;
  for (int i = 0; i < kPayments; ++i) {
    const GeneratedPayment p = generator.Next();
    Payment parsed;
    const absl::Status status = ParsePayment(p.json, CardTokenizer("k"), parsed);
    ASSERT_TRUE(status.ok()) << p.json << ": " << status;
    EXPECT_GE(parsed.ts(), last_ts) << "background payments come in event-time order";
    last_ts = parsed.ts();
    ++per_card[p.card];
    countries_of_card[p.card].insert(std::string(parsed.country()));
    amounts.push_back(parsed.amount_cents());
  }
  // Event time advances 1 ms per payment at 1,000/s.
  EXPECT_EQ(last_ts - 1'732'269'900'000, kPayments - 1);
  // Zipf: the busiest card pays far more often than the average card.
  int busiest = 0;
  for (const auto& [card, n] : per_card) busiest = std::max(busiest, n);
  EXPECT_GT(busiest, 10 * kPayments / static_cast<int>(per_card.size()));
  // Log-normal: median near exp(3.5) = 33.12, a long right tail, capped at 1000.00.
  std::sort(amounts.begin(), amounts.end());
  EXPECT_NEAR(static_cast<double>(amounts[amounts.size() / 2]), 3'312, 300);
  EXPECT_GT(amounts[amounts.size() * 99 / 100], 5 * amounts[amounts.size() / 2]);
  EXPECT_LE(amounts.back(), 100'000);
  // A background card stays in its home country: no geo hop comes from background traffic.
  for (const auto& [card, countries] : countries_of_card) EXPECT_EQ(countries.size(), 1u) << card;
}

TEST(PaymentGenerator, EveryInjectedPatternIsDetected) {
  PaymentGenerator generator = Generator({.cards = 5'000, .seed = 3, .fraud_fraction = 0.02});
  const CardTokenizer tokenizer("recall-key");
  TopologyTestDriver driver(BuildFraudTopology(FraudConfig{}, tokenizer),
                            {.application_id = "recall"});
  std::set<std::pair<std::string, std::string>> alerts;  // (rule, txn_id)
  std::vector<ExpectedAlert> expected;
  for (int i = 0; i < 50'000; ++i) {
    GeneratedPayment p = generator.Next();
    ASSERT_TRUE(driver.PipeRaw("payments", {.key = p.card, .value = p.json}).ok());
    for (ExpectedAlert& e : generator.TakeExpected()) expected.push_back(std::move(e));
  }
  for (const OutputRecord& r : driver.ReadOutput("fraud-alerts")) {
    const nlohmann::json alert = nlohmann::json::parse(*r.record.value);
    alerts.insert({alert["rule"].get<std::string>(), alert["txn_id"].get<std::string>()});
  }
  ASSERT_GT(generator.patterns_injected("VELOCITY"), 20);
  ASSERT_GT(generator.patterns_injected("GEO_HOP"), 20);
  ASSERT_GT(generator.patterns_injected("HIGH_SPEND"), 20);
  ASSERT_GT(expected.size(), 60u);
  for (const ExpectedAlert& e : expected) {
    EXPECT_TRUE(alerts.contains({e.rule, e.txn_id}))
        << e.rule << " on " << e.txn_id << " (" << e.masked_card << ") was not raised";
  }
}

TEST(PaymentGenerator, StampedWithASendTimeNoPaymentIsAheadOfIt) {
  PaymentGenerator generator = Generator({.fraud_fraction = 0.3, .start_ms = 1'000'000});
  int64_t previous = 0;
  int64_t clock = 1'000'000;
  for (int i = 0; i < 20'000; ++i) {
    clock += 1;                    // a sender at 1,000 payments/s: 20 s in all
    if (i == 10'000) clock -= 50;  // a clock step back must not move event time back
    const GeneratedPayment payment = generator.Next(clock);
    ASSERT_LE(payment.ts, std::max(clock, previous)) << "payment " << i << " from the future";
    ASSERT_GE(payment.ts, 1'000'000) << "payment " << i;
    previous = std::max(previous, payment.ts);
  }
  // Injected patterns keep their spacing in event time (a burst's payments 1 s apart): bursts
  // begun early enough in the 20 s have completed.
  EXPECT_GT(generator.TakeExpected().size(), 0u);
}

TEST(PaymentGenerator, OutOfRangeOptionsAreRefused) {
  EXPECT_FALSE(PaymentGenerator::Create({.cards = 0}, FraudConfig{}).ok());
  EXPECT_FALSE(PaymentGenerator::Create({.fraud_fraction = 0.9}, FraudConfig{}).ok());
  EXPECT_FALSE(PaymentGenerator::Create({.rate = 0}, FraudConfig{}).ok());
  FraudConfig tight;
  tight.card_1m_size_ms = 2'000;  // no room for 5 payments 1 s apart
  EXPECT_THAT(PaymentGenerator::Create({}, tight).status().message(),
              ::testing::HasSubstr("no room for the injected patterns"));
}

}  // namespace
}  // namespace weir::fraud
