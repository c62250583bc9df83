// Processors that may change a record's value but never its key (Kafka Streams'
// FixedKeyProcessor, behind KStream::ProcessValues). Their records can only be made from the
// record being processed, so the key is kept by construction and a stream stays partitioned as
// it was: no repartition follows, as after MapValues.
//
//   class Mask : public FixedKeyProcessor<std::string, Payment, Payment> {
//    public:
//     void Init(FixedKeyProcessorContext<std::string, Payment>& context) override {
//       context_ = &context;
//     }
//     void Process(const FixedKeyRecord<std::string, Payment>& record) override {
//       Payment masked = record.value();
//       masked.card.clear();
//       context_->Forward(record.WithValue(std::move(masked)));
//     }
//    private:
//     FixedKeyProcessorContext<std::string, Payment>* context_ = nullptr;
//   };
//
// Lifecycle and threading are those of Processor (engine/processor/processor.h).
#ifndef WEIR_ENGINE_PROCESSOR_FIXED_KEY_PROCESSOR_H_
#define WEIR_ENGINE_PROCESSOR_FIXED_KEY_PROCESSOR_H_

#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "engine/processor/processor.h"

namespace weir {

namespace internal {
template <typename K, typename V, typename VOut>
class FixedKeyProcessorAdapter;
}  // namespace internal

// A record whose key cannot change: made from the record being processed (it holds copies of
// its key and value), then WithValue / WithTimestamp / WithHeaders.
template <typename K, typename V>
class FixedKeyRecord {
 public:
  const K& key() const { return record_.key; }
  const V& value() const { return record_.value; }
  int64_t timestamp() const { return record_.timestamp; }
  const Headers& headers() const { return record_.headers; }

  template <typename VR>
  FixedKeyRecord<K, VR> WithValue(VR value) const {
    return FixedKeyRecord<K, VR>(
        Record<K, VR>{record_.key, std::move(value), record_.timestamp, record_.headers});
  }
  FixedKeyRecord WithTimestamp(int64_t timestamp) const {
    FixedKeyRecord copy = *this;
    copy.record_.timestamp = timestamp;
    return copy;
  }
  FixedKeyRecord WithHeaders(Headers headers) const {
    FixedKeyRecord copy = *this;
    copy.record_.headers = std::move(headers);
    return copy;
  }

 private:
  template <typename, typename>
  friend class FixedKeyRecord;
  template <typename, typename>
  friend class FixedKeyProcessorContext;
  template <typename, typename, typename>
  friend class internal::FixedKeyProcessorAdapter;
  explicit FixedKeyRecord(Record<K, V> record) : record_(std::move(record)) {}

  Record<K, V> record_;
};

// What a fixed-key processor can do and see: ProcessorContext's operations, forwarding
// FixedKeyRecords.
template <typename K, typename VOut>
class FixedKeyProcessorContext {
 public:
  explicit FixedKeyProcessorContext(ProcessorContext<K, VOut>& context) : context_(context) {}

  void Forward(const FixedKeyRecord<K, VOut>& record) { context_.Forward(record.record_); }
  void Forward(const FixedKeyRecord<K, VOut>& record, absl::string_view child) {
    context_.Forward(record.record_, child);
  }
  Cancellable Schedule(int64_t interval_ms, PunctuationType type,
                       std::function<void(int64_t timestamp)> punctuate) {
    return context_.Schedule(interval_ms, type, std::move(punctuate));
  }
  template <typename Store>
  Store* GetStateStore(absl::string_view name) {
    return context_.template GetStateStore<Store>(name);
  }
  const std::optional<RecordMetadata>& record_metadata() const {
    return context_.record_metadata();
  }
  int64_t CurrentStreamTimeMs() const { return context_.CurrentStreamTimeMs(); }
  int64_t CurrentSystemTimeMs() const { return context_.CurrentSystemTimeMs(); }
  TaskId task_id() const { return context_.task_id(); }
  const std::string& application_id() const { return context_.application_id(); }
  void RecordDropped(DropReason reason = DropReason::kLate) { context_.RecordDropped(reason); }
  void Fail(absl::Status status) { context_.Fail(std::move(status)); }

 private:
  ProcessorContext<K, VOut>& context_;
};

template <typename K, typename VIn, typename VOut>
class FixedKeyProcessor {
 public:
  virtual ~FixedKeyProcessor() = default;
  virtual void Init(FixedKeyProcessorContext<K, VOut>& context) { (void)context; }
  virtual void Process(const FixedKeyRecord<K, VIn>& record) = 0;
  virtual void Close() {}
};

// Makes a new fixed-key processor for each task.
template <typename K, typename VIn, typename VOut>
using FixedKeyProcessorSupplier = std::function<std::unique_ptr<FixedKeyProcessor<K, VIn, VOut>>()>;

namespace internal {

// Runs a fixed-key processor as a Processor (what KStream::ProcessValues adds to a topology).
template <typename K, typename V, typename VOut>
class FixedKeyProcessorAdapter : public Processor<K, V, K, VOut> {
 public:
  explicit FixedKeyProcessorAdapter(std::unique_ptr<FixedKeyProcessor<K, V, VOut>> processor)
      : processor_(std::move(processor)) {}
  void Init(ProcessorContext<K, VOut>& context) override {
    context_.emplace(context);
    processor_->Init(*context_);
  }
  void Process(const Record<K, V>& record) override {
    processor_->Process(FixedKeyRecord<K, V>(record));
  }
  void Close() override { processor_->Close(); }

 private:
  std::unique_ptr<FixedKeyProcessor<K, V, VOut>> processor_;
  std::optional<FixedKeyProcessorContext<K, VOut>> context_;
};

}  // namespace internal
}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_FIXED_KEY_PROCESSOR_H_
