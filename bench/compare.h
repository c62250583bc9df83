// `weir bench compare`: one deterministic fraud workload run once per RocksDB option set, in
// process (the topology through the test driver with RocksDB state, a record cache and commits),
// each set in a child process of its own with a fresh state directory, so that peak RSS, block
// caches and files do not leak from one set into the next.
//
// End to end (`end_to_end`): the payments go to an embedded broker first; the instance then
// consumes them with one stream thread, the set's RocksDB options and a commit every second,
// timed from its first
// processed record to its last; per-record latency is the thread's sampled process latency
// (average and maximum, no p99); a raw consumer's rate over the same input is reported beside.
//
// The workload: payments from PaymentGenerator (fixed seed) over many cards, so the windows far
// exceed the block caches, and a small record cache, so RocksDB does real work. Per set it
// measures throughput, per-record processing latency, and from RocksDB's tickers the block cache
// data hit ratio, write-stall time, bytes written, memtable bytes flushed and compaction bytes,
// plus peak RSS against the memory plan of the run's configuration and the state's size on disk;
// and it samples throughput, hit ratio and stall time along the run for the report's charts.
// In process it then times RocksDB alone doing the same payments' state reads and writes with
// the set's options (no engine), the baseline weir's rate is read against.
#ifndef WEIR_BENCH_COMPARE_H_
#define WEIR_BENCH_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir::bench {

struct CompareOptions {
  std::vector<std::string> option_sets;  // RocksDB option-set YAML files, one run each
  std::string fraud_config = "config/fraud.yaml";
  std::string state_root;  // a fresh `<state_root>/<n>` per set
  int64_t records = 300'000;
  int64_t cards = 200'000;
  uint64_t seed = 42;
  int32_t partitions = 4;  // tasks
  int64_t cache_max_bytes = int64_t{1} << 20;
  int64_t commit_every = 10'000;  // records between commits
  int samples = 40;               // points per chart
  // false: in process through the test driver; true: end to end - the payments are first
  // produced to an embedded broker, then the instance `weir run` runs (`threads` stream
  // threads) consumes them, and a raw librdkafka consumer reads the same input in the same run.
  bool end_to_end = false;
  int threads = 1;  // stream threads, end to end only (the test driver runs one)
};

struct CompareSample {
  int64_t records = 0;       // processed so far
  double seconds = 0;        // processing time so far
  double records_per_s = 0;  // over the interval since the previous sample
  double hit_ratio = 0;      // block cache data hit ratio over that interval (NaN: no reads)
  double stall_ms = 0;       // write stall so far
};

struct CompareResult {
  std::string option_set;  // the file
  int64_t records = 0;
  int64_t input_bytes = 0;
  double seconds = 0;  // processing time (generation excluded)
  double records_per_s = 0;
  double mb_per_s = 0;
  double latency_avg_us = 0;
  double latency_p99_us = 0;  // in process; NaN end to end (the threads report no percentile)
  double latency_max_us = 0;
  double block_cache_data_hit_ratio = 0;
  double write_stall_ms = 0;
  int64_t bytes_written = 0;
  int64_t memtable_bytes_flushed = 0;
  int64_t compaction_bytes_read = 0;
  int64_t compaction_bytes_written = 0;
  int64_t peak_rss_bytes = 0;
  // The process's RSS before the first store opened (code, libraries, the workload generator).
  int64_t baseline_rss_bytes = 0;
  // `weir plan memory`'s total for the run's configuration (this option set, the record cache,
  // the tasks; librdkafka's buffers only end to end): what the configuration lets weir hold.
  int64_t planned_bytes = 0;
  int64_t state_bytes = 0;
  // End to end only: a raw consumer's rate over the same input, in the same run.
  double raw_consume_records_per_s = 0;
  // In process only: RocksDB alone doing the same payments' state reads and writes (no engine),
  // with the set's options, in the same child process after weir's run: what RocksDB itself
  // costs when every update reaches it. First in the first layout (a get and a put of each of
  // six windows per payment), then in today's (one get and one put of the card's value).
  double raw_rocksdb_records_per_s = 0;
  // Of that run's time per record, its gets': the reads no engine can skip when the state
  // outgrows the record cache (an engine can collapse writes, not these reads).
  double raw_rocksdb_get_us_per_record = 0;
  double raw_rocksdb_one_value_records_per_s = 0;
  double raw_rocksdb_one_value_get_us_per_record = 0;
  std::vector<CompareSample> samples;
};

// One result as JSON (results.json's entries) and back; InvalidArgument for text that is not one.
std::string CompareResultToJson(const CompareResult& result);
absl::StatusOr<CompareResult> CompareResultFromJson(const std::string& text);

// Runs every option set (each in a child process); progress lines go to stderr.
// InvalidArgument for a bad option set or config; Internal when a child fails.
absl::StatusOr<std::vector<CompareResult>> RunCompare(const CompareOptions& options);

// The results as a fixed-width table, as JSON, and as a self-contained HTML report (inline SVG
// charts of throughput, hit ratio and stall time along the run; no network needed).
// The CMake build type weir was compiled with ("RelWithDebInfo", "Release", ...): every report
// names it, since a Debug build's figures compare with nothing.
const char* BuildType();

std::string ResultsTable(const std::vector<CompareResult>& results);
std::string ResultsJson(const CompareOptions& options, const std::vector<CompareResult>& results);
std::string ResultsHtml(const CompareOptions& options, const std::vector<CompareResult>& results);

}  // namespace weir::bench

#endif  // WEIR_BENCH_COMPARE_H_
