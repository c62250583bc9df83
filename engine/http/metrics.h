// weir's Prometheus metrics: Kafka Streams' metrics under Prometheus names (docs/metrics.md), built
// at scrape time from the instance's thread snapshots (engine/metrics/thread_metrics.h), so no hot
// path touches prometheus-cpp.
//
// Naming: `weir_` + the Kafka Streams group without `stream-` and `-metrics` + the metric name
// with `_` for `-` (thread `process-rate` -> `weir_thread_process_rate`); tags become labels with
// `_` for `-` (`thread_id`, `task_id`), a store is `store`. Every windowed rate (a gauge, as
// Kafka Streams computes it over 2 samples of 30 s) has a counter `*_total` beside it for
// PromQL's rate(). MetricDescriptions() declares every family once; docs/metrics.md embeds its
// table, and the rendering names families through compile-time lookups in it: a family that is
// not declared does not build.
#ifndef WEIR_ENGINE_HTTP_METRICS_H_
#define WEIR_ENGINE_HTTP_METRICS_H_

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/sensor.h"
#include "engine/http/query_service.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/membership.h"
#include "engine/runtime/thread_snapshot.h"

namespace weir {

class KafkaStreams;

enum class MetricType { kGauge, kCounter };

// The label names a family carries, in order.
enum class LabelSet {
  kClient,          // client_id
  kClientState,     // client_id, state
  kClientVersion,   // client_id, version
  kQuery,           // client_id, store, code, from
  kThread,          // thread_id
  kTask,            // thread_id, task_id
  kStore,           // thread_id, task_id, store
  kNode,            // thread_id, task_id, processor_node_id
  kRecordCache,     // thread_id, task_id, record_cache_id
  kKafkaClient,     // thread_id, client
  kKafkaPartition,  // thread_id, topic, partition
};
std::span<const char* const> LabelNames(LabelSet set);

struct MetricDescription {
  const char* name;        // Prometheus family name
  MetricType type;
  LabelSet labels;
  const char* kafka_name;  // Kafka Streams' metric (group: name), or what it stands for
  const char* meaning;     // meaning and unit
  const char* source;      // where the figure comes from
  RecordingLevel level;    // the metrics.recording.level from which the family is exported
};

std::span<const MetricDescription> MetricDescriptions();

// The Markdown table of MetricDescriptions() (docs/metrics.md embeds it).
std::string MetricsMarkdownTable();

// What one scrape renders, read from the instance (and its query service) at once.
struct MetricsSnapshot {
  std::string client_id;  // <application.id>-<process id>
  std::string state;      // KafkaStreams::StateName
  int64_t failed_threads = 0;
  int64_t standby_records_applied = 0;
  int64_t placement_mismatches = 0;
  int64_t resident_bytes = 0;
  int64_t memory_plan_bytes = 0;  // 0: no plan
  std::vector<ThreadSnapshot> threads;
  std::vector<StandbyTaskView> standbys;
  std::optional<GlobalThreadStatus> global_thread;  // when the topology has global stores
  struct Queries {
    std::map<QueryService::Counted, int64_t> counts;
    Sensor::Reading latency_ms;
  };
  std::optional<Queries> queries;  // when the instance serves interactive queries
};

struct RenderedMetrics {
  std::string text;  // the Prometheus text exposition, format 0.0.4
  // Families whose samples were given other labels than their declaration's (and left out):
  // always empty unless this file has a bug, which engine_test's RenderMetrics tests catch.
  std::vector<std::string> mismatched_families;
};

// `snapshot` as Prometheus families, debug-level families only at RecordingLevel::kDebug.
RenderedMetrics RenderMetrics(const MetricsSnapshot& snapshot, RecordingLevel level);

// The Prometheus text exposition of `streams`' metrics now, with those of the instance's
// interactive queries when `queries` is given.
std::string RenderMetrics(const KafkaStreams& streams, const QueryService* queries = nullptr);

}  // namespace weir

#endif  // WEIR_ENGINE_HTTP_METRICS_H_
