#include "topologies/fraud_config.h"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/processor/topic_name.h"

namespace weir::fraud {
namespace {

constexpr int64_t kDay = 86'400'000;

}  // namespace

const config::Schema<FraudConfig>& FraudConfigSchema() {
  using F = FraudConfig;
  static const auto* schema =
      &(*new config::Schema<FraudConfig>())
           .String("topics.payments", &F::payments_topic,
                   "Input topic: key = card number, value = JSON payment.")
           .String("topics.alerts", &F::alerts_topic, "Output topic of alerts.")
           .String("topics.dlq", &F::dlq_topic,
                   "Dead-letter topic for records that are not valid payments.")
           .Int("card-1m.size.ms", &F::card_1m_size_ms, 1'000, kDay,
                "Size of the tumbling windows `card-1m`.")
           .Int("card-5m.size.ms", &F::card_5m_size_ms, 1'000, kDay,
                "Size of the hopping windows `card-5m`.")
           .Int("card-5m.advance.ms", &F::card_5m_advance_ms, 1'000, kDay,
                "Advance of the hopping windows `card-5m`; divides their size.")
           .Int("grace.ms", &F::grace_ms, 0, kDay,
                "Grace period: a record is dropped (and counted) for a window whose end is at "
                "or before stream time minus grace.")
           .Int("rules.velocity.count", &F::velocity_count, 1, 1'000'000,
                "VELOCITY fires when a card's count in a `card-1m` window reaches this.")
           .String("rules.high_spend.amount", &F::high_spend_amount,
                   "HIGH_SPEND fires when a card's sum in a `card-5m` window reaches this "
                   "amount (a decimal with at most 2 places).")
           .Int("rules.geo_hop.countries", &F::geo_hop_countries, 2, 1'000,
                "GEO_HOP fires when a card's distinct countries in a `card-5m` window reach this.")
           .String("card.token.key.env", &F::card_token_key_env,
                   "Environment variable with the secret key of the card token (HMAC-SHA256).");
  return *schema;
}

int64_t SliceWidthMs(const FraudConfig& config) {
  return std::gcd(std::gcd(config.card_1m_size_ms, config.card_5m_size_ms),
                  config.card_5m_advance_ms);
}

std::optional<int64_t> ParseAmountCents(absl::string_view text) {
  const size_t dot = text.find('.');
  const absl::string_view whole = text.substr(0, dot);
  const absl::string_view fraction =
      dot == absl::string_view::npos ? absl::string_view() : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 15 || fraction.size() > 2 ||
      (dot != absl::string_view::npos && fraction.empty())) {
    return std::nullopt;
  }
  int64_t units = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    units = units * 10 + (c - '0');
  }
  int64_t cents = 0;
  for (size_t i = 0; i < 2; ++i) {
    const char c = i < fraction.size() ? fraction[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    cents = cents * 10 + (c - '0');
  }
  const int64_t total = units * 100 + cents;
  return total > 0 ? std::optional<int64_t>(total) : std::nullopt;
}

absl::StatusOr<FraudConfig> LoadFraudConfig(const std::string& path,
                                            const std::vector<std::string>& overrides) {
  FraudConfig config;
  config::Provenance provenance;
  const config::Schema<FraudConfig>& schema = FraudConfigSchema();
  if (!path.empty()) WEIR_RETURN_IF_ERROR(schema.LoadFile(path, config, &provenance));
  for (const std::string& assignment : overrides) {
    WEIR_RETURN_IF_ERROR(schema.Set(assignment, config, &provenance));
  }
  const auto invalid = [&](const std::string& key, absl::string_view why) {
    return config::KeyError(provenance, key, path.empty() ? "defaults" : path, why);
  };
  if (config.card_5m_advance_ms > config.card_5m_size_ms ||
      config.card_5m_size_ms % config.card_5m_advance_ms != 0) {
    return invalid("card-5m.advance.ms",
                   absl::StrCat("expected a divisor of card-5m.size.ms (", config.card_5m_size_ms,
                                "), got ", config.card_5m_advance_ms));
  }
  // A card keeps the slices of every window still open: a longest window and its grace.
  const int64_t slices =
      (std::max(config.card_1m_size_ms, config.card_5m_size_ms) + config.grace_ms) /
          SliceWidthMs(config) + 2;
  if (slices > kMaxSlicesPerCard) {
    return invalid("card-5m.advance.ms",
                   absl::StrCat("windows of ", config.card_1m_size_ms, " ms and ",
                                config.card_5m_size_ms, " ms advancing by ",
                                config.card_5m_advance_ms, " ms with ", config.grace_ms,
                                " ms of grace would keep ", slices, " slices of ",
                                SliceWidthMs(config), " ms per card (at most ", kMaxSlicesPerCard,
                                "): choose sizes and advance with a larger common divisor"));
  }
  if (!ParseAmountCents(config.high_spend_amount).has_value()) {
    return invalid("rules.high_spend.amount",
                   absl::StrCat("expected a positive decimal with at most 2 places such as "
                                "5000.00, got '",
                                config.high_spend_amount, "'"));
  }
  const std::pair<const char*, const std::string*> topics[] = {
      {"topics.payments", &config.payments_topic},
      {"topics.alerts", &config.alerts_topic},
      {"topics.dlq", &config.dlq_topic}};
  for (const auto& [key, topic] : topics) {
    if (!IsLegalTopicName(*topic)) {
      return invalid(key, absl::StrCat("expected a topic name (1-249 letters, digits, '.', '_', "
                                       "'-'), got '",
                                       *topic, "'"));
    }
  }
  if (config.payments_topic == config.alerts_topic || config.payments_topic == config.dlq_topic ||
      config.alerts_topic == config.dlq_topic) {
    return invalid("topics.payments", "the payments, alerts and dead-letter topics must differ");
  }
  return config;
}

}  // namespace weir::fraud
