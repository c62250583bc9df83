// bench compare's results: JSON (between a set's child process and the parent, and
// results.json), the table, and the HTML report.
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/compare.h"
#include "bench/html_report.h"

namespace weir::bench {

// Field names are the members' (results.json's keys). A figure not measured (NaN: a hit ratio
// without lookups, the p99 end to end) is null in JSON, and null reads back as NaN.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CompareSample, records, seconds, records_per_s, hit_ratio,
                                   stall_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CompareResult, option_set, records, input_bytes, seconds,
                                   records_per_s, mb_per_s, latency_avg_us, latency_p99_us,
                                   latency_max_us, block_cache_data_hit_ratio, write_stall_ms,
                                   bytes_written, memtable_bytes_flushed, compaction_bytes_read,
                                   compaction_bytes_written, peak_rss_bytes, baseline_rss_bytes,
                                   planned_bytes, state_bytes, raw_consume_records_per_s,
                                   raw_rocksdb_records_per_s, raw_rocksdb_get_us_per_record,
                                   raw_rocksdb_one_value_records_per_s,
                                   raw_rocksdb_one_value_get_us_per_record, samples)

namespace {

// JSON's null (what NaN is written as) as NaN, so that it reads back into a double.
void NullsToNaN(nlohmann::json& j) {
  if (j.is_null()) {
    j = std::numeric_limits<double>::quiet_NaN();
  } else if (j.is_structured()) {
    for (nlohmann::json& item : j) NullsToNaN(item);
  }
}

// A hit ratio for people: "no reads" when there were no lookups.
std::string FormatRatio(double ratio) {
  return std::isnan(ratio) ? "no reads" : absl::StrFormat("%.3f", ratio);
}

}  // namespace

std::string CompareResultToJson(const CompareResult& result) {
  return nlohmann::json(result).dump();
}

absl::StatusOr<CompareResult> CompareResultFromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("not JSON");
  NullsToNaN(j);
  try {
    return j.get<CompareResult>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not a result: ", e.what()));
  }
}

namespace {

// What the run may hold: the process before its stores, plus the plan of its configuration.
double MemoryBudget(const CompareResult& r) {
  return static_cast<double>(r.baseline_rss_bytes + r.planned_bytes);
}

// What the run's baselines did beside it: a raw consumer end to end, RocksDB alone in process
// in both layouts. The table and the HTML report say the same.
std::vector<std::string> BaselineLines(const CompareResult& r, bool end_to_end) {
  if (end_to_end) {
    if (r.raw_consume_records_per_s <= 0) return {};
    return {absl::StrFormat("%s: raw consume %.0f records/s in the same run; weir %.2fx",
                            r.option_set, r.raw_consume_records_per_s,
                            r.records_per_s / r.raw_consume_records_per_s)};
  }
  if (r.raw_rocksdb_records_per_s <= 0) return {};
  return {absl::StrFormat("%s: RocksDB alone, one value per payment (today's layout) %.0f "
                          "records/s (its gets %.1f us per record); weir %.2fx",
                          r.option_set, r.raw_rocksdb_one_value_records_per_s,
                          r.raw_rocksdb_one_value_get_us_per_record,
                          r.records_per_s / r.raw_rocksdb_one_value_records_per_s),
          absl::StrFormat("%s: RocksDB alone, six windows per payment (the first layout) %.0f "
                          "records/s (its gets %.1f us per record); weir %.2fx",
                          r.option_set, r.raw_rocksdb_records_per_s,
                          r.raw_rocksdb_get_us_per_record,
                          r.records_per_s / r.raw_rocksdb_records_per_s)};
}

}  // namespace

const char* BuildType() { return WEIR_BUILD_TYPE; }

std::string ResultsTable(const std::vector<CompareResult>& results) {
  const bool end_to_end = !results.empty() && results[0].raw_consume_records_per_s > 0;
  std::string out = absl::StrFormat(
      "%-28s %10s %7s %9s %9s %8s %9s %11s %11s %11s %9s %9s %9s\n", "option set", "records/s",
      "MB/s", "avg us", end_to_end ? "max us" : "p99 us", "hit", "stall ms", "written MB",
      "flushed MB", "compact MB", "peak RSS", "budget", "state MB");
  for (const CompareResult& r : results) {
    absl::StrAppendFormat(
        &out, "%-28s %10.0f %7.2f %9.1f %9.1f %8s %9.1f %11.1f %11.1f %11.1f %8.0fM %8.0fM %9.1f\n",
        r.option_set, r.records_per_s, r.mb_per_s, r.latency_avg_us,
        end_to_end ? r.latency_max_us : r.latency_p99_us,
        FormatRatio(r.block_cache_data_hit_ratio), r.write_stall_ms, r.bytes_written / 1048576.0,
        r.memtable_bytes_flushed / 1048576.0,
        (r.compaction_bytes_read + r.compaction_bytes_written) / 1048576.0,
        r.peak_rss_bytes / 1048576.0, MemoryBudget(r) / 1048576.0, r.state_bytes / 1048576.0);
  }
  out += "budget = RSS before the first store opened + `weir plan memory`'s total for the run\n";
  absl::StrAppend(&out, "build type: ", BuildType(), "\n");
  for (const CompareResult& r : results) {
    absl::StrAppendFormat(&out, "%s: peak RSS %.2fx of its budget (%.0fM before + %.0fM planned)\n",
                          r.option_set, static_cast<double>(r.peak_rss_bytes) / MemoryBudget(r),
                          r.baseline_rss_bytes / 1048576.0, r.planned_bytes / 1048576.0);
  }
  for (const CompareResult& r : results) {
    for (const std::string& line : BaselineLines(r, end_to_end)) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string ResultsJson(const CompareOptions& options, const std::vector<CompareResult>& results) {
  nlohmann::json sets = nlohmann::json::array();
  for (const CompareResult& r : results) sets.push_back(r);
  return nlohmann::json{{"build_type", BuildType()},
                        {"workload",
                         {{"records", options.records},
                          {"cards", options.cards},
                          {"seed", options.seed},
                          {"tasks", options.partitions},
                          {"record_cache_bytes", options.cache_max_bytes},
                          {"commit_every_records", options.commit_every},
                          {"mode", options.end_to_end ? "end-to-end" : "in-process"},
                          {"stream_threads", options.end_to_end ? options.threads : 1}}},
                        {"results", sets}}
      .dump(2);
}

namespace {

// A chart of `value` over processed records, one series per option set.
std::string Chart(absl::string_view title, const std::vector<CompareResult>& results,
                  double (*value)(const CompareSample&)) {
  std::vector<ChartSeries> series;
  for (const CompareResult& r : results) {
    ChartSeries& line =
        series.emplace_back(ChartSeries{.name = r.option_set, .when_empty = "no reads"});
    for (const CompareSample& sample : r.samples) {
      line.points.emplace_back(static_cast<double>(sample.records), value(sample));
    }
  }
  return SvgChart(title, "records", series);
}

}  // namespace

std::string ResultsHtml(const CompareOptions& options, const std::vector<CompareResult>& results) {
  HtmlReport page("weir bench compare");
  page.Paragraph(absl::StrFormat("weir built as %s.", BuildType()));
  page.Paragraph(
      options.end_to_end
          ? absl::StrFormat("End to end: %d payments (%d cards, seed %d) produced to an "
                            "embedded broker, then consumed by the fraud-detection instance "
                            "with %d stream thread(s) and a %d-byte record cache; each option "
                            "set in its own process from an empty state directory. The latency "
                            "columns are the threads' average and largest maximum per record.",
                            options.records, options.cards, options.seed, options.threads,
                            options.cache_max_bytes)
          : absl::StrFormat("In process: the fraud topology over %d records (%d cards, seed "
                            "%d), %d tasks, a %d-byte record cache, a commit every %d records; "
                            "each option set in its own process from an empty state directory.",
                            options.records, options.cards, options.seed, options.partitions,
                            options.cache_max_bytes, options.commit_every));
  std::vector<std::vector<std::string>> rows;
  for (const CompareResult& r : results) {
    rows.push_back({r.option_set, absl::StrFormat("%.0f", r.records_per_s),
                    absl::StrFormat("%.2f", r.mb_per_s), absl::StrFormat("%.1f", r.latency_avg_us),
                    absl::StrFormat("%.1f", options.end_to_end ? r.latency_max_us
                                                               : r.latency_p99_us),
                    FormatRatio(r.block_cache_data_hit_ratio),
                    absl::StrFormat("%.1f", r.write_stall_ms),
                    absl::StrFormat("%.1f", r.bytes_written / 1048576.0),
                    absl::StrFormat("%.1f", r.memtable_bytes_flushed / 1048576.0),
                    absl::StrFormat("%.1f", (r.compaction_bytes_read + r.compaction_bytes_written) /
                                                1048576.0),
                    absl::StrFormat("%.0f", r.peak_rss_bytes / 1048576.0),
                    absl::StrFormat("%.0f", MemoryBudget(r) / 1048576.0),
                    absl::StrFormat("%.2f",
                                    static_cast<double>(r.peak_rss_bytes) / MemoryBudget(r)),
                    absl::StrFormat("%.1f", r.state_bytes / 1048576.0)});
  }
  page.Table({"option set", "records/s", "MB/s", "avg µs",
              options.end_to_end ? "max µs" : "p99 µs",
              "block cache data hit ratio", "write stall ms", "bytes written MB",
              "memtable flushed MB", "compaction MB", "peak RSS MB", "memory budget MB",
              "peak RSS / budget", "state MB"},
             rows);
  std::vector<std::string> baselines;
  for (const CompareResult& r : results) {
    for (std::string& line : BaselineLines(r, options.end_to_end)) {
      baselines.push_back(std::move(line));
    }
  }
  if (!baselines.empty()) {
    page.Paragraph(options.end_to_end
                       ? "A raw librdkafka consumer over the same input, in the same run:"
                       : "RocksDB alone doing the same payments' state reads and writes (one "
                         "WriteBatch per payment, no engine), with the same options, in two "
                         "layouts:");
    page.List(baselines);
  }
  page.Paragraph(
      "Memory budget: the process's RSS before the first store opened plus `weir plan memory`'s "
      "total for the run's configuration (record cache, uncommitted writes bound, block caches "
      "and memtables by the option set; librdkafka's buffers end to end).");
  page.Heading("Along the run");
  page.Svg(Chart("throughput (records/s)", results,
                 [](const CompareSample& s) { return s.records_per_s; }));
  page.Svg(Chart("block cache data hit ratio (per interval)", results,
                 [](const CompareSample& s) { return s.hit_ratio; }));
  page.Svg(Chart("write stall (ms, cumulative)", results,
                 [](const CompareSample& s) { return s.stall_ms; }));
  return page.Render();
}

}  // namespace weir::bench
