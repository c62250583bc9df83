// The Processor API: custom processors and the context they run in (Kafka Streams' Processor
// and ProcessorContext, api package).
//
//   class Dedupe : public Processor<std::string, Payment, std::string, Payment> {
//    public:
//     void Init(ProcessorContext<std::string, Payment>& context) override {
//       context_ = &context;
//       context.Schedule(60'000, PunctuationType::kWallClockTime, [this](int64_t now) { ... });
//     }
//     void Process(const Record<std::string, Payment>& record) override {
//       if (seen_.insert(record.value.txn_id).second) context_->Forward(record);
//     }
//    private:
//     ProcessorContext<std::string, Payment>* context_ = nullptr;
//     absl::flat_hash_set<std::string> seen_;
//   };
//
// Lifecycle: one processor instance per task, created by the supplier given to the topology;
// Init() once before the first record, Process() per record, Close() when the task closes.
// Concurrency: a processor and its context are used only by the thread running its task, so
// processors need no locks. Punctuation callbacks run on that thread too, between records.
#ifndef WEIR_ENGINE_PROCESSOR_PROCESSOR_H_
#define WEIR_ENGINE_PROCESSOR_PROCESSOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/processor/record.h"
#include "stores/state_store.h"

namespace weir {

enum class PunctuationType {
  kStreamTime,     // fires as the task's stream time passes each interval (driven by records)
  kWallClockTime,  // fires as the wall clock passes each interval (even without records)
};

// Chooses a record's event time from the deserialized record (whose timestamp is the Kafka
// timestamp) and the task's current stream time (-1 before the first record), like Kafka
// Streams' TimestampExtractor with its partition time. A negative result drops the record.
template <typename K, typename V>
using TimestampExtractor = std::function<int64_t(const Record<K, V>& record, int64_t stream_time)>;

// Handle of a scheduled punctuation; Cancel() stops it. Copyable; all copies share one state.
class Cancellable {
 public:
  Cancellable() = default;
  explicit Cancellable(std::shared_ptr<bool> cancelled) : cancelled_(std::move(cancelled)) {}
  void Cancel() {
    if (cancelled_ != nullptr) *cancelled_ = true;
  }

 private:
  std::shared_ptr<bool> cancelled_;
};

// Why a record was dropped (Kafka Streams counts both as dropped-records).
enum class DropReason {
  kLate,     // its window had closed (end <= stream time - grace)
  kInvalid,  // unusable: no valid timestamp, or not a valid payload (sent to a dead-letter topic)
  kNull,     // a null key or value an operation cannot use (an aggregation's, a join's)
};

// A task's record counters since it was created.
struct TaskCounters {
  int64_t processed = 0;  // records that entered the task's sources
  int64_t dropped = 0;    // late or invalid records (Kafka's dropped-records)
  int64_t late = 0;       // of which late for a closed window
  int64_t deserialization_errors = 0;
  int64_t punctuations = 0;
  // Records whose timestamp was ahead of the wall clock (their e2e latency is taken as 0).
  int64_t future_records = 0;
  // Records in another partition than Kafka's default partitioner gives their key.
  int64_t misplaced = 0;
};

// What a processor can do and see. KOut/VOut are the types it forwards.
template <typename KOut, typename VOut>
class ProcessorContext {
 public:
  virtual ~ProcessorContext() = default;

  // Sends `record` to every child.
  virtual void Forward(const Record<KOut, VOut>& record) = 0;
  // Sends `record` to the child named `child` only; a name that is not a child is a
  // programming error (checked).
  virtual void Forward(const Record<KOut, VOut>& record, absl::string_view child) = 0;

  // Calls `punctuate(timestamp)` every `interval_ms` (> 0) of stream or wall-clock time, as in
  // Kafka Streams: a stream-time punctuation fires at the first record, then each time stream
  // time crosses a multiple of the interval; a wall-clock one first fires one interval after
  // scheduling. Missed intervals are not replayed.
  virtual Cancellable Schedule(int64_t interval_ms, PunctuationType type,
                               std::function<void(int64_t timestamp)> punctuate) = 0;

  // The store named `name` connected to this processor, or a global store of that name
  // (read-only); nullptr when there is none or it is not a `Store`.
  template <typename Store>
  Store* GetStateStore(absl::string_view name) {
    return dynamic_cast<Store*>(GetStateStoreBase(name));
  }
  virtual StateStore* GetStateStoreBase(absl::string_view name) = 0;

  // Topic, partition and offset of the record being processed; std::nullopt in punctuations and
  // for records a processor created itself.
  virtual const std::optional<RecordMetadata>& record_metadata() const = 0;
  virtual int64_t CurrentStreamTimeMs() const = 0;
  // The stream thread's wall clock, read once per polled batch (and at each wall-clock
  // punctuation), as Kafka Streams' cached system time.
  virtual int64_t CurrentSystemTimeMs() const = 0;
  virtual TaskId task_id() const = 0;
  virtual const std::string& application_id() const = 0;
  // Counts a record this processor dropped: the task's dropped-records metric. Late records
  // (for a closed window) are counted apart as well.
  virtual void RecordDropped(DropReason reason = DropReason::kLate) = 0;
  // Stops the task's stream thread, and with it the instance, with `status` once the record in
  // flight is processed (Kafka Streams: a StreamsException from a processor). For conditions
  // the processor's configuration says must not be survived, e.g. a suppression buffer full
  // under BufferConfig::ShutDownWhenFull. The first failure is kept.
  virtual void Fail(absl::Status status) = 0;
};

template <typename KIn, typename VIn, typename KOut, typename VOut>
class Processor {
 public:
  virtual ~Processor() = default;
  virtual void Init(ProcessorContext<KOut, VOut>& context) { (void)context; }
  virtual void Process(const Record<KIn, VIn>& record) = 0;
  virtual void Close() {}
};

// Makes a new processor for each task.
template <typename KIn, typename VIn, typename KOut, typename VOut>
using ProcessorSupplier = std::function<std::unique_ptr<Processor<KIn, VIn, KOut, VOut>>()>;

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_PROCESSOR_H_
