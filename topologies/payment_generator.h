// Synthetic payments for load tests and rule checks (`weir loadgen`), with injected fraud whose
// expected alerts are known in advance.
//
// Operation. Event time advances by 1/`rate` s per payment from `start_ms`. Background payments
// pick a card by a Zipf law over `cards` cards (a few cards pay a lot, most rarely; with the
// default exponent 0.6 and 100,000 cards the busiest card makes 0.4% of payments), an amount
// from a log-normal law (median about 33.00, capped at 1000.00), a merchant by a Zipf law over
// 1,000 merchants, and the card's home country (fixed per card, weighted DE, FR, GB, US, NL,
// ES). A fraction `fraud_fraction` of payments belongs to injected patterns, each on a card of
// its own (never used by background traffic, so the pattern alone decides its alerts):
//  - velocity burst: `velocity.count` payments 1 s apart inside one minute window;
//  - geo hop: a payment in the home country, then one in another country 20 s later;
//  - high spend: three payments 30 s apart summing exactly to the HIGH_SPEND threshold.
// Each pattern's payments are interleaved with background traffic in event-time order, and its
// last payment is the one that must trigger the alert: the ground truth is (rule, txn_id).
//
// Determinism: the same options produce the same payments and truth, byte for byte.
// Concurrency: one generator per thread.
#ifndef WEIR_TOPOLOGIES_PAYMENT_GENERATOR_H_
#define WEIR_TOPOLOGIES_PAYMENT_GENERATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "topologies/fraud_config.h"

namespace weir::fraud {

struct PaymentGeneratorOptions {
  int64_t cards = 100'000;       // background card population
  double zipf_exponent = 0.6;    // card activity: card i pays in proportion to 1 / i^exponent
  uint64_t seed = 1;             // everything random derives from it
  double fraud_fraction = 0.01;  // of payments, in injected patterns
  double rate = 1'000;           // payments per second of event time
  int64_t start_ms = 1'732'269'900'000;  // event time of the first payment
};

struct GeneratedPayment {
  std::string card;  // the record key
  std::string json;  // the record value
  int64_t ts = 0;
};

// An alert the topology must raise: `rule` triggered by payment `txn_id`.
struct ExpectedAlert {
  std::string rule;
  std::string txn_id;
  std::string masked_card;
  int64_t ts = 0;
};

class PaymentGenerator {
 public:
  // InvalidArgument when an option is out of range (cards < 1, fraction outside [0, 0.5],
  // rate <= 0, exponent outside [0, 3]) or the fraud config's rules cannot be injected (a window
  // too small to fit).
  static absl::StatusOr<PaymentGenerator> Create(const PaymentGeneratorOptions& options,
                                                 const FraudConfig& fraud);

  // The next payment. Its event time is start_ms + (payments so far) / rate, or, given
  // `now_ms`, that wall-clock time (never earlier than the previous payment's): payments stamped
  // with their send time. Injected patterns keep their spacing in event time either way.
  GeneratedPayment Next(std::optional<int64_t> now_ms = std::nullopt);
  // Alerts of patterns whose payments have all been generated, oldest first; taken once.
  std::vector<ExpectedAlert> TakeExpected();

  int64_t generated() const { return generated_; }
  int64_t patterns_injected(const std::string& rule) const;

 private:
  PaymentGenerator(const PaymentGeneratorOptions& options, const FraudConfig& fraud,
                   int64_t high_spend_cents);
  struct Scheduled {
    GeneratedPayment payment;
    bool completes = false;  // the pattern's last payment: its alert becomes expected
    ExpectedAlert alert;
  };
  void Inject(int64_t now_ms);
  std::string Card(char prefix, int64_t index) const;
  std::string Json(const std::string& txn, const std::string& card, int64_t cents,
                   const std::string& merchant, const std::string& country, int64_t ts) const;
  size_t Zipf(const std::vector<double>& cdf);
  const char* HomeCountry(int64_t card) const;

  PaymentGeneratorOptions options_;
  FraudConfig fraud_;
  int64_t high_spend_cents_;
  std::mt19937_64 random_;
  std::vector<double> card_cdf_;
  std::vector<double> merchant_cdf_;
  std::multimap<int64_t, Scheduled> scheduled_;  // injected payments, by event time
  std::vector<ExpectedAlert> expected_;
  int64_t generated_ = 0;
  int64_t last_ts_ = 0;  // event time of the last payment
  int64_t fraud_cards_ = 0;
  int64_t velocity_ = 0, geo_hops_ = 0, high_spends_ = 0;
};

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_PAYMENT_GENERATOR_H_
