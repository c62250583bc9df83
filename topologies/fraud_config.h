// Settings of the fraud-detection topology (config/fraud.yaml): topics, windows, grace and rule
// thresholds (docs/fraud.md). Declared once; `weir` validates the file at load and
// docs/fraud.md lists every key.
#ifndef WEIR_TOPOLOGIES_FRAUD_CONFIG_H_
#define WEIR_TOPOLOGIES_FRAUD_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config_schema.h"

namespace weir::fraud {

struct FraudConfig {
  std::string payments_topic = "payments";    // input: key = card number, value = JSON payment
  std::string alerts_topic = "fraud-alerts";  // output: one JSON alert per rule firing
  std::string dlq_topic = "payments-dlq";     // invalid payments, with error headers
  // Windows card-1m: tumbling.
  int64_t card_1m_size_ms = 60'000;
  // Windows card-5m: hopping.
  int64_t card_5m_size_ms = 300'000;
  int64_t card_5m_advance_ms = 60'000;
  // A record is late for a window when window end <= stream time - grace.
  int64_t grace_ms = 30'000;
  // VELOCITY: count in a card-1m window reaches this.
  int64_t velocity_count = 5;
  // HIGH_SPEND: sum in a card-5m window reaches this amount (decimal, at most 2 places).
  std::string high_spend_amount = "5000.00";
  // GEO_HOP: distinct countries in a card-5m window reach this.
  int64_t geo_hop_countries = 2;
  // Environment variable holding the key of the card token (HMAC-SHA256 of the card number).
  std::string card_token_key_env = "WEIR_CARD_TOKEN_KEY";
};

// The width of a card's slices (topologies/fraud_aggregates.h): the largest that divides every
// window's size and advance, so each window is a whole number of slices.
int64_t SliceWidthMs(const FraudConfig& config);
// At most this many slices per card: LoadFraudConfig refuses windows that would need more.
inline constexpr int64_t kMaxSlicesPerCard = 1'000;

// The declaration of every key of FraudConfig.
const config::Schema<FraudConfig>& FraudConfigSchema();

// Parses a positive decimal amount with at most 2 places ("5000", "125.4", "125.40") into cents;
// nullopt when it is not one.
std::optional<int64_t> ParseAmountCents(absl::string_view text);

// Loads `path` over the defaults, applies `overrides`, and checks the cross-key rules (advance
// divides the hopping size, at most kMaxSlicesPerCard slices, amounts are decimals, topics
// differ). Errors name file, key and
// expectation.
absl::StatusOr<FraudConfig> LoadFraudConfig(const std::string& path,
                                            const std::vector<std::string>& overrides = {});

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_FRAUD_CONFIG_H_
