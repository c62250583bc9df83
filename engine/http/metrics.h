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

#include <span>
#include <string>
#include <vector>

namespace weir {

class KafkaStreams;
class QueryService;

struct MetricDescription {
  const char* name;        // Prometheus family name
  const char* type;        // "gauge" or "counter"
  const char* labels;      // label names, comma-separated
  const char* kafka_name;  // Kafka Streams' metric (group: name), or what it stands for
  const char* meaning;     // meaning and unit
  const char* source;      // where the figure comes from
  const char* level;       // metrics.recording.level that exports it: "info" or "debug"
};

std::span<const MetricDescription> MetricDescriptions();

// The Markdown table of MetricDescriptions() (docs/metrics.md embeds it).
std::string MetricsMarkdownTable();

// The Prometheus text exposition (format 0.0.4) of `streams`' metrics now, with those of the
// instance's interactive queries when `queries` is given.
std::string RenderMetrics(const KafkaStreams& streams, const QueryService* queries = nullptr);

}  // namespace weir

#endif  // WEIR_ENGINE_HTTP_METRICS_H_
