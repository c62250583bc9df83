// The processors behind the DSL's operations. Each is an ordinary Processor, so the DSL and the
// Processor API run through one mechanism.
#ifndef WEIR_ENGINE_INTERNAL_DSL_PROCESSORS_H_
#define WEIR_ENGINE_INTERNAL_DSL_PROCESSORS_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/check.h"
#include "engine/processor.h"
#include "engine/windows.h"
#include "stores/window_store.h"

namespace weir::internal {

// Record<K, V> -> zero or more Record<KOut, VOut>, with the input's timestamp and headers.
template <typename K, typename V, typename KOut, typename VOut>
class FlatMapProcessor : public Processor<K, V, KOut, VOut> {
 public:
  using Function = std::function<void(const Record<K, V>&, std::vector<std::pair<KOut, VOut>>&)>;
  explicit FlatMapProcessor(Function function) : function_(std::move(function)) {}
  void Init(ProcessorContext<KOut, VOut>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    out_.clear();
    function_(record, out_);
    for (auto& [key, value] : out_) {
      context_->Forward(
          Record<KOut, VOut>{std::move(key), std::move(value), record.timestamp, record.headers});
    }
  }

 private:
  Function function_;
  ProcessorContext<KOut, VOut>* context_ = nullptr;
  std::vector<std::pair<KOut, VOut>> out_;
};

// Forwards records the predicate accepts, unchanged (filter, peek, merge, toStream).
template <typename K, typename V>
class FilterProcessor : public Processor<K, V, K, V> {
 public:
  explicit FilterProcessor(std::function<bool(const Record<K, V>&)> keep)
      : keep_(std::move(keep)) {}
  void Init(ProcessorContext<K, V>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    if (keep_(record)) context_->Forward(record);
  }

 private:
  std::function<bool(const Record<K, V>&)> keep_;
  ProcessorContext<K, V>* context_ = nullptr;
};

// Sends each record to the first branch whose predicate accepts it (Kafka Streams' split()).
template <typename K, typename V>
class BranchProcessor : public Processor<K, V, K, V> {
 public:
  struct Branch {
    std::string child;                                  // node name of the branch
    std::function<bool(const K&, const V&)> predicate;  // empty = default branch
  };
  explicit BranchProcessor(std::vector<Branch> branches) : branches_(std::move(branches)) {}
  void Init(ProcessorContext<K, V>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    for (const Branch& branch : branches_) {
      if (!branch.predicate || branch.predicate(record.key, record.value)) {
        context_->Forward(record, branch.child);
        return;
      }
    }
  }

 private:
  std::vector<Branch> branches_;
  ProcessorContext<K, V>* context_ = nullptr;
};

// Windowed aggregation (Kafka Streams' KStreamWindowAggregate): for each window containing the
// record, unless the window is closed (end <= stream time - grace, then the record is dropped for
// it and counted), reads the aggregate, combines and writes it back. The new value is forwarded
// at once when the store writes through; behind the record cache it is forwarded when the cache
// flushes the window (eviction or commit), so consecutive updates reach downstream as one.
template <typename K, typename V, typename VA>
class WindowedAggregateProcessor : public Processor<K, V, Windowed<K>, VA> {
 public:
  // Combines the record with the window's current aggregate (nullopt for a new window).
  using Combine = std::function<VA(const K&, const V&, std::optional<VA>)>;

  WindowedAggregateProcessor(TimeWindows windows, std::string store, SerdePtr<K> key_serde,
                             SerdePtr<VA> aggregate_serde, Combine combine)
      : windows_(windows),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        combine_(std::move(combine)) {}

  void Init(ProcessorContext<Windowed<K>, VA>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<WindowBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "window store " << store_name_ << " is not connected";
    forward_on_flush_ =
        store_->SetFlushListener([this](absl::string_view key, int64_t start,
                                        std::optional<absl::string_view> value, int64_t timestamp) {
          if (!value.has_value()) return;  // aggregations never delete
          Forward(Decode(key_serde_, key, "key"), start, Decode(aggregate_serde_, *value, "value"),
                  timestamp);
        });
  }

  void Process(const Record<K, V>& record) override {
    const int64_t stream_time = context_->CurrentStreamTimeMs();
    const std::string key = key_serde_->Serialize(record.key);
    for (int64_t start : windows_.WindowStartsFor(record.timestamp)) {
      if (windows_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      std::optional<VA> current;
      if (std::optional<std::string> bytes = store_->Fetch(key, start)) {
        current = Decode(aggregate_serde_, *bytes, "aggregate");
      }
      VA updated = combine_(record.key, record.value, std::move(current));
      store_->Put(key, start, aggregate_serde_->Serialize(updated));
      if (!forward_on_flush_) Forward(record.key, start, std::move(updated), record.timestamp);
    }
  }

 private:
  // Bytes weir wrote itself that no longer decode are corruption: a bug, so stop.
  template <typename T>
  T Decode(const SerdePtr<T>& serde, absl::string_view bytes, const char* what) const {
    absl::StatusOr<T> decoded = serde->Deserialize(bytes);
    WEIR_CHECK(decoded.ok()) << "corrupt " << what << " in " << store_name_ << ": "
                             << decoded.status();
    return *std::move(decoded);
  }
  void Forward(K key, int64_t start, VA aggregate, int64_t timestamp) {
    context_->Forward(
        Record<Windowed<K>, VA>{Windowed<K>{std::move(key), start, start + windows_.size_ms},
                                std::move(aggregate),
                                timestamp,
                                {}});
  }

  TimeWindows windows_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Combine combine_;
  ProcessorContext<Windowed<K>, VA>* context_ = nullptr;
  WindowBytesStore* store_ = nullptr;
  bool forward_on_flush_ = false;
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_INTERNAL_DSL_PROCESSORS_H_
