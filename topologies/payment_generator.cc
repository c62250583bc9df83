#include "topologies/payment_generator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "topologies/payment.h"

namespace weir::fraud {
namespace {

struct Country {
  const char* code;
  int weight;  // out of 100
};
constexpr Country kCountries[] = {{"DE", 30}, {"FR", 20}, {"GB", 15},
                                  {"US", 15}, {"NL", 10}, {"ES", 10}};
constexpr int64_t kMerchants = 1'000;
constexpr int64_t kGeoHopGapMs = 20'000;
constexpr int64_t kHighSpendGapMs = 30'000;
constexpr int64_t kVelocityGapMs = 1'000;

std::vector<double> ZipfCdf(int64_t n, double exponent) {
  std::vector<double> cdf(static_cast<size_t>(n));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    total += 1.0 / std::pow(static_cast<double>(i + 1), exponent);
    cdf[static_cast<size_t>(i)] = total;
  }
  return cdf;
}

// A well-mixed 64-bit hash (splitmix64's finaliser).
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

absl::StatusOr<PaymentGenerator> PaymentGenerator::Create(const PaymentGeneratorOptions& options,
                                                          const FraudConfig& fraud) {
  if (options.cards < 1) return absl::InvalidArgumentError("--cards must be at least 1");
  if (!(options.fraud_fraction >= 0 && options.fraud_fraction <= 0.5)) {
    return absl::InvalidArgumentError("--fraud-fraction must be within [0, 0.5]");
  }
  if (!(options.rate > 0)) return absl::InvalidArgumentError("the event rate must be positive");
  if (!(options.zipf_exponent >= 0 && options.zipf_exponent <= 3)) {
    return absl::InvalidArgumentError("--zipf must be within [0, 3]");
  }
  const std::optional<int64_t> high_spend = ParseAmountCents(fraud.high_spend_amount);
  if (!high_spend.has_value() || *high_spend < 3) {
    return absl::InvalidArgumentError(absl::StrCat("rules.high_spend.amount '",
                                                   fraud.high_spend_amount,
                                                   "' cannot be split into three payments"));
  }
  if ((fraud.velocity_count - 1) * kVelocityGapMs >= fraud.card_1m_size_ms ||
      fraud.card_5m_size_ms - 2 * kHighSpendGapMs < fraud.card_5m_advance_ms ||
      fraud.card_5m_size_ms - kGeoHopGapMs < fraud.card_5m_advance_ms ||
      fraud.geo_hop_countries != 2) {
    return absl::InvalidArgumentError(
        "the fraud config's windows or rules leave no room for the injected patterns (a "
        "velocity burst 1 s apart, a geo hop between 2 countries 20 s apart, a high spend over "
        "60 s)");
  }
  return PaymentGenerator(options, fraud, *high_spend);
}

PaymentGenerator::PaymentGenerator(const PaymentGeneratorOptions& options, const FraudConfig& fraud,
                                   int64_t high_spend_cents)
    : options_(options),
      fraud_(fraud),
      high_spend_cents_(high_spend_cents),
      random_(options.seed),
      card_cdf_(ZipfCdf(options.cards, options.zipf_exponent)),
      merchant_cdf_(ZipfCdf(kMerchants, 1.0)) {}

size_t PaymentGenerator::Zipf(const std::vector<double>& cdf) {
  const double u = std::uniform_real_distribution<double>(0, cdf.back())(random_);
  return std::min(static_cast<size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()),
                  cdf.size() - 1);
}

const char* PaymentGenerator::HomeCountry(int64_t card) const {
  int pick = static_cast<int>(Mix(options_.seed ^ static_cast<uint64_t>(card)) % 100);
  for (const Country& country : kCountries) {
    if (pick < country.weight) return country.code;
    pick -= country.weight;
  }
  return kCountries[0].code;
}

// 16 digits: `prefix`, the index in 14 digits, and a Luhn check digit.
std::string PaymentGenerator::Card(char prefix, int64_t index) const {
  std::string card = absl::StrFormat("%c%014d", prefix, index);
  int sum = 0;
  for (size_t i = 0; i < card.size(); ++i) {
    int digit = card[card.size() - 1 - i] - '0';
    if (i % 2 == 0) {  // doubled: every second digit from the right of the full number
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  card.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return card;
}

std::string PaymentGenerator::Json(const std::string& txn, const std::string& card, int64_t cents,
                                   const std::string& merchant, const std::string& country,
                                   int64_t ts) const {
  return absl::StrCat("{\"txn_id\":\"", txn, "\",\"card\":\"", card,
                      "\",\"amount\":", FormatCents(cents), ",\"currency\":\"EUR\",\"merchant\":\"",
                      merchant, "\",\"country\":\"", country, "\",\"ts\":", ts, "}");
}

void PaymentGenerator::Inject(int64_t now_ms) {
  const std::string card = Card('5', fraud_cards_);
  const char* home = HomeCountry(fraud_cards_++);
  auto schedule = [&](const std::string& txn, int64_t cents, const char* country, int64_t ts,
                      const char* rule) {
    Scheduled s;
    s.payment = {card, Json(txn, card, cents, "m-fraud", country, ts), ts};
    if (rule != nullptr) s.alert = {rule, txn, MaskCard(card), ts};
    s.completes = rule != nullptr;
    scheduled_.emplace(ts, std::move(s));
  };
  switch (random_() % 3) {
    case 0: {  // velocity burst inside one minute window
      const int64_t size = fraud_.card_1m_size_ms;
      const int64_t span = (fraud_.velocity_count - 1) * kVelocityGapMs;
      int64_t base = now_ms;
      if (base % size + span >= size) base = (base / size + 1) * size;
      const int64_t k = velocity_++;
      for (int64_t i = 0; i < fraud_.velocity_count; ++i) {
        const bool last = i + 1 == fraud_.velocity_count;
        schedule(absl::StrCat("v", k, "-", i + 1), 1'000, home, base + i * kVelocityGapMs,
                 last ? "VELOCITY" : nullptr);
      }
      break;
    }
    case 1: {  // geo hop
      const int64_t k = geo_hops_++;
      const char* other =
          std::string_view(home) == kCountries[0].code ? kCountries[1].code : kCountries[0].code;
      schedule(absl::StrCat("g", k, "-1"), 2'500, home, now_ms, nullptr);
      schedule(absl::StrCat("g", k, "-2"), 2'500, other, now_ms + kGeoHopGapMs, "GEO_HOP");
      break;
    }
    default: {  // high spend: three payments reaching the threshold exactly
      const int64_t k = high_spends_++;
      const int64_t part = high_spend_cents_ * 3 / 10;
      schedule(absl::StrCat("h", k, "-1"), part, home, now_ms, nullptr);
      schedule(absl::StrCat("h", k, "-2"), part, home, now_ms + kHighSpendGapMs, nullptr);
      schedule(absl::StrCat("h", k, "-3"), high_spend_cents_ - 2 * part, home,
               now_ms + 2 * kHighSpendGapMs, "HIGH_SPEND");
      break;
    }
  }
}

GeneratedPayment PaymentGenerator::Next(std::optional<int64_t> now_ms) {
  const int64_t now =
      now_ms.has_value()
          ? std::max(*now_ms, last_ts_)
          : options_.start_ms +
                static_cast<int64_t>(static_cast<double>(generated_) * 1'000.0 / options_.rate);
  last_ts_ = now;
  ++generated_;
  // A pattern averages (velocity count + 2 + 3) / 3 payments.
  const double pattern_payments = static_cast<double>(fraud_.velocity_count + 5) / 3.0;
  if (std::uniform_real_distribution<double>(0, 1)(random_) <
      options_.fraud_fraction / pattern_payments) {
    Inject(now);
  }
  if (!scheduled_.empty() && scheduled_.begin()->first <= now) {
    Scheduled due = std::move(scheduled_.begin()->second);
    scheduled_.erase(scheduled_.begin());
    if (due.completes) expected_.push_back(std::move(due.alert));
    return std::move(due.payment);
  }
  const int64_t card_index = static_cast<int64_t>(Zipf(card_cdf_));
  const std::string card = Card('4', card_index);
  const double amount = std::lognormal_distribution<double>(3.5, 1.0)(random_);
  const int64_t cents = std::clamp<int64_t>(std::llround(amount * 100), 1, 100'000);
  const std::string merchant = absl::StrCat("m-", Zipf(merchant_cdf_));
  return {card,
          Json(absl::StrCat("t", generated_), card, cents, merchant, HomeCountry(card_index), now),
          now};
}

std::vector<ExpectedAlert> PaymentGenerator::TakeExpected() { return std::exchange(expected_, {}); }

int64_t PaymentGenerator::patterns_injected(const std::string& rule) const {
  if (rule == "VELOCITY") return velocity_;
  if (rule == "GEO_HOP") return geo_hops_;
  if (rule == "HIGH_SPEND") return high_spends_;
  return 0;
}

}  // namespace weir::fraud
