// Runs a topology in process without a broker (Kafka Streams' TopologyTestDriver): unit tests,
// golden tests and `weir replay` use it.
//
//   TopologyTestDriver driver(topology, {.application_id = "test", .partitions = 1});
//   TestInputTopic<std::string, std::string> in(driver, "words", serdes::String(),
//                                               serdes::String());
//   in.Pipe("k", "hello", /*timestamp=*/1000);
//   TestOutputTopic<std::string, int64_t> out(driver, "counts", serdes::String(),
//                                              serdes::Int64());
//   std::vector<Record<std::string, int64_t>> records = out.ReadRecords();
//
// Operation. One task per sub-topology and partition. A piped record goes to the partition its
// key hashes to (Kafka's murmur2 partitioner; with one partition, partition 0), is processed
// depth first, and whatever it writes to topics the topology itself reads (repartition topics)
// is processed next, in order, before Pipe returns. Records written to other topics are kept for
// the output topics to read. Stream-time punctuations fire after each record; wall-clock ones
// when AdvanceWallClockTime moves the driver's clock, which starts at `wall_clock_start_ms` and
// never moves by itself.
//
// Concurrency: single-threaded; use from one thread.
#ifndef WEIR_ENGINE_RUNTIME_TEST_DRIVER_H_
#define WEIR_ENGINE_RUNTIME_TEST_DRIVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/metrics/thread_metrics.h"
#include "engine/processor/record.h"
#include "engine/processor/topology.h"

namespace weir {

class TaskDb;

struct TestDriverOptions {
  std::string application_id = "test-driver";
  int32_t partitions = 1;  // of every topic, input, internal and output
  int64_t wall_clock_start_ms = 0;
  // Tasks with stores keep them in RocksDB (a TaskDb per task) when set; in memory otherwise.
  std::function<absl::StatusOr<std::unique_ptr<TaskDb>>(TaskId)> open_task_db;
  // Global stores are kept in RocksDB (one TaskDb for all, as the global thread keeps them)
  // when set; in memory otherwise.
  std::function<absl::StatusOr<std::unique_ptr<TaskDb>>()> open_global_db;
  // The record cache the tasks share (statestore.cache.max.bytes); 0: none.
  int64_t cache_max_bytes = 0;
};

// A record a topology wrote, with the partition it went to.
struct OutputRecord {
  RawRecord record;
  int32_t partition = 0;
};

class TopologyTestDriver {
 public:
  // The topology must have built without error (status() OK): a programming error otherwise.
  TopologyTestDriver(const Topology& topology, TestDriverOptions options = {});
  ~TopologyTestDriver();
  TopologyTestDriver(const TopologyTestDriver&) = delete;
  TopologyTestDriver& operator=(const TopologyTestDriver&) = delete;

  // Processes `record` as if read from `topic`. NotFound when the topology does not read the
  // topic; InvalidArgument (naming topic, partition and offset) when the record's key or value
  // does not deserialize — the record is then skipped, and later records still process.
  absl::Status PipeRaw(const std::string& topic, RawRecord record);
  // Moves the wall clock forward and fires the wall-clock punctuations that became due.
  void AdvanceWallClockTime(int64_t ms);
  int64_t wall_clock_ms() const;

  // Takes and returns what the topology wrote to `topic` so far, oldest first.
  std::vector<OutputRecord> ReadOutput(const std::string& topic);

  // Counters summed over every task.
  TaskCounters Totals() const;
  // Every task's metrics as a stream thread reports them (RocksDB's too when `with_rocksdb`),
  // in task order (sub-topology, then partition).
  std::vector<TaskMetrics> Metrics(bool with_rocksdb) const;
  // Commits every task as a stream thread does: flushes caches and stores, writes changelog
  // records (to the driver's outputs) and, with RocksDB state, the state with its input offsets.
  absl::Status Commit();
  // The store `name` of task (subtopology, partition), or nullptr.
  StateStore* store(TaskId task, absl::string_view name) const;
  // Task `task`'s stream time (-1 before its first record); the task must exist.
  int64_t stream_time(TaskId task) const;

 private:
  class Impl;  // the tasks and the record collector they write to (engine/runtime/internal/)
  std::unique_ptr<Impl> impl_;
};

// Typed input to a test driver.
template <typename K, typename V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver& driver, std::string topic, SerdePtr<K> key_serde,
                 SerdePtr<V> value_serde)
      : driver_(driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}
  absl::Status Pipe(const K& key, const V& value, int64_t timestamp, Headers headers = {}) {
    return driver_.PipeRaw(topic_, RawRecord{.key = key_serde_->Serialize(key),
                                             .value = value_serde_->Serialize(value),
                                             .timestamp = timestamp,
                                             .headers = std::move(headers)});
  }

 private:
  TopologyTestDriver& driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

// Typed output of a test driver.
template <typename K, typename V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver& driver, std::string topic, SerdePtr<K> key_serde,
                  SerdePtr<V> value_serde)
      : driver_(driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}
  // Takes every record written so far; a record that does not deserialize is an error.
  absl::StatusOr<std::vector<Record<K, V>>> ReadRecords() {
    std::vector<Record<K, V>> records;
    for (OutputRecord& out : driver_.ReadOutput(topic_)) {
      absl::StatusOr<K> key = key_serde_->Deserialize(out.record.key.value_or(""));
      if (!key.ok()) return key.status();
      absl::StatusOr<V> value = value_serde_->Deserialize(out.record.value.value_or(""));
      if (!value.ok()) return value.status();
      records.push_back(Record<K, V>{*std::move(key), *std::move(value), out.record.timestamp,
                                     std::move(out.record.headers)});
    }
    return records;
  }

 private:
  TopologyTestDriver& driver_;
  std::string topic_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_TEST_DRIVER_H_
