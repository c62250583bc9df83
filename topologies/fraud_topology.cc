#include "topologies/fraud_topology.h"

#include <algorithm>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/check.h"
#include "engine/dsl/windows.h"
#include "engine/kafka/dead_letter.h"
#include "engine/processor/topic_name.h"
#include "engine/runtime/membership.h"
#include "stores/key_value_store.h"
#include "topologies/fraud_aggregates.h"
#include "topologies/fraud_queries.h"

namespace weir::fraud {
namespace {

// A payment, or why the record is not one. `text` views the record's value as consumed: valid
// only while the record is being processed (the source hands processors its own bytes), and
// read only to make a dead letter, card numbers masked.
struct PaymentOrError {
  Payment payment;  // valid when `valid`
  bool valid = false;
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
    PaymentOrError value;
    DeserializeInto(bytes, value).IgnoreError();  // always OK
    return value;
  }
  // Parses into the previous record's payment, reusing its buffer: no allocation per payment.
  absl::Status DeserializeInto(absl::string_view bytes, PaymentOrError& out) const override {
    const absl::Status parsed = ParsePayment(bytes, tokenizer_, out.payment);
    out.valid = parsed.ok();
    out.error.assign(parsed.message().data(), parsed.message().size());
    out.text = bytes;
    return absl::OkStatus();
  }

 private:
  CardTokenizer tokenizer_;
};

// The input key, which must be the payment's card number. `text` views the consumed key like
// PaymentOrError::text views the value: never kept past the record, and read only to make a
// dead letter, masked. Its fingerprint lets the topology check it against the payment's card.
struct InputKey {
  absl::string_view text;
  uint64_t fingerprint = 0;
  bool empty = true;  // a null or empty key
};

// A valid payment whose key is its card number. Only those update state and move stream time:
// state is per partition, so a payment keyed by anything else would be counted apart from its
// card's other payments, silently. That is a producer's bug, and such records are dead letters.
bool KeyedByItsCard(const Record<InputKey, PaymentOrError>& record) {
  return record.value.valid && !record.key.empty &&
         record.key.fingerprint == record.value.payment.card_fingerprint();
}

class InputKeySerde : public Serde<InputKey> {
 public:
  std::string Serialize(const InputKey& key) const override { return MaskCardNumbers(key.text); }
  absl::StatusOr<InputKey> Deserialize(absl::string_view bytes) const override {
    return InputKey{.text = bytes, .fingerprint = Fingerprint(bytes), .empty = bytes.empty()};
  }
};

// Appends `text` (UTF-8, as the parser checked) as a JSON string: quoted, with '"', '\\' and
// control characters escaped as nlohmann::json's dump() escapes them.
void AppendJsonString(absl::string_view text, std::string& out) {
  static constexpr std::pair<char, absl::string_view> kShort[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\b', "\\b"}, {'\f', "\\f"},
      {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
  out.push_back('"');
  for (const char c : text) {
    const auto* escape = std::find_if(std::begin(kShort), std::end(kShort),
                                      [c](const auto& e) { return e.first == c; });
    if (escape != std::end(kShort)) {
      out.append(escape->second.data(), escape->second.size());
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// A rule's threshold crossed in one window by the current record.
struct Crossing {
  Rule rule;
  int64_t window_start;
  int64_t window_size;
  int64_t count;
  int64_t sum;
};

// The detector: one read and at most one write of the card's value (`card-windows`) per payment.
// The windows it reads are merged from the card's slices, so they hold exactly what a store of
// windows would: a window still open now was open whenever a payment went into one of its
// slices (stream time only grows), so no slice holds a payment that was late for it.
class DetectProcessor : public Processor<InputKey, PaymentOrError, std::string, std::string> {
 public:
  DetectProcessor(FraudConfig config, int64_t high_spend_cents)
      : config_(std::move(config)),
        minute_(TimeWindows::OfSizeAndGrace(config_.card_1m_size_ms, config_.grace_ms)),
        five_minutes_(TimeWindows::OfSizeAndGrace(config_.card_5m_size_ms, config_.grace_ms)
                          .AdvanceBy(config_.card_5m_advance_ms)),
        slice_ms_(SliceWidthMs(config_)),
        high_spend_cents_(high_spend_cents) {}

  void Init(ProcessorContext<std::string, std::string>& context) override {
    context_ = &context;
    store_ = context.GetStateStore<KeyValueBytesStore>(kCardWindowsStore);
  }

  void Process(const Record<InputKey, PaymentOrError>& record) override {
    if (!record.value.valid) {
      return DeadLetter(record, "InvalidPayment", record.value.error);
    }
    if (!KeyedByItsCard(record)) {
      return DeadLetter(record, "InvalidKey",
                        record.key.empty
                            ? "record key is missing: payments must be keyed by their card"
                            : "key does not match card: payments must be keyed by their card");
    }
    const Payment& payment = record.value.payment;
    const int64_t stream_time = context_->CurrentStreamTimeMs();
    crossings_.clear();
    geo_hops_.clear();
    CardWindows& card = ReadCard(payment, stream_time);
    // In some window still open: the payment goes into its slice.
    const bool in_minute = EvaluateMinute(card, payment, stream_time);
    const bool in_five_minutes = EvaluateFiveMinutes(card, payment, stream_time);
    if (!in_minute && !in_five_minutes) return;  // late for every window: nothing to keep
    Slice& slice = card.SliceAt(payment.ts() - payment.ts() % slice_ms_);
    ++slice.count;
    slice.sum += payment.amount_cents();
    slice.max = std::max(slice.max, payment.amount_cents());
    InsertSorted(slice.countries, payment.country());
    InsertSorted(slice.merchants, payment.merchant());
    AlertCrossings(card, payment, record.timestamp);
    EncodeCardWindows(card, Newest(card), value_);
    store_->Put(payment.card_token(), value_);
  }

  // How long a card's value must outlive its timestamp (Newest): its newest slice is read until
  // the last window containing it closes, and an alert's cooldown until every window of its rule
  // that it can suppress has closed.
  static int64_t RetentionMs(const FraudConfig& config) {
    return 2 * std::max(config.card_1m_size_ms, config.card_5m_size_ms) + config.grace_ms;
  }

 private:
  // The card's value (card_, viewing the store's bytes and the payment), without what no open
  // window reads any more.
  CardWindows& ReadCard(const Payment& payment, int64_t stream_time) {
    const std::optional<absl::string_view> stored = store_->Get(payment.card_token());
    if (stored.has_value()) {
      // weir's own state that does not decode is a bug: stop rather than start the card over.
      WEIR_CHECK(DecodeCardWindows(*stored, card_))
          << "corrupt value in store " << kCardWindowsStore;
      Forget(card_, stream_time);
    } else {
      card_.last_alert = {};
      card_.slices.clear();
    }
    return card_;
  }

  // VELOCITY over the payment's one-minute windows (late ones dropped and counted); true when
  // one of them is still open.
  bool EvaluateMinute(const CardWindows& card, const Payment& payment, int64_t stream_time) {
    bool open = false;
    for (int64_t start : minute_.WindowStartsFor(payment.ts())) {
      if (minute_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      open = true;
      const WindowAggregate before =
          card.Window(start, start + minute_.size_ms, CardWindows::Merge::kCounts);
      const int64_t count = before.count + 1;
      if (before.count < config_.velocity_count && count >= config_.velocity_count) {
        crossings_.push_back(
            {kVelocity, start, minute_.size_ms, count, before.sum + payment.amount_cents()});
      }
    }
    return open;
  }

  // HIGH_SPEND and GEO_HOP over the payment's five-minute windows, likewise.
  bool EvaluateFiveMinutes(const CardWindows& card, const Payment& payment, int64_t stream_time) {
    bool open = false;
    for (int64_t start : five_minutes_.WindowStartsFor(payment.ts())) {
      if (five_minutes_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      open = true;
      const WindowAggregate before =
          card.Window(start, start + five_minutes_.size_ms, CardWindows::Merge::kCountries);
      const int64_t count = before.count + 1;
      const int64_t sum = before.sum + payment.amount_cents();
      if (before.sum < high_spend_cents_ && sum >= high_spend_cents_) {
        crossings_.push_back({kHighSpend, start, five_minutes_.size_ms, count, sum});
      }
      const auto countries_before = static_cast<int64_t>(before.countries.size());
      const int64_t countries =
          countries_before + (std::binary_search(before.countries.begin(), before.countries.end(),
                                                 payment.country())
                                  ? 0
                                  : 1);
      if (countries_before < config_.geo_hop_countries &&
          countries >= config_.geo_hop_countries) {
        geo_hops_.push_back({kGeoHop, start, five_minutes_.size_ms, count, sum});
      }
    }
    return open;
  }

  // Crossings are in rule order, each rule's windows oldest first: the first one the cooldown
  // allows alerts, and its cooldown then suppresses the others.
  void AlertCrossings(CardWindows& card, const Payment& payment, int64_t timestamp) {
    crossings_.insert(crossings_.end(), geo_hops_.begin(), geo_hops_.end());
    for (const Crossing& crossing : crossings_) {
      if (CoolingDown(card, crossing)) continue;
      card.last_alert[crossing.rule] = crossing.window_start;
      Alert(payment, crossing, timestamp);
    }
  }

  // Drops what no open window can read any more: slices whose windows have all closed, and
  // cooldowns every window of whose rule they could suppress has closed. The windows read
  // merge the same slices either way; this keeps the value small.
  void Forget(CardWindows& card, int64_t stream_time) const {
    card.slices.erase(
        std::remove_if(card.slices.begin(), card.slices.end(),
                       [&](const Slice& slice) {
                         const int64_t m = slice.start;
                         return minute_.Closed(m - m % minute_.size_ms, stream_time) &&
                                five_minutes_.Closed(m - m % five_minutes_.advance_ms,
                                                     stream_time);
                       }),
        card.slices.end());
    for (int rule = 0; rule < kRuleCount; ++rule) {
      const TimeWindows& windows = rule == kVelocity ? minute_ : five_minutes_;
      std::optional<int64_t>& last = card.last_alert[rule];
      // Suppresses windows starting before last + size, the newest of which closes then.
      if (last.has_value() && windows.Closed(*last + windows.size_ms, stream_time)) {
        last.reset();
      }
    }
  }

  // The value's timestamp for the store's expiry: its newest slice or alert window start, both
  // at or before stream time.
  static int64_t Newest(const CardWindows& card) {
    int64_t newest = card.slices.empty() ? 0 : card.slices.back().start;
    for (const std::optional<int64_t>& start : card.last_alert) {
      if (start.has_value()) newest = std::max(newest, *start);
    }
    return newest;
  }

  // After an alert for a window starting at s, windows of that rule starting before s + S do
  // not alert again (earlier windows included): suppressed when the last alert s > start - S.
  static bool CoolingDown(const CardWindows& card, const Crossing& crossing) {
    const std::optional<int64_t>& last = card.last_alert[crossing.rule];
    return last.has_value() && *last > crossing.window_start - crossing.window_size;
  }

  // Written into a reused record. Only txn_id needs escaping: the token is hex, the masked
  // card digits and '*', the rule a name of RuleName's.
  void Alert(const Payment& payment, const Crossing& crossing, int64_t timestamp) {
    const char* rule = RuleName(crossing.rule);
    alert_.key.assign(payment.card_token().data(), payment.card_token().size());
    std::string& json = alert_.value;
    json.clear();
    absl::StrAppend(&json, "{\"alert_id\":\"", payment.card_token(), ":", rule, ":",
                    crossing.window_start, "\",\"rule\":\"", rule, "\",\"card\":\"",
                    payment.masked_card(), "\",\"window_start\":", crossing.window_start,
                    ",\"window_end\":", crossing.window_start + crossing.window_size,
                    ",\"count\":", crossing.count, ",\"sum\":");
    AppendCents(crossing.sum, json);
    json.append(",\"txn_id\":");
    AppendJsonString(payment.txn_id(), json);
    absl::StrAppend(&json, ",\"ts\":", payment.ts(), "}");
    alert_.timestamp = timestamp;
    context_->Forward(alert_, "alerts");
  }

  void DeadLetter(const Record<InputKey, PaymentOrError>& record, absl::string_view exception,
                  absl::string_view reason) {
    context_->RecordDropped(DropReason::kInvalid);  // dropped-records, as in Kafka Streams
    RawRecord masked{.key = std::string(record.key.text),
                     .value = std::string(record.value.text),
                     .headers = record.headers};
    MaskCardNumbersIn(masked);
    Record<std::string, std::string> dead{
        *std::move(masked.key), *std::move(masked.value), record.timestamp,
        DeadLetterHeaders(std::move(masked.headers), exception, reason,
                          context_->record_metadata())};
    context_->Forward(dead, "dead-letters");
  }

  const FraudConfig config_;
  const TimeWindows minute_;
  const TimeWindows five_minutes_;
  const int64_t slice_ms_;
  const int64_t high_spend_cents_;
  ProcessorContext<std::string, std::string>* context_ = nullptr;
  KeyValueBytesStore* store_ = nullptr;
  std::vector<Crossing> crossings_;  // this record's, in rule order, each rule oldest first
  std::vector<Crossing> geo_hops_;   // GEO_HOP's, gathered beside HIGH_SPEND's, appended last
  CardWindows card_;                 // the card being updated, reused
  Record<std::string, std::string> alert_;  // the alert being sent, reused
  std::string value_;                // the card's new value, reused
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
            return KeyedByItsCard(record) ? record.value.payment.ts()
                                          : std::max<int64_t>(stream_time, 0);
          })
      .AddProcessor<InputKey, PaymentOrError, std::string, std::string>(
          "detect",
          [config, high_spend_cents] {
            return std::make_unique<DetectProcessor>(config, high_spend_cents);
          },
          {"payments"})
      .AddKeyValueStore(KeyValueStoreOptions{.name = kCardWindowsStore,
                                             .retention_ms = DetectProcessor::RetentionMs(config)},
                        {"detect"})
      .AddSink<std::string, std::string>("alerts", config.alerts_topic, serdes::String(),
                                         serdes::String(), {"detect"})
      .AddSink<std::string, std::string>("dead-letters", config.dlq_topic, serdes::String(),
                                         serdes::String(), {"detect"});
  for (QueryableStore& view : FraudQueryableStores(config, tokenizer)) {
    topology.AddQueryableStore(std::move(view));
  }
  // Payments the engine dead-letters itself (in the wrong partition) are masked as these are.
  topology.SetDeadLetterRedactor(&MaskCardNumbersIn);
  return topology;
}

std::vector<TopicSpec> FraudInternalTopics(const std::string& application_id, int32_t partitions) {
  std::vector<TopicSpec> topics;
  topics.push_back(
      {.name = ChangelogTopic(application_id, kCardWindowsStore), .partitions = partitions});
  topics.push_back({.name = MembershipTopic(application_id), .partitions = 1});
  return topics;
}

}  // namespace weir::fraud
