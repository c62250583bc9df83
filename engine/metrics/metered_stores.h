// The metered layer over a task's stores (Kafka Streams' MeteredWindowStore and
// MeteredKeyValueStore), added at metrics.recording.level debug: every operation's rate and
// latency (ns) in a sensor, read by the metrics as weir_state_<op>_rate / _latency_avg / _max.
//
// Kafka Streams' operations kept apart here: put, get, fetch (window reads), range (key ranges,
// prefix scans and full scans, timed from start to the last entry visited), flush. Deletes are
// puts of nothing, as in the stores underneath.
//
// Concurrency: used by the task's thread; Readings() may be called from the same thread only
// (the stream thread publishes them).
#ifndef WEIR_ENGINE_METRICS_METERED_STORES_H_
#define WEIR_ENGINE_METRICS_METERED_STORES_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/sensor.h"
#include "engine/metrics/thread_metrics.h"
#include "stores/key_value_store.h"
#include "stores/window_store.h"

namespace weir {

// The sensors of one store, one per operation.
class StoreSensors {
 public:
  explicit StoreSensors(std::function<int64_t()> wall_clock) : wall_clock_(std::move(wall_clock)) {}
  // Runs `op`, recording its latency under `operation`.
  template <typename Op>
  auto Time(StoreOperation operation, Op&& op) {
    const auto start = std::chrono::steady_clock::now();
    struct Recorder {
      StoreSensors* self;
      StoreOperation operation;
      std::chrono::steady_clock::time_point start;
      ~Recorder() {
        self->sensors_[operation].Record(
            static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count()),
            self->wall_clock_());
      }
    } recorder{this, operation, start};
    return op();
  }
  StoreOperationReadings Readings(int64_t now_ms) const;

 private:
  std::function<int64_t()> wall_clock_;
  std::map<StoreOperation, Sensor> sensors_;
};

// What a metered store passes to the store it wraps unmetered (Store: WindowBytesStore or
// KeyValueBytesStore): its name, its changelog and its record cache namespace.
template <typename Store>
class MeteredStore : public Store {
 public:
  MeteredStore(std::unique_ptr<Store> inner, std::function<int64_t()> wall_clock)
      : inner_(std::move(inner)), sensors_(std::move(wall_clock)) {}
  const std::string& name() const override { return inner_->name(); }
  absl::Status Flush() override {
    return sensors_.Time(StoreOperation::kFlush, [&] { return inner_->Flush(); });
  }
  bool logged() const override { return inner_->logged(); }
  void ForEachPendingChange(const typename Store::ChangeVisitor& visit) const override {
    inner_->ForEachPendingChange(visit);
  }
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override {
    return inner_->ApplyChange(key, value);
  }
  const CacheNamespace* cache_namespace() const override { return inner_->cache_namespace(); }
  const StoreSensors& sensors() const { return sensors_; }

 protected:
  std::unique_ptr<Store> inner_;
  mutable StoreSensors sensors_;
};

class MeteredWindowStore : public MeteredStore<WindowBytesStore> {
 public:
  using MeteredStore::MeteredStore;
  bool Put(absl::string_view key, int64_t window_start,
           std::optional<absl::string_view> value) override {
    return sensors_.Time(StoreOperation::kPut,
                         [&] { return inner_->Put(key, window_start, value); });
  }
  std::optional<std::string> Fetch(absl::string_view key, int64_t window_start) const override {
    return sensors_.Time(StoreOperation::kFetch, [&] { return inner_->Fetch(key, window_start); });
  }
  void Fetch(absl::string_view key, int64_t from, int64_t to, const Visitor& visit) const override {
    sensors_.Time(StoreOperation::kFetch, [&] { inner_->Fetch(key, from, to, visit); });
  }
  void FetchAll(int64_t from, int64_t to, const Visitor& visit) const override {
    sensors_.Time(StoreOperation::kFetch, [&] { inner_->FetchAll(from, to, visit); });
  }
  int64_t observed_stream_time() const override { return inner_->observed_stream_time(); }
  bool SetFlushListener(typename WindowBytesStore::FlushListener listener) override {
    return inner_->SetFlushListener(std::move(listener));
  }
};

class MeteredKeyValueStore : public MeteredStore<KeyValueBytesStore> {
 public:
  using MeteredStore::MeteredStore;
  void Put(absl::string_view key, std::optional<absl::string_view> value) override {
    sensors_.Time(StoreOperation::kPut, [&] { inner_->Put(key, value); });
  }
  std::optional<absl::string_view> Get(absl::string_view key) const override {
    return sensors_.Time(StoreOperation::kGet, [&] { return inner_->Get(key); });
  }
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override {
    sensors_.Time(StoreOperation::kRange, [&] { inner_->Range(from, to, visit); });
  }
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override {
    sensors_.Time(StoreOperation::kRange, [&] { inner_->PrefixScan(prefix, visit); });
  }
  void All(const Visitor& visit) const override {
    sensors_.Time(StoreOperation::kRange, [&] { inner_->All(visit); });
  }
};

}  // namespace weir

#endif  // WEIR_ENGINE_METRICS_METERED_STORES_H_
