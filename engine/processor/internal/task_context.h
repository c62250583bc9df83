// What the nodes of one task share while it runs: identity, the record in flight, stream time,
// the wall clock, stores, punctuations, the output collector and counters.
//
// Concurrency: owned by a task and touched only by the thread running it.
#ifndef WEIR_ENGINE_PROCESSOR_INTERNAL_TASK_CONTEXT_H_
#define WEIR_ENGINE_PROCESSOR_INTERNAL_TASK_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/sensor.h"
#include "engine/processor/processor.h"
#include "engine/processor/record.h"
#include "stores/state_store.h"

namespace weir::nodes {
class NodeBase;  // engine/processor/node.h
}  // namespace weir::nodes

namespace weir::internal {

// Where sink nodes send records. The collector picks the partition (Kafka's key hash) unless
// one is given.
class RecordCollector {
 public:
  virtual ~RecordCollector() = default;
  virtual void Send(const std::string& topic, RawRecord record) = 0;
  // Sends to one partition (changelogs). Returns a slot that, after the collector's next flush
  // or transaction commit, holds the partition's offset after the last record delivered; null
  // when the collector keeps no offsets (the test driver, whose tasks have no changelogs).
  virtual const int64_t* SendToPartition(const std::string& topic, int32_t partition,
                                         RawRecord record) = 0;
};

struct ScheduledPunctuation {
  nodes::NodeBase* node = nullptr;
  PunctuationType type = PunctuationType::kStreamTime;
  int64_t interval_ms = 0;
  int64_t next_ms = 0;
  std::function<void(int64_t)> callback;
  std::shared_ptr<bool> cancelled;
};

// Kafka Streams' task-level sensors (read by the stream thread's metrics; docs/metrics.md).
struct TaskSensors {
  Sensor process;              // value 1 per record (metrics.recording.level debug)
  Sensor dropped;              // value 1 per dropped record
  Sensor e2e_latency_ms;       // at the sources: wall clock - record timestamp
  Sensor sink_e2e_latency_ms;  // at the sinks: the same as records leave
};

struct TaskContext {
  TaskId task_id;
  std::string application_id;
  std::optional<RecordMetadata> metadata;  // of the record in flight
  int64_t stream_time = -1;                // largest event time seen; -1 before the first
  int64_t record_timestamp = -1;           // event time of the record in flight (or last)
  std::function<int64_t()> wall_clock;
  // Wall-clock time of the record in flight or the punctuation firing, read once per batch by the
  // stream thread (Kafka Streams' cached system time): what processors see as
  // CurrentSystemTimeMs() and what the e2e-latency sensors measure against.
  int64_t system_time_ms = -1;
  RecordCollector* collector = nullptr;
  std::map<std::string, std::unique_ptr<StateStore>, std::less<>> stores;
  std::vector<ScheduledPunctuation> punctuations;
  TaskCounters counters;  // public (processor.h): the test driver reports them
  TaskSensors sensors;
  bool record_debug_metrics = false;  // metrics.recording.level: debug
  absl::Status failure;               // the first a processor reported (ProcessorContext::Fail)
  // The instance's global stores by name (Topology::AddGlobalStore); unset: none.
  std::function<StateStore*(absl::string_view name)> global_store;

  // A late or invalid record the task drops (Kafka Streams' dropped-records).
  void Dropped(DropReason reason) {
    ++counters.dropped;
    if (reason == DropReason::kLate) ++counters.late;
    sensors.dropped.Record(1, system_time_ms);
  }
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_PROCESSOR_INTERNAL_TASK_CONTEXT_H_
