#include "topologies/fraud_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace weir::fraud {
namespace {

using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(FraudConfig, ShippedFileHasDesignDefaults) {
  absl::StatusOr<FraudConfig> config = LoadFraudConfig("config/fraud.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->payments_topic, "payments");
  EXPECT_EQ(config->alerts_topic, "fraud-alerts");
  EXPECT_EQ(config->dlq_topic, "payments-dlq");
  EXPECT_EQ(config->card_1m_size_ms, 60'000);
  EXPECT_EQ(config->card_5m_size_ms, 300'000);
  EXPECT_EQ(config->card_5m_advance_ms, 60'000);
  EXPECT_EQ(config->grace_ms, 30'000);
  EXPECT_EQ(config->velocity_count, 5);
  EXPECT_EQ(ParseAmountCents(config->high_spend_amount), 500'000);
  EXPECT_EQ(config->geo_hop_countries, 2);
}

TEST(FraudConfig, AmountsAreDecimalsWithAtMostTwoPlaces) {
  EXPECT_EQ(ParseAmountCents("5000"), 500'000);
  EXPECT_EQ(ParseAmountCents("125.4"), 12'540);
  EXPECT_EQ(ParseAmountCents("125.40"), 12'540);
  EXPECT_EQ(ParseAmountCents("0.01"), 1);
  for (const char* bad : {"", "0", "0.00", "1.234", "-5", "1.", ".5", "1e3", "12a", "1,00"}) {
    EXPECT_EQ(ParseAmountCents(bad), std::nullopt) << bad;
  }
}

TEST(FraudConfig, ErrorsNameFileKeyAndExpectation) {
  EXPECT_THAT(LoadFraudConfig(Write("f1.yaml", "rules:\n  velocity.cnt: 3\n")).status().ToString(),
              HasSubstr("f1.yaml:2: unknown key 'rules.velocity.cnt'; did you mean "
                        "'rules.velocity.count'?"));
  EXPECT_THAT(
      LoadFraudConfig(Write("f2.yaml", "rules.high_spend.amount: 12.345\n")).status().ToString(),
      HasSubstr("f2.yaml:1: key 'rules.high_spend.amount': expected a positive decimal with at "
                "most 2 places"));
  EXPECT_THAT(
      LoadFraudConfig(Write("f3.yaml", "card-5m.advance.ms: 70000\n")).status().ToString(),
      HasSubstr("key 'card-5m.advance.ms': expected a divisor of card-5m.size.ms (300000)"));
  EXPECT_THAT(LoadFraudConfig(Write("f6.yaml", "card-1m.size.ms: 60001\n")).status().ToString(),
              HasSubstr("f6.yaml: key 'card-5m.advance.ms': windows of 60001 ms and 300000 ms "
                        "advancing by 60000 ms with 30000 ms of grace would keep 330002 slices "
                        "of 1 ms per card (at most 1000)"));
  EXPECT_THAT(LoadFraudConfig(Write("f4.yaml", "topics.alerts: payments\n")).status().ToString(),
              HasSubstr("must differ"));
  EXPECT_THAT(LoadFraudConfig(Write("f5.yaml", "topics.dlq: 'bad topic'\n")).status().ToString(),
              HasSubstr("key 'topics.dlq': expected a topic name"));
  EXPECT_THAT(LoadFraudConfig("", {"grace.ms=-1"}).status().ToString(),
              HasSubstr("--set grace.ms=-1: key 'grace.ms': expected an integer in [0, 86400000]"));
}

}  // namespace
}  // namespace weir::fraud
