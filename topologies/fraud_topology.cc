#include "topologies/fraud_topology.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/check.h"
#include "engine/dead_letter.h"
#include "engine/membership.h"
#include "engine/topic_name.h"
#include "engine/windows.h"
#include "stores/window_store.h"
#include "topologies/fraud_aggregates.h"

namespace weir::fraud {
namespace {

// A payment, or why the record is not one. `text` views the record's value as consumed: valid
// only while the record is being processed (the source hands processors its own bytes), and
// read only to make a dead letter, card numbers masked.
struct PaymentOrError {
  std::optional<Payment> payment;
  std::string error;
  absl::string_view text;
};

class PaymentSerde : public Serde<PaymentOrError> {
 public:
  explicit PaymentSerde(CardTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  std::string Serialize(const PaymentOrError& value) const override {
    return MaskCardNumbers(value.text);
  }
  // Never fails: an invalid payment is a value the topology routes to the dead-letter topic.
  absl::StatusOr<PaymentOrError> Deserialize(absl::string_view bytes) const override {
    absl::StatusOr<Payment> payment = ParsePayment(bytes, tokenizer_);
    if (payment.ok()) return PaymentOrError{.payment = *std::move(payment), .text = bytes};
    return PaymentOrError{.error = std::string(payment.status().message()), .text = bytes};
  }

 private:
  CardTokenizer tokenizer_;
};

// The input key, which must be the payment's card number. It is masked as it is read and never
// kept in clear; its fingerprint lets the topology check it against the payment's card.
struct InputKey {
  std::string masked;
  uint64_t fingerprint = 0;
  bool empty = true;  // a null or empty key
};

// A valid payment whose key is its card number. Only those update state and move stream time:
// state is per partition, so a payment keyed by anything else would be counted apart from its
// card's other payments, silently. That is a producer's bug, and such records are dead letters.
bool KeyedByItsCard(const Record<InputKey, PaymentOrError>& record) {
  return record.value.payment.has_value() && !record.key.empty &&
         record.key.fingerprint == record.value.payment->card_fingerprint;
}

class InputKeySerde : public Serde<InputKey> {
 public:
  std::string Serialize(const InputKey& key) const override { return key.masked; }
  absl::StatusOr<InputKey> Deserialize(absl::string_view bytes) const override {
    return InputKey{.masked = MaskCardNumbers(bytes),
                    .fingerprint = Fingerprint(bytes),
                    .empty = bytes.empty()};
  }
};

// A rule's threshold crossed in one window by the current record.
struct Crossing {
  const char* rule;
  int64_t window_start;
  int64_t window_size;
  int64_t count;
  int64_t sum;
};

class DetectProcessor : public Processor<InputKey, PaymentOrError, std::string, std::string> {
 public:
  DetectProcessor(FraudConfig config, int64_t high_spend_cents)
      : config_(std::move(config)),
        minute_(TimeWindows::OfSizeAndGrace(config_.card_1m_size_ms, config_.grace_ms)),
        five_minutes_(TimeWindows::OfSizeAndGrace(config_.card_5m_size_ms, config_.grace_ms)
                          .AdvanceBy(config_.card_5m_advance_ms)),
        high_spend_cents_(high_spend_cents) {}

  void Init(ProcessorContext<std::string, std::string>& context) override {
    context_ = &context;
    minute_store_ = context.GetStateStore<WindowBytesStore>(kCard1mStore);
    five_minute_store_ = context.GetStateStore<WindowBytesStore>(kCard5mStore);
    cooldown_store_ = context.GetStateStore<WindowBytesStore>(kCooldownStore);
  }

  void Process(const Record<InputKey, PaymentOrError>& record) override {
    if (!record.value.payment.has_value()) {
      return DeadLetter(record, "InvalidPayment", record.value.error);
    }
    if (!KeyedByItsCard(record)) {
      return DeadLetter(record, "InvalidKey",
                        record.key.empty
                            ? "record key is missing: payments must be keyed by their card"
                            : "key does not match card: payments must be keyed by their card");
    }
    const Payment& payment = *record.value.payment;
    const int64_t stream_time = context_->CurrentStreamTimeMs();
    crossings_.clear();
    geo_hops_.clear();

    for (int64_t start : minute_.WindowStartsFor(payment.ts)) {
      if (minute_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      const MinuteAggregate before = Decoded(minute_store_->Fetch(payment.card_token, start), start,
                                             &DecodeMinute, kCard1mStore);
      MinuteAggregate after{before.count + 1, before.sum + payment.amount_cents};
      minute_store_->Put(payment.card_token, start, absl::StrCat(after.count, ",", after.sum));
      if (before.count < config_.velocity_count && after.count >= config_.velocity_count) {
        crossings_.push_back({"VELOCITY", start, minute_.size_ms, after.count, after.sum});
      }
    }
    for (int64_t start : five_minutes_.WindowStartsFor(payment.ts)) {
      if (five_minutes_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      // `before` views `stored`, `after` views it and the payment.
      const std::optional<std::string> stored =
          five_minute_store_->Fetch(payment.card_token, start);
      const FiveMinuteAggregate before = Decoded(stored, start, &DecodeFiveMinute, kCard5mStore);
      FiveMinuteAggregate after = before;
      ++after.count;
      after.sum += payment.amount_cents;
      after.max = std::max(after.max, payment.amount_cents);
      InsertSorted(after.countries, payment.country);
      InsertSorted(after.merchants, payment.merchant);
      five_minute_store_->Put(payment.card_token, start, EncodeFiveMinute(after));
      if (before.sum < high_spend_cents_ && after.sum >= high_spend_cents_) {
        crossings_.push_back({"HIGH_SPEND", start, five_minutes_.size_ms, after.count, after.sum});
      }
      const auto countries = static_cast<int64_t>(after.countries.size());
      if (static_cast<int64_t>(before.countries.size()) < config_.geo_hop_countries &&
          countries >= config_.geo_hop_countries) {
        geo_hops_.push_back({"GEO_HOP", start, five_minutes_.size_ms, after.count, after.sum});
      }
    }
    crossings_.insert(crossings_.end(), geo_hops_.begin(), geo_hops_.end());
    // Crossings are in rule order, each rule's windows oldest first: the first one the
    // cooldown allows alerts, and its cooldown then suppresses the others.
    for (const Crossing& crossing : crossings_) {
      if (CoolingDown(payment.card_token, crossing)) continue;
      cooldown_store_->Put(CooldownKey(payment.card_token, crossing.rule), crossing.window_start,
                           "1");
      Alert(payment, crossing, record.timestamp);
    }
  }

 private:
  // The window's aggregate decoded from its stored bytes (views into them for card-5m), or an
  // empty one for a new window. A value that does not decode is corruption of weir's own
  // state: a bug, so it stops the process rather than start over.
  template <typename Aggregate>
  static Aggregate Decoded(const std::optional<std::string>& bytes, int64_t start,
                           std::optional<Aggregate> (*decode)(absl::string_view),
                           const char* name) {
    if (!bytes.has_value()) return Aggregate{};
    std::optional<Aggregate> aggregate = decode(*bytes);
    WEIR_CHECK(aggregate.has_value())
        << "corrupt value in store " << name << " at window " << start;
    return *std::move(aggregate);
  }

  static std::string CooldownKey(const std::string& token, const char* rule) {
    return absl::StrCat(token, ":", rule);
  }

  // After an alert for a window starting at s, windows of that rule starting before s + S do
  // not alert again (earlier windows included): suppressed when some alert s > start - S.
  bool CoolingDown(const std::string& token, const Crossing& crossing) const {
    bool found = false;
    cooldown_store_->Fetch(CooldownKey(token, crossing.rule),
                           crossing.window_start - crossing.window_size + 1,
                           std::numeric_limits<int64_t>::max(),
                           [&](absl::string_view, int64_t, absl::string_view) { found = true; });
    return found;
  }

  void Alert(const Payment& payment, const Crossing& crossing, int64_t timestamp) {
    const std::string alert_id =
        absl::StrCat(payment.card_token, ":", crossing.rule, ":", crossing.window_start);
    std::string json = absl::StrCat(
        "{\"alert_id\":", nlohmann::json(alert_id).dump(), ",\"rule\":\"", crossing.rule,
        "\",\"card\":", nlohmann::json(payment.masked_card).dump(),
        ",\"window_start\":", crossing.window_start,
        ",\"window_end\":", crossing.window_start + crossing.window_size,
        ",\"count\":", crossing.count, ",\"sum\":", FormatCents(crossing.sum),
        ",\"txn_id\":", nlohmann::json(payment.txn_id).dump(), ",\"ts\":", payment.ts, "}");
    context_->Forward({payment.card_token, std::move(json), timestamp, {}}, "alerts");
  }

  void DeadLetter(const Record<InputKey, PaymentOrError>& record, absl::string_view exception,
                  absl::string_view reason) {
    context_->RecordDropped(DropReason::kInvalid);  // dropped-records, as in Kafka Streams
    // The record's own headers are kept, masked like its value: a producer may have put a card
    // number in one.
    Headers headers = record.headers;
    for (Header& header : headers) {
      if (header.value.has_value()) header.value = MaskCardNumbers(*header.value);
    }
    Record<std::string, std::string> dead{
        record.key.masked, MaskCardNumbers(record.value.text), record.timestamp,
        DeadLetterHeaders(std::move(headers), exception, reason, context_->record_metadata())};
    context_->Forward(dead, "dead-letters");
  }

  const FraudConfig config_;
  const TimeWindows minute_;
  const TimeWindows five_minutes_;
  const int64_t high_spend_cents_;
  ProcessorContext<std::string, std::string>* context_ = nullptr;
  WindowBytesStore* minute_store_ = nullptr;
  WindowBytesStore* five_minute_store_ = nullptr;
  WindowBytesStore* cooldown_store_ = nullptr;
  std::vector<Crossing> crossings_;  // this record's, in rule order, each rule oldest first
  std::vector<Crossing> geo_hops_;   // GEO_HOP's, gathered beside HIGH_SPEND's, appended last
};

}  // namespace

Topology BuildFraudTopology(const FraudConfig& config, const CardTokenizer& tokenizer) {
  const int64_t high_spend_cents = ParseAmountCents(config.high_spend_amount).value_or(0);
  Topology topology;
  topology
      .AddSource<InputKey, PaymentOrError>(
          "payments", {config.payments_topic}, std::make_shared<InputKeySerde>(),
          std::make_shared<PaymentSerde>(tokenizer),
          [](const Record<InputKey, PaymentOrError>& record, int64_t stream_time) {
            return KeyedByItsCard(record) ? record.value.payment->ts
                                          : std::max<int64_t>(stream_time, 0);
          })
      .AddProcessor<InputKey, PaymentOrError, std::string, std::string>(
          "detect",
          [config, high_spend_cents] {
            return std::make_unique<DetectProcessor>(config, high_spend_cents);
          },
          {"payments"})
      .AddWindowStore({.name = kCard1mStore,
                       .retention_ms = config.card_1m_size_ms + config.grace_ms,
                       .window_size_ms = config.card_1m_size_ms},
                      {"detect"})
      .AddWindowStore({.name = kCard5mStore,
                       .retention_ms = config.card_5m_size_ms + config.grace_ms,
                       .window_size_ms = config.card_5m_size_ms},
                      {"detect"})
      .AddWindowStore({.name = kCooldownStore,
                       .retention_ms = 2 * config.card_5m_size_ms + config.grace_ms,
                       .window_size_ms = config.card_5m_size_ms},
                      {"detect"})
      .AddSink<std::string, std::string>("alerts", config.alerts_topic, serdes::String(),
                                         serdes::String(), {"detect"})
      .AddSink<std::string, std::string>("dead-letters", config.dlq_topic, serdes::String(),
                                         serdes::String(), {"detect"});
  return topology;
}

std::vector<TopicSpec> FraudInternalTopics(const std::string& application_id, int32_t partitions) {
  std::vector<TopicSpec> topics;
  for (const char* store : {kCard1mStore, kCard5mStore, kCooldownStore}) {
    topics.push_back({.name = ChangelogTopic(application_id, store), .partitions = partitions});
  }
  topics.push_back({.name = MembershipTopic(application_id), .partitions = 1});
  return topics;
}

}  // namespace weir::fraud
