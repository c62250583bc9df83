#include "engine/http/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "engine/http/query_service.h"
#include "engine/runtime/kafka_streams.h"
#include "engine/runtime/memory_plan.h"

namespace weir {
namespace {

constexpr MetricType kGauge = MetricType::kGauge;
constexpr MetricType kCounter = MetricType::kCounter;
constexpr RecordingLevel kInfo = RecordingLevel::kInfo;
constexpr RecordingLevel kDebug = RecordingLevel::kDebug;
constexpr LabelSet kClient = LabelSet::kClient;
constexpr LabelSet kThread = LabelSet::kThread;
constexpr LabelSet kTask = LabelSet::kTask;
constexpr LabelSet kStore = LabelSet::kStore;
constexpr LabelSet kNode = LabelSet::kNode;
constexpr LabelSet kCache = LabelSet::kRecordCache;
constexpr LabelSet kKafkaClient = LabelSet::kKafkaClient;

// Rows for a windowed rate and its counter.
#define WEIR_RATE(prefix, labels, kafka, meaning, source, level)                              \
  {prefix "_rate",  kGauge, labels, kafka "-rate", meaning " per second, over the last 30-60 s", \
   source,          level},                                                                   \
  {prefix "_total", kCounter, labels, kafka "-total", meaning " since the start", source, level}

// Rows for a store operation's sensor: rate, total, latency avg and max (ns).
#define WEIR_STORE_OPERATION(op, what)                                                          \
  WEIR_RATE("weir_state_" op, kStore, "stream-state-metrics: " op, what, "metered store layer", \
            kDebug),                                                                            \
      {"weir_state_" op "_latency_avg", kGauge, kStore,                                         \
       "stream-state-metrics: " op "-latency-avg", "ns per operation", "metered store layer",  \
       kDebug},                                                                                 \
      {"weir_state_" op "_latency_max", kGauge, kStore,                                         \
       "stream-state-metrics: " op "-latency-max", "ns per operation", "metered store layer",  \
       kDebug}

constexpr MetricDescription kDescriptions[] = {
    // Client (stream-metrics).
    {"weir_client_state", kGauge, LabelSet::kClientState, "stream-metrics: state",
     "1 for the client's current state (CREATED, REBALANCING, RUNNING, NOT_RUNNING, ERROR)",
     "KafkaStreams::state()", kInfo},
    {"weir_client_alive_stream_threads", kGauge, kClient,
     "stream-metrics: alive-stream-threads", "stream threads running", "stream threads", kInfo},
    {"weir_client_failed_stream_threads_total", kCounter, kClient,
     "stream-metrics: failed-stream-threads", "stream threads that died since the start",
     "KafkaStreams::failed_threads()", kInfo},
    {"weir_client_version_info", kGauge, LabelSet::kClientVersion, "stream-metrics: version",
     "1, labelled with weir's version", "build", kInfo},
    // Thread (stream-thread-metrics).
    WEIR_RATE("weir_thread_process", kThread, "stream-thread-metrics: process", "records processed",
              "stream thread loop", kInfo),
    {"weir_thread_process_latency_avg", kGauge, kThread,
     "stream-thread-metrics: process-latency-avg", "ms per record, per loop iteration",
     "stream thread loop", kInfo},
    {"weir_thread_process_latency_max", kGauge, kThread,
     "stream-thread-metrics: process-latency-max", "ms per record, per loop iteration",
     "stream thread loop", kInfo},
    {"weir_thread_process_records_avg", kGauge, kThread,
     "stream-thread-metrics: process-records-avg", "records processed per loop iteration",
     "stream thread loop", kInfo},
    {"weir_thread_process_records_max", kGauge, kThread,
     "stream-thread-metrics: process-records-max", "records processed per loop iteration",
     "stream thread loop", kInfo},
    WEIR_RATE("weir_thread_poll", kThread, "stream-thread-metrics: poll", "consumer polls",
              "stream thread loop", kInfo),
    {"weir_thread_poll_latency_avg", kGauge, kThread, "stream-thread-metrics: poll-latency-avg",
     "ms per poll", "stream thread loop", kInfo},
    {"weir_thread_poll_latency_max", kGauge, kThread, "stream-thread-metrics: poll-latency-max",
     "ms per poll", "stream thread loop", kInfo},
    {"weir_thread_poll_records_avg", kGauge, kThread, "stream-thread-metrics: poll-records-avg",
     "records per non-empty poll", "stream thread loop", kInfo},
    {"weir_thread_poll_records_max", kGauge, kThread, "stream-thread-metrics: poll-records-max",
     "records per non-empty poll", "stream thread loop", kInfo},
    WEIR_RATE("weir_thread_commit", kThread, "stream-thread-metrics: commit", "commits",
              "stream thread loop", kInfo),
    {"weir_thread_commit_latency_avg", kGauge, kThread,
     "stream-thread-metrics: commit-latency-avg",
     "ms per commit (cache flush, producer flush, state write, offset commit)",
     "stream thread loop", kInfo},
    {"weir_thread_commit_latency_max", kGauge, kThread,
     "stream-thread-metrics: commit-latency-max", "ms per commit", "stream thread loop", kInfo},
    WEIR_RATE("weir_thread_punctuate", kThread, "stream-thread-metrics: punctuate",
              "loop iterations that punctuated", "stream thread loop", kInfo),
    {"weir_thread_punctuate_latency_avg", kGauge, kThread,
     "stream-thread-metrics: punctuate-latency-avg", "ms per punctuation", "stream thread loop",
     kInfo},
    {"weir_thread_punctuate_latency_max", kGauge, kThread,
     "stream-thread-metrics: punctuate-latency-max", "ms per punctuation", "stream thread loop",
     kInfo},
    WEIR_RATE("weir_thread_task_created", kThread, "stream-thread-metrics: task-created",
              "tasks created", "rebalance callback", kInfo),
    WEIR_RATE("weir_thread_task_closed", kThread, "stream-thread-metrics: task-closed",
              "tasks closed", "rebalance callback", kInfo),
    {"weir_thread_restores_truncated_total", kCounter, kThread,
     "(weir) restores from a changelog broker retention had cut",
     "restores into fresh state whose changelog no longer started at offset 0 (normal for stores "
     "with a retention once it has passed)",
     "state restoration", kInfo},
    {"weir_thread_restores_lost_state_total", kCounter, kThread,
     "(weir) restores that lacked live state",
     "of those, restores where what retention had deleted may still have been live state (stream "
     "time moved less than the stores' retention since): the state lacks it",
     "state restoration", kInfo},
    {"weir_thread_task_migrations_total", kCounter, kThread, "(weir) task migrations survived",
     "times the thread's producer was fenced or its group generation went stale (a pause past "
     "transaction.timeout.ms or session.timeout.ms) and it closed its tasks without committing, "
     "made a new producer and rejoined (Kafka Streams' TaskMigratedException)",
     "stream thread", kInfo},
    {"weir_thread_assignments_lost_total", kCounter, kThread, "(weir) assignments lost",
     "times the group took the thread's partitions away while it was not looking (a pause past "
     "session.timeout.ms): it closed their tasks without committing, aborted its open "
     "transaction under exactly_once_v2, and rejoined",
     "rebalance callback", kInfo},
    {"weir_thread_paused_for_disk", kGauge, kThread, "(weir) consumption stopped for disk space",
     "1 while the thread's partitions are paused because state.dir's filesystem has less free "
     "space than state.dir.min.free.bytes (until 64 MiB more is free), else 0",
     "stream thread, every second", kInfo},
    {"weir_thread_state_dir_free_bytes", kGauge, kThread, "(weir) free space on state.dir",
     "bytes available to weir on state.dir's filesystem (statvfs), at the thread's last check",
     "stream thread, every second", kInfo},
    {"weir_thread_blocked_time_seconds_total", kCounter, kThread,
     "stream-thread-metrics: blocked-time-ns-total",
     "seconds (Kafka Streams: ns) the thread spent waiting on Kafka: polls and commits "
     "(producer flush included); restoration runs in the state updater",
     "stream thread timers (librdkafka has no per-call blocked time)", kInfo},
    // Task (stream-task-metrics).
    WEIR_RATE("weir_task_process", kTask, "stream-task-metrics: process",
              "records through the task's sources", "source nodes", kDebug),
    WEIR_RATE("weir_task_dropped_records", kTask, "stream-task-metrics: dropped-records",
              "records dropped: late for a closed window, or invalid (no valid timestamp, or "
              "sent to a dead-letter topic)",
              "windowed aggregations, source nodes", kInfo),
    {"weir_task_future_records_total", kCounter, kTask, "(weir) records from the future",
     "records whose timestamp was ahead of the wall clock when processed; their e2e latency is "
     "taken as 0 (a producer's clock ahead, or event times generated faster than real time)",
     "source nodes", kInfo},
    {"weir_task_misplaced_records_total", kCounter, kTask, "(weir) records in the wrong partition",
     "keyed records read from another partition than Kafka's default partitioner (murmur2) gives "
     "their key: a producer with another partitioner splits a key's state over tasks "
     "(`misplaced.records`)",
     "source topics", kInfo},
    {"weir_task_restore_remaining_records", kGauge, kTask,
     "stream-task-metrics: restore-remaining-records-total",
     "changelog records left to restore (0 once restored)", "restoration", kInfo},
    {"weir_task_restore_total", kCounter, kTask, "stream-task-metrics: restore-total",
     "changelog records restored into the task's state", "restoration", kInfo},
    // Standby tasks (engine/runtime/internal/state_updater.h); thread_id is the state updater.
    {"weir_state_updater_standby_updating_tasks", kGauge, kClient,
     "stream-state-updater-metrics: standby-updating-tasks", "standby tasks held here",
     "state updater", kInfo},
    {"weir_task_update_total", kCounter, kTask, "stream-task-metrics: update-total",
     "changelog records applied to a standby task since this instance opened it (Kafka: debug)",
     "state updater", kInfo},
    {"weir_task_standby_records_lag", kGauge, kTask,
     "KIP-441 task lag (changelog end - standby position)",
     "changelog records a standby trails its changelogs' ends by", "state updater", kInfo},
    {"weir_client_standby_records_applied_total", kCounter, kClient,
     "stream-state-updater-metrics: restore-records (standbys)",
     "changelog records applied to this instance's standby tasks since the start",
     "state updater", kInfo},
    {"weir_global_thread_records_applied_total", kCounter, kClient,
     "GlobalStreamThread's process-total",
     "records of the global tables' topics applied to the global stores since the start",
     "global thread", kInfo},
    {"weir_global_thread_bootstrap_records", kGauge, kClient, "(weir) global bootstrap",
     "records the start-up bootstrap read: those produced since the global stores' checkpoint",
     "global thread", kInfo},
    {"weir_global_thread_records_skipped_total", kCounter, kClient,
     "dropped-records (global thread)",
     "global records whose key or value did not deserialize (skipped and logged)",
     "global thread", kInfo},
    {"weir_global_thread_records_lag", kGauge, kClient, "(weir) global lag",
     "records the global stores trail their topics' ends by", "global thread", kInfo},
    {"weir_client_placement_mismatched_tasks", kGauge, kClient,
     "(weir) standby placement check",
     "tasks the membership view shows on another instance than `range` predicts (non-zero "
     "during a rebalance, or under another assignor: standbys then miss)",
     "membership topic", kInfo},
    {"weir_process_resident_memory_bytes", kGauge, kClient, "(weir) process memory",
     "the process's resident set (/proc/self/statm), to compare with weir_client_memory_plan_bytes",
     "the process", kInfo},
    {"weir_client_memory_plan_bytes", kGauge, kClient, "(weir) memory plan",
     "the container limit of `weir plan memory` for this instance's configuration, which "
     "`weir run` computes at start; absent when it could not plan", "weir run", kInfo},
    // Interactive queries (docs/queries.md).
    {"weir_state_queries_total", kCounter, LabelSet::kQuery,
     "(weir) interactive queries",
     "`/state` requests this instance answered, by view (`-`: none matched), HTTP status and "
     "sender (`client`, or `instance`: forwarded by another instance)",
     "query service", kInfo},
    {"weir_state_query_latency_avg", kGauge, kClient, "(weir) interactive query latency",
     "ms to answer a client's `/state` request (forwarding included), over the last 30-60 s",
     "query service", kInfo},
    {"weir_state_query_latency_max", kGauge, kClient, "(weir) interactive query latency",
     "ms, as above", "query service", kInfo},
    // Processor node (stream-processor-node-metrics), the task's sources and sinks together.
    {"weir_processor_node_record_e2e_latency_avg", kGauge, kNode,
     "stream-processor-node-metrics: record-e2e-latency-avg",
     "ms from a record's timestamp to its processing at the task's source nodes "
     "(processor_node_id=\"source\") or its sending at its sink nodes (\"sink\")",
     "source and sink nodes", kInfo},
    {"weir_processor_node_record_e2e_latency_min", kGauge, kNode,
     "stream-processor-node-metrics: record-e2e-latency-min", "ms, as above",
     "source and sink nodes", kInfo},
    {"weir_processor_node_record_e2e_latency_max", kGauge, kNode,
     "stream-processor-node-metrics: record-e2e-latency-max", "ms, as above",
     "source and sink nodes", kInfo},
    // Record cache (stream-record-cache-metrics).
    {"weir_record_cache_hit_ratio", kGauge, kCache,
     "stream-record-cache-metrics: hit-ratio-avg",
     "hits / (hits + misses) of the store's cache namespace since it was created; NaN before its "
     "first lookup",
     "record cache (stores/record_cache.h)", kDebug},
    {"weir_record_cache_hits_total", kCounter, kCache,
     "(hits behind hit-ratio)", "cache hits", "record cache", kDebug},
    {"weir_record_cache_misses_total", kCounter, kCache,
     "(misses behind hit-ratio)", "cache misses", "record cache", kDebug},
    // State store operations (stream-state-metrics, debug): the metered layer.
    WEIR_STORE_OPERATION("put", "puts (deletes included)"),
    WEIR_STORE_OPERATION("get", "key-value gets"),
    WEIR_STORE_OPERATION("fetch", "window fetches (one window, a key's range, all keys)"),
    WEIR_STORE_OPERATION("range", "key-value range, prefix and full scans"),
    WEIR_STORE_OPERATION("flush", "flushes (record cache to store, at commit)"),
    // RocksDB statistics (KIP-471), per task instance, repeated on each of its stores.
    WEIR_RATE("weir_state_bytes_written", kStore, "stream-state-metrics: bytes-written",
              "bytes written to RocksDB", "ticker BYTES_WRITTEN", kInfo),
    WEIR_RATE("weir_state_bytes_read", kStore, "stream-state-metrics: bytes-read",
              "bytes read from RocksDB", "ticker BYTES_READ", kInfo),
    WEIR_RATE("weir_state_memtable_bytes_flushed", kStore,
              "stream-state-metrics: memtable-bytes-flushed", "bytes flushed from memtables",
              "ticker FLUSH_WRITE_BYTES", kInfo),
    {"weir_state_memtable_hit_ratio", kGauge, kStore, "stream-state-metrics: memtable-hit-ratio",
     "memtable hits / (hits + misses) since the instance opened; NaN before its first lookup",
     "tickers MEMTABLE_HIT, _MISS", kInfo},
    {"weir_state_block_cache_data_hit_ratio", kGauge, kStore,
     "stream-state-metrics: block-cache-data-hit-ratio",
     "block cache data hits / (hits + misses) since the instance opened; NaN before its first "
     "lookup",
     "tickers BLOCK_CACHE_DATA_HIT, _MISS", kInfo},
    {"weir_state_block_cache_index_hit_ratio", kGauge, kStore,
     "stream-state-metrics: block-cache-index-hit-ratio", "index blocks, as above",
     "tickers BLOCK_CACHE_INDEX_HIT, _MISS", kInfo},
    {"weir_state_block_cache_filter_hit_ratio", kGauge, kStore,
     "stream-state-metrics: block-cache-filter-hit-ratio", "filter blocks, as above",
     "tickers BLOCK_CACHE_FILTER_HIT, _MISS", kInfo},
    {"weir_state_write_stall_duration_avg", kGauge, kStore,
     "stream-state-metrics: write-stall-duration-avg",
     "µs of write stall per second of the last 30-60 s", "ticker STALL_MICROS", kInfo},
    {"weir_state_write_stall_duration_total", kCounter, kStore,
     "stream-state-metrics: write-stall-duration-total", "µs of write stall since the start",
     "ticker STALL_MICROS", kInfo},
    {"weir_state_bytes_read_compaction_rate", kGauge, kStore,
     "stream-state-metrics: bytes-read-compaction-rate",
     "bytes compactions read per second, over the last 30-60 s", "ticker COMPACT_READ_BYTES",
     kInfo},
    {"weir_state_bytes_read_compaction_total", kCounter, kStore, "(total behind the rate)",
     "bytes compactions read since the start", "ticker COMPACT_READ_BYTES", kInfo},
    {"weir_state_bytes_written_compaction_rate", kGauge, kStore,
     "stream-state-metrics: bytes-written-compaction-rate",
     "bytes compactions wrote per second, over the last 30-60 s", "ticker COMPACT_WRITE_BYTES",
     kInfo},
    {"weir_state_bytes_written_compaction_total", kCounter, kStore, "(total behind the rate)",
     "bytes compactions wrote since the start", "ticker COMPACT_WRITE_BYTES", kInfo},
    {"weir_state_number_open_files", kGauge, kStore, "stream-state-metrics: number-open-files",
     "files open (opened - closed)", "tickers NO_FILE_OPENS, NO_FILE_CLOSES", kInfo},
    {"weir_state_number_file_errors_total", kCounter, kStore,
     "stream-state-metrics: number-file-errors-total", "file errors", "ticker NO_FILE_ERRORS",
     kInfo},
    // RocksDB properties (KIP-607), per store (summed over its column families).
    {"weir_state_num_immutable_mem_table", kGauge, kStore,
     "stream-state-metrics: num-immutable-mem-table", "immutable memtables not yet flushed",
     "property rocksdb.num-immutable-mem-table", kInfo},
    {"weir_state_cur_size_active_mem_table", kGauge, kStore,
     "stream-state-metrics: cur-size-active-mem-table", "bytes in active memtables",
     "property rocksdb.cur-size-active-mem-table", kInfo},
    {"weir_state_cur_size_all_mem_tables", kGauge, kStore,
     "stream-state-metrics: cur-size-all-mem-tables", "bytes in active and unflushed memtables",
     "property rocksdb.cur-size-all-mem-tables", kInfo},
    {"weir_state_size_all_mem_tables", kGauge, kStore, "stream-state-metrics: size-all-mem-tables",
     "bytes in active, unflushed and pinned memtables", "property rocksdb.size-all-mem-tables",
     kInfo},
    {"weir_state_estimate_num_keys", kGauge, kStore, "stream-state-metrics: estimate-num-keys",
     "estimated keys", "property rocksdb.estimate-num-keys", kInfo},
    {"weir_state_block_cache_capacity", kGauge, kStore,
     "stream-state-metrics: block-cache-capacity",
     "bytes; the task instance's cache (one shared cache under bounded.yaml)",
     "property rocksdb.block-cache-capacity", kInfo},
    {"weir_state_block_cache_usage", kGauge, kStore, "stream-state-metrics: block-cache-usage",
     "bytes in the block cache", "property rocksdb.block-cache-usage", kInfo},
    {"weir_state_block_cache_pinned_usage", kGauge, kStore,
     "stream-state-metrics: block-cache-pinned-usage", "bytes pinned in the block cache",
     "property rocksdb.block-cache-pinned-usage", kInfo},
    {"weir_state_estimate_pending_compaction_bytes", kGauge, kStore,
     "stream-state-metrics: estimate-pending-compaction-bytes",
     "bytes compaction must rewrite to settle",
     "property rocksdb.estimate-pending-compaction-bytes", kInfo},
    {"weir_state_num_running_flushes", kGauge, kStore, "stream-state-metrics: num-running-flushes",
     "flushes running in the instance", "property rocksdb.num-running-flushes", kInfo},
    {"weir_state_num_running_compactions", kGauge, kStore,
     "stream-state-metrics: num-running-compactions", "compactions running in the instance",
     "property rocksdb.num-running-compactions", kInfo},
    {"weir_state_background_errors", kGauge, kStore, "stream-state-metrics: background-errors",
     "background errors in the instance", "property rocksdb.background-errors", kInfo},
    {"weir_state_live_sst_files_size", kGauge, kStore, "stream-state-metrics: live-sst-files-size",
     "bytes of SST files the store's data uses", "property rocksdb.live-sst-files-size", kInfo},
    {"weir_state_total_sst_files_size", kGauge, kStore,
     "stream-state-metrics: total-sst-files-size", "bytes of all the store's SST files",
     "property rocksdb.total-sst-files-size", kInfo},
    // Kafka clients (librdkafka statistics).
    {"weir_kafka_consumer_records_lag", kGauge, LabelSet::kKafkaPartition,
     "consumer-fetch-manager-metrics: records-lag",
     "records between the partition's high watermark and the consumer's position",
     "librdkafka statistics: partitions.hi_offset - app_offset", kInfo},
    {"weir_kafka_tx_bytes_total", kCounter, kKafkaClient,
     "producer/consumer-metrics: outgoing-byte-total", "bytes sent to brokers",
     "librdkafka statistics: tx_bytes", kInfo},
    {"weir_kafka_rx_bytes_total", kCounter, kKafkaClient,
     "producer/consumer-metrics: incoming-byte-total", "bytes received from brokers",
     "librdkafka statistics: rx_bytes", kInfo},
    {"weir_kafka_requests_total", kCounter, kKafkaClient,
     "producer/consumer-metrics: request-total", "requests sent to brokers",
     "librdkafka statistics: tx", kInfo},
    {"weir_kafka_request_latency_avg", kGauge, kKafkaClient,
     "producer/consumer-metrics: request-latency-avg",
     "ms, mean broker round trip over the client's brokers",
     "librdkafka statistics: brokers.rtt.avg", kInfo},
    {"weir_kafka_queued_messages", kGauge, kKafkaClient,
     "producer-metrics: (buffer) record-queue", "messages waiting in the client's queue",
     "librdkafka statistics: msg_cnt", kInfo},
    {"weir_kafka_reply_queue", kGauge, kKafkaClient, "(librdkafka only)",
     "operations waiting to be served by a poll", "librdkafka statistics: replyq", kInfo},
};

#undef WEIR_STORE_OPERATION
#undef WEIR_RATE

// A family, by its index in kDescriptions. Family("...") runs at compile time: a name that is
// not declared does not build.
struct FamilyId {
  size_t index;
};

consteval FamilyId Family(std::string_view name) {
  for (size_t i = 0; i < std::size(kDescriptions); ++i) {
    if (name == kDescriptions[i].name) return {i};
  }
  throw "metric family not declared in kDescriptions";  // a compile error, never a scrape's
}

// A windowed rate and its counter, declared as `prefix`_rate and `prefix`_total.
struct RateFamilies {
  FamilyId rate;
  FamilyId total;
};

consteval FamilyId FamilyWithSuffix(std::string_view prefix, std::string_view suffix) {
  for (size_t i = 0; i < std::size(kDescriptions); ++i) {
    const std::string_view name = kDescriptions[i].name;
    if (name.size() == prefix.size() + suffix.size() && name.starts_with(prefix) &&
        name.ends_with(suffix)) {
      return {i};
    }
  }
  throw "metric family not declared in kDescriptions";
}

consteval RateFamilies Rate(std::string_view prefix) {
  return {FamilyWithSuffix(prefix, "_rate"), FamilyWithSuffix(prefix, "_total")};
}

// The families of one store operation (WEIR_STORE_OPERATION), indexed by StoreOperation.
struct StoreOperationFamilies {
  RateFamilies rate;
  FamilyId latency_avg;
  FamilyId latency_max;
};

consteval StoreOperationFamilies StoreOperationFamiliesOf(StoreOperation operation) {
  const std::string_view op = StoreOperationName(operation);
  const std::string_view weir_state = "weir_state_";
  // Prefixes are matched piecewise: constant evaluation has no string concatenation.
  const auto find = [&](std::string_view suffix) -> FamilyId {
    for (size_t i = 0; i < std::size(kDescriptions); ++i) {
      const std::string_view name = kDescriptions[i].name;
      if (name.size() == weir_state.size() + op.size() + suffix.size() &&
          name.starts_with(weir_state) && name.substr(weir_state.size(), op.size()) == op &&
          name.ends_with(suffix)) {
        return {i};
      }
    }
    throw "store operation family not declared in kDescriptions";
  };
  return {{find("_rate"), find("_total")}, find("_latency_avg"), find("_latency_max")};
}

constexpr StoreOperationFamilies kStoreOperationFamilies[kStoreOperationCount] = {
    StoreOperationFamiliesOf(StoreOperation::kPut),
    StoreOperationFamiliesOf(StoreOperation::kGet),
    StoreOperationFamiliesOf(StoreOperation::kFetch),
    StoreOperationFamiliesOf(StoreOperation::kRange),
    StoreOperationFamiliesOf(StoreOperation::kFlush)};

// Label values, in the order of the family's declared label set.
using LabelValues = std::vector<std::string>;

// Families in declaration order, each built from its declaration: its type, its label names
// and its level (a debug family is left out below recording level debug).
class Builder {
 public:
  explicit Builder(RecordingLevel level) : level_(level) {}

  void Add(FamilyId id, const LabelValues& values, double value) {
    const MetricDescription& d = kDescriptions[id.index];
    if (d.level == RecordingLevel::kDebug && level_ != RecordingLevel::kDebug) return;
    const std::span<const char* const> names = LabelNames(d.labels);
    if (values.size() != names.size()) {  // a bug in this file: RenderMetricsTest fails on it
      mismatches_.push_back(d.name);
      return;
    }
    prometheus::MetricFamily& family = families_[id.index];
    if (family.name.empty()) {
      family.name = d.name;
      family.help = absl::StrCat(d.meaning, " (Kafka Streams: ", d.kafka_name, ")");
      family.type = d.type == MetricType::kCounter ? prometheus::MetricType::Counter
                                                   : prometheus::MetricType::Gauge;
    }
    prometheus::ClientMetric& metric = family.metric.emplace_back();
    for (size_t i = 0; i < names.size(); ++i) metric.label.push_back({names[i], values[i]});
    if (family.type == prometheus::MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
  }
  // A windowed rate and its total.
  void Add(RateFamilies families, const LabelValues& values, double rate, double total) {
    Add(families.rate, values, rate);
    Add(families.total, values, total);
  }

  RenderedMetrics Render() const {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& [index, family] : families_) families.push_back(family);
    return {prometheus::TextSerializer().Serialize(families), mismatches_};
  }

 private:
  const RecordingLevel level_;
  std::map<size_t, prometheus::MetricFamily> families_;  // by declaration index
  std::vector<std::string> mismatches_;
};

void AddClient(Builder& b, const MetricsSnapshot& s) {
  const LabelValues client = {s.client_id};
  b.Add(Family("weir_client_state"), {s.client_id, s.state}, 1);
  int alive = 0;
  for (const ThreadSnapshot& t : s.threads) alive += t.state == ThreadState::kRunning ? 1 : 0;
  b.Add(Family("weir_client_alive_stream_threads"), client, alive);
  b.Add(Family("weir_client_failed_stream_threads_total"), client,
        static_cast<double>(s.failed_threads));
  b.Add(Family("weir_client_version_info"), {s.client_id, WeirVersion()}, 1);
  b.Add(Family("weir_state_updater_standby_updating_tasks"), client,
        static_cast<double>(s.standbys.size()));
  b.Add(Family("weir_client_standby_records_applied_total"), client,
        static_cast<double>(s.standby_records_applied));
  b.Add(Family("weir_client_placement_mismatched_tasks"), client,
        static_cast<double>(s.placement_mismatches));
  if (s.global_thread.has_value()) {
    const GlobalThreadStatus& g = *s.global_thread;
    b.Add(Family("weir_global_thread_records_applied_total"), client,
          static_cast<double>(g.records_applied));
    b.Add(Family("weir_global_thread_bootstrap_records"), client,
          static_cast<double>(g.bootstrap_records));
    b.Add(Family("weir_global_thread_records_skipped_total"), client,
          static_cast<double>(g.records_skipped));
    b.Add(Family("weir_global_thread_records_lag"), client, static_cast<double>(g.lag));
  }
  b.Add(Family("weir_process_resident_memory_bytes"), client,
        static_cast<double>(s.resident_bytes));
  if (s.memory_plan_bytes > 0) {
    b.Add(Family("weir_client_memory_plan_bytes"), client,
          static_cast<double>(s.memory_plan_bytes));
  }
  for (const StandbyTaskView& standby : s.standbys) {
    const LabelValues task = {s.client_id + "-StateUpdater", standby.id.ToString()};
    b.Add(Family("weir_task_update_total"), task, static_cast<double>(standby.applied));
    b.Add(Family("weir_task_standby_records_lag"), task, static_cast<double>(standby.lag));
  }
}

void AddQueries(Builder& b, const MetricsSnapshot& s) {
  if (!s.queries.has_value()) return;
  for (const auto& [counted, count] : s.queries->counts) {
    b.Add(Family("weir_state_queries_total"),
          {s.client_id, counted.view, absl::StrCat(counted.status),
           counted.forwarded ? "instance" : "client"},
          static_cast<double>(count));
  }
  b.Add(Family("weir_state_query_latency_avg"), {s.client_id}, s.queries->latency_ms.avg);
  b.Add(Family("weir_state_query_latency_max"), {s.client_id}, s.queries->latency_ms.max);
}

void AddThread(Builder& b, const ThreadSnapshot& t) {
  const ThreadMetrics& m = t.metrics;
  const LabelValues thread = {t.name};
  b.Add(Rate("weir_thread_process"), thread, m.process.sum_rate, m.process.sum);
  b.Add(Family("weir_thread_process_latency_avg"), thread, m.process_latency.avg);
  b.Add(Family("weir_thread_process_latency_max"), thread, m.process_latency.max);
  b.Add(Family("weir_thread_process_records_avg"), thread, m.process.avg);
  b.Add(Family("weir_thread_process_records_max"), thread, m.process.max);
  b.Add(Rate("weir_thread_poll"), thread, m.poll.count_rate, static_cast<double>(m.poll.count));
  b.Add(Family("weir_thread_poll_latency_avg"), thread, m.poll.avg);
  b.Add(Family("weir_thread_poll_latency_max"), thread, m.poll.max);
  b.Add(Family("weir_thread_poll_records_avg"), thread, m.poll_records.avg);
  b.Add(Family("weir_thread_poll_records_max"), thread, m.poll_records.max);
  b.Add(Rate("weir_thread_commit"), thread, m.commit.count_rate,
        static_cast<double>(m.commit.count));
  b.Add(Family("weir_thread_commit_latency_avg"), thread, m.commit.avg);
  b.Add(Family("weir_thread_commit_latency_max"), thread, m.commit.max);
  b.Add(Rate("weir_thread_punctuate"), thread, m.punctuate.count_rate,
        static_cast<double>(m.punctuate.count));
  b.Add(Family("weir_thread_punctuate_latency_avg"), thread, m.punctuate.avg);
  b.Add(Family("weir_thread_punctuate_latency_max"), thread, m.punctuate.max);
  b.Add(Rate("weir_thread_task_created"), thread, m.task_created.count_rate,
        static_cast<double>(m.task_created.count));
  b.Add(Rate("weir_thread_task_closed"), thread, m.task_closed.count_rate,
        static_cast<double>(m.task_closed.count));
  b.Add(Family("weir_thread_blocked_time_seconds_total"), thread, m.blocked_time_ns_total / 1e9);
  b.Add(Family("weir_thread_restores_truncated_total"), thread,
        static_cast<double>(t.restores_truncated));
  b.Add(Family("weir_thread_restores_lost_state_total"), thread,
        static_cast<double>(t.restores_lost_state));
  b.Add(Family("weir_thread_task_migrations_total"), thread,
        static_cast<double>(t.tasks_migrated));
  b.Add(Family("weir_thread_assignments_lost_total"), thread,
        static_cast<double>(t.assignments_lost));
  b.Add(Family("weir_thread_paused_for_disk"), thread, t.paused_for_disk ? 1 : 0);
  if (t.state_dir_free_bytes >= 0) {
    b.Add(Family("weir_thread_state_dir_free_bytes"), thread,
          static_cast<double>(t.state_dir_free_bytes));
  }
}

void AddTask(Builder& b, const std::string& thread, const TaskMetrics& task) {
  const std::string id = task.id.ToString();
  const LabelValues labels = {thread, id};
  b.Add(Rate("weir_task_process"), labels, task.process.count_rate,
        static_cast<double>(task.process.count));
  b.Add(Rate("weir_task_dropped_records"), labels, task.dropped.count_rate,
        static_cast<double>(task.dropped.count));
  b.Add(Family("weir_task_future_records_total"), labels,
        static_cast<double>(task.future_records));
  b.Add(Family("weir_task_misplaced_records_total"), labels,
        static_cast<double>(task.misplaced_records));
  b.Add(Family("weir_task_restore_remaining_records"), labels,
        static_cast<double>(task.restore_remaining));
  b.Add(Family("weir_task_restore_total"), labels, static_cast<double>(task.records_restored));
  for (const auto& [node, e2e] :
       {std::pair<const char*, const Sensor::Reading*>{"source", &task.e2e_latency_ms},
        {"sink", &task.sink_e2e_latency_ms}}) {
    if (e2e->count == 0) continue;  // a task without sinks (or nothing processed yet)
    const LabelValues n = {thread, id, node};
    b.Add(Family("weir_processor_node_record_e2e_latency_avg"), n, e2e->avg);
    b.Add(Family("weir_processor_node_record_e2e_latency_min"), n, e2e->min);
    b.Add(Family("weir_processor_node_record_e2e_latency_max"), n, e2e->max);
  }
  for (const auto& [store, operations] : task.store_operations) {
    const LabelValues s = {thread, id, store};
    for (const auto& [op, r] : operations.by_operation) {
      const StoreOperationFamilies& f = kStoreOperationFamilies[static_cast<int>(op)];
      b.Add(f.rate, s, r.count_rate, static_cast<double>(r.count));
      b.Add(f.latency_avg, s, r.avg);
      b.Add(f.latency_max, s, r.max);
    }
  }
  for (const CacheReading& cache : task.caches) {
    const LabelValues c = {thread, id, cache.store};
    b.Add(Family("weir_record_cache_hit_ratio"), c, HitRatio(cache.hits, cache.misses));
    b.Add(Family("weir_record_cache_hits_total"), c, static_cast<double>(cache.hits));
    b.Add(Family("weir_record_cache_misses_total"), c, static_cast<double>(cache.misses));
  }
}

// RocksDB's statistics (KIP-471) of the task's instance, repeated on each of its stores.
void AddRocksDbStatistics(Builder& b, const LabelValues& s, const TaskMetrics& task) {
  const RocksDbTickers& tk = task.rocksdb->tickers;
  auto rate = [&](const char* name) {
    auto it = task.rocksdb_rates.find(name);
    return it != task.rocksdb_rates.end() ? it->second : Sensor::Reading{};
  };
  b.Add(Rate("weir_state_bytes_written"), s, rate("bytes_written").sum_rate,
        static_cast<double>(tk.bytes_written));
  b.Add(Rate("weir_state_bytes_read"), s, rate("bytes_read").sum_rate,
        static_cast<double>(tk.bytes_read));
  b.Add(Rate("weir_state_memtable_bytes_flushed"), s, rate("memtable_bytes_flushed").sum_rate,
        static_cast<double>(tk.memtable_bytes_flushed));
  b.Add(Family("weir_state_memtable_hit_ratio"), s, HitRatio(tk.memtable_hit, tk.memtable_miss));
  b.Add(Family("weir_state_block_cache_data_hit_ratio"), s,
        HitRatio(tk.block_cache_data_hit, tk.block_cache_data_miss));
  b.Add(Family("weir_state_block_cache_index_hit_ratio"), s,
        HitRatio(tk.block_cache_index_hit, tk.block_cache_index_miss));
  b.Add(Family("weir_state_block_cache_filter_hit_ratio"), s,
        HitRatio(tk.block_cache_filter_hit, tk.block_cache_filter_miss));
  const Sensor::Reading stall = rate("write_stall");
  b.Add(Family("weir_state_write_stall_duration_avg"), s, stall.count > 0 ? stall.sum_rate : 0);
  b.Add(Family("weir_state_write_stall_duration_total"), s,
        static_cast<double>(tk.stall_micros));
  b.Add(Family("weir_state_bytes_read_compaction_rate"), s,
        rate("compaction_bytes_read").sum_rate);
  b.Add(Family("weir_state_bytes_read_compaction_total"), s,
        static_cast<double>(tk.compaction_bytes_read));
  b.Add(Family("weir_state_bytes_written_compaction_rate"), s,
        rate("compaction_bytes_written").sum_rate);
  b.Add(Family("weir_state_bytes_written_compaction_total"), s,
        static_cast<double>(tk.compaction_bytes_written));
  b.Add(Family("weir_state_number_open_files"), s,
        static_cast<double>(tk.files_opened - tk.files_closed));
  b.Add(Family("weir_state_number_file_errors_total"), s, static_cast<double>(tk.file_errors));
}

// RocksDB's properties (KIP-607) of one store, and its instance's block cache.
void AddRocksDbProperties(Builder& b, const LabelValues& s, const TaskDbStatistics& db,
                          const RocksDbProperties& p) {
  b.Add(Family("weir_state_num_immutable_mem_table"), s,
        static_cast<double>(p.num_immutable_mem_table));
  b.Add(Family("weir_state_cur_size_active_mem_table"), s,
        static_cast<double>(p.cur_size_active_mem_table));
  b.Add(Family("weir_state_cur_size_all_mem_tables"), s,
        static_cast<double>(p.cur_size_all_mem_tables));
  b.Add(Family("weir_state_size_all_mem_tables"), s, static_cast<double>(p.size_all_mem_tables));
  b.Add(Family("weir_state_estimate_num_keys"), s, static_cast<double>(p.estimate_num_keys));
  b.Add(Family("weir_state_block_cache_capacity"), s,
        static_cast<double>(db.block_cache.capacity));
  b.Add(Family("weir_state_block_cache_usage"), s, static_cast<double>(db.block_cache.usage));
  b.Add(Family("weir_state_block_cache_pinned_usage"), s,
        static_cast<double>(db.block_cache.pinned_usage));
  b.Add(Family("weir_state_estimate_pending_compaction_bytes"), s,
        static_cast<double>(p.estimate_pending_compaction_bytes));
  b.Add(Family("weir_state_num_running_flushes"), s, static_cast<double>(p.num_running_flushes));
  b.Add(Family("weir_state_num_running_compactions"), s,
        static_cast<double>(p.num_running_compactions));
  b.Add(Family("weir_state_background_errors"), s, static_cast<double>(p.background_errors));
  b.Add(Family("weir_state_live_sst_files_size"), s, static_cast<double>(p.live_sst_files_size));
  b.Add(Family("weir_state_total_sst_files_size"), s,
        static_cast<double>(p.total_sst_files_size));
}

void AddRocksDb(Builder& b, const std::string& thread, const TaskMetrics& task) {
  if (!task.rocksdb.has_value()) return;
  for (const auto& [store, properties] : task.rocksdb->stores) {
    const LabelValues s = {thread, task.id.ToString(), store};
    if (task.rocksdb->tickers_enabled) AddRocksDbStatistics(b, s, task);
    AddRocksDbProperties(b, s, *task.rocksdb, properties);
  }
}

void AddKafkaClients(Builder& b, const std::string& thread, const ThreadMetrics& m) {
  for (const auto& [role, stats] :
       {std::pair<const char*, const KafkaClientStats*>{"consumer", &m.consumer},
        {"producer", &m.producer}}) {
    if (!stats->reported) continue;
    const LabelValues c = {thread, role};
    b.Add(Family("weir_kafka_tx_bytes_total"), c, static_cast<double>(stats->tx_bytes));
    b.Add(Family("weir_kafka_rx_bytes_total"), c, static_cast<double>(stats->rx_bytes));
    b.Add(Family("weir_kafka_requests_total"), c, static_cast<double>(stats->tx_requests));
    b.Add(Family("weir_kafka_request_latency_avg"), c, stats->request_latency_avg_ms);
    b.Add(Family("weir_kafka_queued_messages"), c, static_cast<double>(stats->queued_messages));
    b.Add(Family("weir_kafka_reply_queue"), c, static_cast<double>(stats->reply_queue));
  }
  for (const auto& [partition, lag] : m.consumer.records_lag) {
    b.Add(Family("weir_kafka_consumer_records_lag"),
          {thread, partition.first, std::to_string(partition.second)}, static_cast<double>(lag));
  }
}

}  // namespace

std::span<const char* const> LabelNames(LabelSet set) {
  static constexpr const char* kClientLabels[] = {"client_id"};
  static constexpr const char* kClientStateLabels[] = {"client_id", "state"};
  static constexpr const char* kClientVersionLabels[] = {"client_id", "version"};
  static constexpr const char* kQueryLabels[] = {"client_id", "store", "code", "from"};
  static constexpr const char* kThreadLabels[] = {"thread_id"};
  static constexpr const char* kTaskLabels[] = {"thread_id", "task_id"};
  static constexpr const char* kStoreLabels[] = {"thread_id", "task_id", "store"};
  static constexpr const char* kNodeLabels[] = {"thread_id", "task_id", "processor_node_id"};
  static constexpr const char* kCacheLabels[] = {"thread_id", "task_id", "record_cache_id"};
  static constexpr const char* kKafkaClientLabels[] = {"thread_id", "client"};
  static constexpr const char* kKafkaPartitionLabels[] = {"thread_id", "topic", "partition"};
  switch (set) {
    case LabelSet::kClient: return kClientLabels;
    case LabelSet::kClientState: return kClientStateLabels;
    case LabelSet::kClientVersion: return kClientVersionLabels;
    case LabelSet::kQuery: return kQueryLabels;
    case LabelSet::kThread: return kThreadLabels;
    case LabelSet::kTask: return kTaskLabels;
    case LabelSet::kStore: return kStoreLabels;
    case LabelSet::kNode: return kNodeLabels;
    case LabelSet::kRecordCache: return kCacheLabels;
    case LabelSet::kKafkaClient: return kKafkaClientLabels;
    case LabelSet::kKafkaPartition: return kKafkaPartitionLabels;
  }
  return {};
}

std::span<const MetricDescription> MetricDescriptions() { return kDescriptions; }

std::string MetricsMarkdownTable() {
  std::string out =
      "| name | type | labels | Kafka Streams | meaning, unit | source | level |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const MetricDescription& d : kDescriptions) {
    absl::StrAppend(&out, "| `", d.name, "` | ",
                    d.type == MetricType::kCounter ? "counter" : "gauge", " | ",
                    absl::StrJoin(LabelNames(d.labels), ", "), " | ", d.kafka_name, " | ",
                    d.meaning, " | ", d.source, " | ",
                    d.level == RecordingLevel::kDebug ? "debug" : "info", " |\n");
  }
  return out;
}

RenderedMetrics RenderMetrics(const MetricsSnapshot& snapshot, RecordingLevel level) {
  Builder b(level);
  AddClient(b, snapshot);
  AddQueries(b, snapshot);
  for (const ThreadSnapshot& t : snapshot.threads) {
    AddThread(b, t);
    for (const TaskMetrics& task : t.metrics.tasks) {
      AddTask(b, t.name, task);
      AddRocksDb(b, t.name, task);
    }
    AddKafkaClients(b, t.name, t.metrics);
  }
  return b.Render();
}

std::string RenderMetrics(const KafkaStreams& streams, const QueryService* queries) {
  MetricsSnapshot snapshot{
      .client_id = streams.config().application_id + "-" + streams.process_id(),
      .state = KafkaStreams::StateName(streams.state()),
      .failed_threads = streams.failed_threads(),
      .standby_records_applied = streams.standby_records_applied(),
      .placement_mismatches = streams.placement_mismatches(),
      .resident_bytes = ReadResidentBytes(),
      .memory_plan_bytes = streams.memory_plan_bytes(),
      .threads = streams.threads(),
      .standbys = streams.standbys(),
      .global_thread = streams.global_thread()};
  if (queries != nullptr) {
    snapshot.queries = MetricsSnapshot::Queries{
        .counts = queries->counts(),
        .latency_ms = queries->latency_ms(absl::ToUnixMillis(absl::Now()))};
  }
  RenderedMetrics rendered = RenderMetrics(snapshot, streams.config().metrics_recording_level);
  for (const std::string& family : rendered.mismatched_families) {
    spdlog::error("metrics: family {} rendered with labels other than its declaration's", family);
  }
  return std::move(rendered.text);
}

}  // namespace weir
