#include "bench/compare.h"

#include <rocksdb/db.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/client_perf.h"
#include "bench/perf_producer.h"
#include "common/byte_order.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "engine/embedded_broker.h"
#include "engine/kafka_streams.h"
#include "engine/memory_plan.h"
#include "engine/partitioner.h"
#include "engine/test_driver.h"
#include "engine/windows.h"
#include "stores/rocksdb_option_set.h"
#include "stores/rocksdb_status.h"
#include "stores/store_statistics.h"
#include "stores/task_db.h"
#include "stores/window_key.h"
#include "topologies/fraud_aggregates.h"
#include "topologies/fraud_config.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment.h"
#include "topologies/payment_generator.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct TickerTotals {
  int64_t hits = 0, misses = 0, stall_micros = 0, bytes_written = 0, flushed = 0,
          compaction_read = 0, compaction_written = 0;
};

void Add(const TaskMetrics& m, TickerTotals& t) {
  if (!m.rocksdb.has_value()) return;
  const RocksDbTickers& k = m.rocksdb->tickers;
  t.hits += k.block_cache_data_hit;
  t.misses += k.block_cache_data_miss;
  t.stall_micros += k.stall_micros;
  t.bytes_written += k.bytes_written;
  t.flushed += k.memtable_bytes_flushed;
  t.compaction_read += k.compaction_bytes_read;
  t.compaction_written += k.compaction_bytes_written;
}

// The tickers of every task, in process (read now) or of a running instance (as published).
TickerTotals Tickers(const TopologyTestDriver& driver) {
  TickerTotals t;
  for (const TaskMetrics& m : driver.Metrics(/*with_rocksdb=*/true)) Add(m, t);
  return t;
}
TickerTotals Tickers(const KafkaStreams& streams) {
  TickerTotals t;
  for (const ThreadSnapshot& thread : streams.threads()) {
    for (const TaskMetrics& m : thread.metrics.tasks) Add(m, t);
  }
  return t;
}

// A hit ratio (or any figure not measured) for JSON: null for NaN (e.g. HitRatio's when there
// were no lookups), and back.
nlohmann::json RatioToJson(double ratio) {
  return std::isnan(ratio) ? nlohmann::json(nullptr) : nlohmann::json(ratio);
}
double RatioFromJson(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

// A hit ratio for people: "no reads" when there were no lookups.
std::string FormatRatio(double ratio) {
  return std::isnan(ratio) ? "no reads" : absl::StrFormat("%.3f", ratio);
}

// A stderr line at every tenth of a long run: "<what>: N of M records (P%), R records/s".
class Progress {
 public:
  Progress(std::string what, int64_t total) : what_(std::move(what)), total_(total) {}
  void Update(int64_t done, double seconds) {
    if (done < next_ || done >= total_) return;
    std::fprintf(stderr, "  %s: %lld of %lld records (%lld%%), %.0f records/s\n", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<long long>(done * 100 / total_),
                 seconds > 0 ? static_cast<double>(done) / seconds : 0.0);
    next_ = done - done % Step() + Step();
  }

 private:
  int64_t Step() const { return std::max<int64_t>(total_ / 10, 1); }
  const std::string what_;
  const int64_t total_;
  int64_t next_ = Step();
};

int64_t DirectoryBytes(const std::filesystem::path& dir) {
  int64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) total += static_cast<int64_t>(entry.file_size(error));
  }
  return total;
}

// The resident set now (not the peak), from /proc/self/statm; 0 when unreadable.
int64_t CurrentRssBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  long long size = 0, resident = 0;
  const int read = std::fscanf(statm, "%lld %lld", &size, &resident);
  std::fclose(statm);
  return read == 2 ? resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// `weir plan memory`'s total for this run: the option set, the record cache of the one thread
// (driver or stream thread), the tasks, and librdkafka's buffers when the run has clients.
absl::StatusOr<int64_t> PlannedBytes(const AppConfig& config, const RocksDbOptionSet& set,
                                     const Topology& topology, int64_t tasks, bool kafka_clients) {
  WEIR_ASSIGN_OR_RETURN(MemoryPlan plan, PlanMemory(config, set, topology, tasks,
                                                    /*overhead_bytes=*/0, kafka_clients));
  return plan.total;
}

// The figures every mode reports the same way, at the end of a run.
void Finish(const TickerTotals& t, const std::filesystem::path& state_dir, CompareResult& result) {
  result.records_per_s = static_cast<double>(result.records) / result.seconds;
  result.mb_per_s = static_cast<double>(result.input_bytes) / result.seconds / (1 << 20);
  result.block_cache_data_hit_ratio = HitRatio(t.hits, t.misses);
  result.write_stall_ms = static_cast<double>(t.stall_micros) / 1'000.0;
  result.bytes_written = t.bytes_written;
  result.memtable_bytes_flushed = t.flushed;
  result.compaction_bytes_read = t.compaction_read;
  result.compaction_bytes_written = t.compaction_written;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  result.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  result.state_bytes = DirectoryBytes(state_dir);
}

nlohmann::json ToJson(const CompareResult& r) {
  nlohmann::json samples = nlohmann::json::array();
  for (const CompareSample& s : r.samples) {
    samples.push_back({{"records", s.records},
                       {"seconds", s.seconds},
                       {"records_per_s", s.records_per_s},
                       {"hit_ratio", RatioToJson(s.hit_ratio)},
                       {"stall_ms", s.stall_ms}});
  }
  return {{"option_set", r.option_set},
          {"records", r.records},
          {"input_bytes", r.input_bytes},
          {"seconds", r.seconds},
          {"records_per_s", r.records_per_s},
          {"mb_per_s", r.mb_per_s},
          {"latency_avg_us", r.latency_avg_us},
          {"latency_p99_us", RatioToJson(r.latency_p99_us)},
          {"latency_max_us", r.latency_max_us},
          {"block_cache_data_hit_ratio", RatioToJson(r.block_cache_data_hit_ratio)},
          {"write_stall_ms", r.write_stall_ms},
          {"bytes_written", r.bytes_written},
          {"memtable_bytes_flushed", r.memtable_bytes_flushed},
          {"compaction_bytes_read", r.compaction_bytes_read},
          {"compaction_bytes_written", r.compaction_bytes_written},
          {"peak_rss_bytes", r.peak_rss_bytes},
          {"baseline_rss_bytes", r.baseline_rss_bytes},
          {"planned_bytes", r.planned_bytes},
          {"state_bytes", r.state_bytes},
          {"raw_consume_records_per_s", r.raw_consume_records_per_s},
          {"raw_rocksdb_records_per_s", r.raw_rocksdb_records_per_s},
          {"raw_rocksdb_get_us_per_record", r.raw_rocksdb_get_us_per_record},
          {"raw_rocksdb_one_value_records_per_s", r.raw_rocksdb_one_value_records_per_s},
          {"raw_rocksdb_one_value_get_us_per_record", r.raw_rocksdb_one_value_get_us_per_record},
          {"samples", samples}};
}

CompareResult FromJson(const nlohmann::json& j) {
  CompareResult r;
  r.option_set = j.at("option_set");
  r.records = j.at("records");
  r.input_bytes = j.at("input_bytes");
  r.seconds = j.at("seconds");
  r.records_per_s = j.at("records_per_s");
  r.mb_per_s = j.at("mb_per_s");
  r.latency_avg_us = j.at("latency_avg_us");
  r.latency_p99_us = RatioFromJson(j.at("latency_p99_us"));
  r.latency_max_us = j.at("latency_max_us");
  r.block_cache_data_hit_ratio = RatioFromJson(j.at("block_cache_data_hit_ratio"));
  r.write_stall_ms = j.at("write_stall_ms");
  r.bytes_written = j.at("bytes_written");
  r.memtable_bytes_flushed = j.at("memtable_bytes_flushed");
  r.compaction_bytes_read = j.at("compaction_bytes_read");
  r.compaction_bytes_written = j.at("compaction_bytes_written");
  r.peak_rss_bytes = j.at("peak_rss_bytes");
  r.baseline_rss_bytes = j.at("baseline_rss_bytes");
  r.planned_bytes = j.at("planned_bytes");
  r.state_bytes = j.at("state_bytes");
  r.raw_consume_records_per_s = j.at("raw_consume_records_per_s");
  r.raw_rocksdb_records_per_s = j.at("raw_rocksdb_records_per_s");
  r.raw_rocksdb_get_us_per_record = j.at("raw_rocksdb_get_us_per_record");
  r.raw_rocksdb_one_value_records_per_s = j.at("raw_rocksdb_one_value_records_per_s");
  r.raw_rocksdb_one_value_get_us_per_record = j.at("raw_rocksdb_one_value_get_us_per_record");
  for (const auto& s : j.at("samples")) {
    r.samples.push_back({.records = s.at("records"),
                         .seconds = s.at("seconds"),
                         .records_per_s = s.at("records_per_s"),
                         .hit_ratio = RatioFromJson(s.at("hit_ratio")),
                         .stall_ms = s.at("stall_ms")});
  }
  return r;
}

// The payments of every run: the same seed and cards, 1% injected fraud.
fraud::PaymentGeneratorOptions GeneratorOptions(const CompareOptions& options) {
  return {.cards = options.cards, .seed = options.seed, .fraud_fraction = 0.01};
}

// What an in-process run of one option set works from - the rules, the option set with its
// shared objects, the payments and the card tokenizer - the same for weir's run and RocksDB
// alone's.
struct InProcessWorkload {
  fraud::FraudConfig fraud_config;
  RocksDbOptionSet set;
  SharedResources shared;
  fraud::PaymentGenerator generator;
  fraud::CardTokenizer tokenizer;
};

absl::StatusOr<InProcessWorkload> LoadInProcessWorkload(const CompareOptions& options,
                                                        const std::string& set_path) {
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(options.fraud_config));
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet set, LoadRocksDbOptionSet(set_path));
  WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator,
                        fraud::PaymentGenerator::Create(GeneratorOptions(options), fraud_config));
  SharedResources shared = MakeSharedResources(set);
  return InProcessWorkload{std::move(fraud_config), std::move(set), std::move(shared),
                           std::move(generator), fraud::CardTokenizer("weir-bench-compare")};
}

// A task's RocksDB instance in the RocksDB-alone baselines: column families default (offsets)
// and the layout's stores. Handles are released before the instance closes, as RocksDB requires.
struct RawInstance {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  ~RawInstance() {
    for (rocksdb::ColumnFamilyHandle* family : families) db->DestroyColumnFamilyHandle(family);
  }
};

struct RocksDbAloneResult {
  double records_per_s = 0;
  double get_us_per_record = 0;  // the gets' share: what an engine cannot skip
};

// The state layout RocksDB alone is timed with.
enum class AloneLayout {
  // The first layout (docs/state-layout.md): per payment a get and a put of its card-1m window
  // and of each of the five card-5m windows containing it, in stores card-1m and card-5m.
  kSixWindows,
  // Today's: one get and one put of the card's value in store card-windows, with the
  // topology's own encoding (topologies/fraud_aggregates.h).
  kOneValue,
};

// RocksDB alone on the workload: the same payments, and per payment the state reads and writes
// of `layout`, with values of the topology's sizes, straight on rocksdb::DB with the set's
// options: one instance per task, a column family per store, each payment's puts in one
// WriteBatch without the WAL (Kafka Streams' uncached write path), the offsets written at each
// commit. No record cache, pending writes, changelog or topology; parsing and tokenizing happen
// outside the timed section. The gets are what any engine must do when the state outgrows its
// record cache; the puts an engine may collapse (weir's pending writes do).
absl::StatusOr<RocksDbAloneResult> RunRocksDbAlone(const CompareOptions& options,
                                                   const std::string& set_path,
                                                   const std::filesystem::path& dir,
                                                   AloneLayout layout) {
  WEIR_ASSIGN_OR_RETURN(InProcessWorkload workload, LoadInProcessWorkload(options, set_path));
  const fraud::FraudConfig& fraud_config = workload.fraud_config;
  const TimeWindows minute =
      TimeWindows::OfSizeAndGrace(fraud_config.card_1m_size_ms, fraud_config.grace_ms);
  const TimeWindows five_minutes =
      TimeWindows::OfSizeAndGrace(fraud_config.card_5m_size_ms, fraud_config.grace_ms)
          .AdvanceBy(fraud_config.card_5m_advance_ms);
  const int64_t slice_ms = fraud::SliceWidthMs(fraud_config);
  const std::vector<std::string> stores =
      layout == AloneLayout::kSixWindows
          ? std::vector<std::string>{"card-1m", "card-5m"}
          : std::vector<std::string>{fraud::kCardWindowsStore};

  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(dir.string(), ": cannot create: ", error.message()));
  }
  std::vector<RawInstance> tasks(static_cast<size_t>(options.partitions));
  for (size_t t = 0; t < tasks.size(); ++t) {
    WEIR_ASSIGN_OR_RETURN(rocksdb::Options rocksdb_options,
                          BuildRocksDbOptions(workload.set, workload.shared));
    rocksdb_options.create_if_missing = true;
    rocksdb_options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName,
                             rocksdb::ColumnFamilyOptions(rocksdb_options));
    for (const std::string& name : stores) {
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(rocksdb_options));
    }
    const std::string path = (dir / absl::StrCat("0_", t)).string();
    rocksdb::DB* db = nullptr;
    WEIR_RETURN_IF_ERROR(RocksDbStatus(rocksdb::DB::Open(rocksdb::DBOptions(rocksdb_options), path,
                                                         descriptors, &tasks[t].families, &db),
                                       absl::StrCat("opening ", path)));
    tasks[t].db.reset(db);
  }

  struct Access {
    size_t task = 0;
    fraud::Payment payment;
  };
  std::vector<Access> chunk;
  rocksdb::WriteOptions no_wal;
  no_wal.disableWAL = true;
  rocksdb::WriteBatch batch;
  std::string key, value, encoded;
  fraud::CardWindows card;  // the one-value layout's, reused
  Clock::duration busy{}, gets{};
  // A timed get of `key` from `family` into `value`: true when found.
  const auto get = [&](RawInstance& task, rocksdb::ColumnFamilyHandle* family,
                       absl::string_view what) -> absl::StatusOr<bool> {
    const auto get_start = Clock::now();
    const rocksdb::Status found = task.db->Get({}, family, key, &value);
    gets += Clock::now() - get_start;
    if (!found.ok() && !found.IsNotFound()) {
      return RocksDbStatus(found, absl::StrCat("reading ", what));
    }
    return found.ok();
  };
  // The first layout's state reads and writes for one payment.
  const auto six_windows = [&](RawInstance& task, const fraud::Payment& payment) -> absl::Status {
    for (int64_t window : minute.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key);  // the window stores' layout
      int64_t count = 0, sum = 0;
      WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[1], "card-1m"));
      if (found) {
        std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, ',');
        if (!absl::SimpleAtoi(parts.first, &count) || !absl::SimpleAtoi(parts.second, &sum)) {
          return absl::DataLossError(absl::StrCat(dir.string(), ": a card-1m value is corrupt"));
        }
      }
      batch.Put(task.families[1], key, absl::StrCat(count + 1, ",", sum + payment.amount_cents()));
    }
    for (int64_t window : five_minutes.WindowStartsFor(payment.ts())) {
      WindowKeyInto(payment.card_token(), window, key);
      WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[2], "card-5m"));
      if (!found) {  // that layout: 3 x 8 bytes, then the two sets
        value.assign(24 + 4 + 2 + 4 + 2, '\0');
        value.insert(30, payment.country().data(), payment.country().size());
        value.append(payment.merchant().data(), payment.merchant().size());
      }
      absl::string_view count_bytes(value.data(), 8);
      uint64_t count = 0;  // the count, 8 bytes little-endian
      ConsumeLittleEndian(count_bytes, 8, &count);
      encoded.clear();
      AppendLittleEndian(encoded, count + 1, 8);
      value.replace(0, 8, encoded);
      batch.Put(task.families[2], key, value);
    }
    return absl::OkStatus();
  };
  // Today's: the card's value, with the topology's encoding.
  const auto one_value = [&](RawInstance& task, const fraud::Payment& payment) -> absl::Status {
    key.assign(payment.card_token().data(), payment.card_token().size());
    WEIR_ASSIGN_OR_RETURN(const bool found, get(task, task.families[1], fraud::kCardWindowsStore));
    card = {};
    if (found && !fraud::DecodeCardWindows(value, card)) {
      return absl::DataLossError(absl::StrCat(dir.string(), ": a card-windows value is corrupt"));
    }
    fraud::Slice& slice = card.SliceAt(payment.ts() - payment.ts() % slice_ms);
    ++slice.count;
    slice.sum += payment.amount_cents();
    slice.max = std::max(slice.max, payment.amount_cents());
    fraud::InsertSorted(slice.countries, payment.country());
    fraud::InsertSorted(slice.merchants, payment.merchant());
    fraud::EncodeCardWindows(card, slice.start, encoded);
    batch.Put(task.families[1], key, encoded);
    return absl::OkStatus();
  };

  Progress progress(layout == AloneLayout::kSixWindows ? "RocksDB alone, six windows"
                                                       : "RocksDB alone, one value",
                    options.records);
  int64_t valid = 0;  // payments that parsed
  for (int64_t done = 0; done < options.records;) {
    chunk.clear();  // generate, parse and tokenize outside the timed section
    const int64_t n = std::min<int64_t>(options.commit_every, options.records - done);
    for (int64_t i = 0; i < n; ++i) {
      const fraud::GeneratedPayment p = workload.generator.Next();
      fraud::Payment payment;
      if (!fraud::ParsePayment(p.json, workload.tokenizer, payment).ok()) {
        continue;  // a dead letter: no state access
      }
      chunk.push_back(
          {static_cast<size_t>(PartitionForKey(p.card, options.partitions)), std::move(payment)});
    }
    const auto start = Clock::now();
    for (const Access& access : chunk) {
      RawInstance& task = tasks[access.task];
      batch.Clear();
      WEIR_RETURN_IF_ERROR(layout == AloneLayout::kSixWindows ? six_windows(task, access.payment)
                                                              : one_value(task, access.payment));
      WEIR_RETURN_IF_ERROR(RocksDbStatus(task.db->Write(no_wal, &batch), "writing state"));
    }
    done += n;
    for (RawInstance& task : tasks) {  // the commit: offsets, with the WAL as weir commits
      WEIR_RETURN_IF_ERROR(RocksDbStatus(
          task.db->Put({}, task.families[0], "offsets", absl::StrCat(done)), "writing offsets"));
    }
    busy += Clock::now() - start;
    valid += static_cast<int64_t>(chunk.size());
    progress.Update(done, std::chrono::duration<double>(busy).count());
  }
  // Untimed check that every payment's writes landed: the counts of the card-1m windows (the
  // first layout) or of the slices (today's) add up to the payments.
  int64_t counted = 0;
  for (RawInstance& task : tasks) {
    std::unique_ptr<rocksdb::Iterator> it(task.db->NewIterator({}, task.families[1]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const absl::string_view text(it->value().data(), it->value().size());
      if (layout == AloneLayout::kSixWindows) {
        int64_t count = 0;
        if (absl::SimpleAtoi(text.substr(0, text.find(',')), &count)) counted += count;
      } else if (fraud::DecodeCardWindows(text, card)) {
        for (const fraud::Slice& slice : card.slices) counted += slice.count;
      }
    }
  }
  if (counted != valid) {
    return absl::InternalError(absl::StrCat("RocksDB alone counted ", counted, " payments of ",
                                            valid, " in its ", stores.back(), " values"));
  }
  return RocksDbAloneResult{
      .records_per_s =
          static_cast<double>(options.records) / std::chrono::duration<double>(busy).count(),
      .get_us_per_record = std::chrono::duration<double, std::micro>(gets).count() /
                           static_cast<double>(std::max<int64_t>(valid, 1))};
}

// One option set, in this (child) process.
absl::StatusOr<CompareResult> RunOne(const CompareOptions& options, const std::string& set_path,
                                     const std::filesystem::path& state_dir) {
  WEIR_ASSIGN_OR_RETURN(InProcessWorkload workload, LoadInProcessWorkload(options, set_path));
  const fraud::FraudConfig& fraud_config = workload.fraud_config;
  CompareResult result{.option_set = set_path, .baseline_rss_bytes = CurrentRssBytes()};
  const Topology topology = fraud::BuildFraudTopology(fraud_config, workload.tokenizer);
  AppConfig plan_config;  // one thread with the run's record cache; the rest as `weir run`'s
  plan_config.num_stream_threads = 1;
  plan_config.statestore_cache_max_bytes = options.cache_max_bytes;
  WEIR_ASSIGN_OR_RETURN(result.planned_bytes,
                        PlannedBytes(plan_config, workload.set, topology, options.partitions,
                                     /*kafka_clients=*/false));
  TopologyTestDriver driver(
      topology, {.application_id = "bench-compare",
                 .partitions = options.partitions,
                 .open_task_db = [&](TaskId id) -> absl::StatusOr<std::unique_ptr<TaskDb>> {
                   WEIR_ASSIGN_OR_RETURN(rocksdb::Options rocksdb_options,
                                         BuildRocksDbOptions(workload.set, workload.shared));
                   return TaskDb::Open((state_dir / id.ToString()).string(), rocksdb_options);
                 },
                 .cache_max_bytes = options.cache_max_bytes});

  std::vector<float> latencies_us;
  latencies_us.reserve(static_cast<size_t>(options.records));
  Clock::duration busy{};
  const int64_t sample_every = std::max<int64_t>(options.records / std::max(options.samples, 1), 1);
  TickerTotals last;
  Clock::duration last_busy{};
  int64_t last_records = 0;
  std::vector<fraud::GeneratedPayment> chunk;
  Progress progress("weir", options.records);
  for (int64_t done = 0; done < options.records;) {
    chunk.clear();  // generate outside the timed section
    const int64_t n = std::min<int64_t>(options.commit_every, options.records - done);
    for (int64_t i = 0; i < n; ++i) chunk.push_back(workload.generator.Next());
    for (const fraud::GeneratedPayment& p : chunk) {
      const auto start = Clock::now();
      WEIR_RETURN_IF_ERROR(
          driver.PipeRaw(fraud_config.payments_topic, RawRecord{.key = p.card, .value = p.json}));
      const auto elapsed = Clock::now() - start;
      busy += elapsed;
      latencies_us.push_back(std::chrono::duration<float, std::micro>(elapsed).count());
      result.input_bytes += static_cast<int64_t>(p.card.size() + p.json.size());
      ++done;
      if (done % sample_every == 0 || done == options.records) {
        const TickerTotals now = Tickers(driver);
        const double interval = std::chrono::duration<double>(busy - last_busy).count();
        result.samples.push_back(
            {.records = done,
             .seconds = std::chrono::duration<double>(busy).count(),
             .records_per_s =
                 interval > 0 ? static_cast<double>(done - last_records) / interval : 0,
             .hit_ratio = HitRatio(now.hits - last.hits, now.misses - last.misses),
             .stall_ms = static_cast<double>(now.stall_micros) / 1'000.0});
        last = now;
        last_busy = busy;
        last_records = done;
      }
      progress.Update(done, std::chrono::duration<double>(busy).count());
    }
    const auto start = Clock::now();
    WEIR_RETURN_IF_ERROR(driver.Commit());
    busy += Clock::now() - start;
    for (const char* topic : {fraud_config.alerts_topic.c_str(), fraud_config.dlq_topic.c_str()}) {
      driver.ReadOutput(topic);
    }
    driver.ReadOutput(absl::StrCat("bench-compare-", fraud::kCardWindowsStore, "-changelog"));
  }
  result.records = options.records;
  result.seconds = std::chrono::duration<double>(busy).count();
  Finish(Tickers(driver), state_dir, result);
  double sum = 0;
  for (float l : latencies_us) sum += l;
  result.latency_avg_us = sum / static_cast<double>(latencies_us.size());
  std::nth_element(latencies_us.begin(), latencies_us.begin() + latencies_us.size() * 99 / 100,
                   latencies_us.end());
  result.latency_p99_us = latencies_us[latencies_us.size() * 99 / 100];
  result.latency_max_us = *std::max_element(latencies_us.begin(), latencies_us.end());
  return result;
}

// One option set end to end, in this (child) process.
absl::StatusOr<CompareResult> RunOneEndToEnd(const CompareOptions& options,
                                             const std::string& set_path,
                                             const std::filesystem::path& state_dir) {
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(options.fraud_config));
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, EmbeddedBroker::Start(1));
  // The embedded broker keeps 5 MiB per partition: spread the input wide enough.
  const int32_t partitions =
      std::max<int32_t>(options.partitions, static_cast<int32_t>(options.records / 20'000 + 1));
  WEIR_RETURN_IF_ERROR(
      broker->CreateTopic({.name = fraud_config.payments_topic, .partitions = partitions}));
  for (const std::string& topic : {fraud_config.alerts_topic, fraud_config.dlq_topic}) {
    WEIR_RETURN_IF_ERROR(broker->CreateTopic({.name = topic, .partitions = 4}));
  }
  WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator,
                        fraud::PaymentGenerator::Create(GeneratorOptions(options), fraud_config));
  CompareResult result{.option_set = set_path};
  {
    PerfStats stats;
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<PerfProducer> producer,
                          PerfProducer::Create({.bootstrap_servers = broker->bootstrap_servers(),
                                                .specific = {{"linger.ms", "20"}}},
                                               fraud_config.payments_topic, &stats));
    for (int64_t i = 0; i < options.records; ++i) {
      const fraud::GeneratedPayment p = generator.Next();
      result.input_bytes += static_cast<int64_t>(p.card.size() + p.json.size());
      WEIR_RETURN_IF_ERROR(producer->Send(p.card, p.json, p.ts));
    }
    WEIR_RETURN_IF_ERROR(producer->Flush());
  }
  WEIR_ASSIGN_OR_RETURN(ConsumeTotals raw,
                        ConsumeThroughput({.bootstrap_servers = broker->bootstrap_servers(),
                                           .specific = {{"group.id", "bench-compare-raw"},
                                                        {"enable.auto.commit", "false"}}},
                                          fraud_config.payments_topic, options.records));
  result.raw_consume_records_per_s = static_cast<double>(raw.messages) / raw.seconds;

  AppConfig app;
  app.application_id = "bench-compare";
  app.bootstrap_servers = broker->bootstrap_servers();
  app.num_stream_threads = options.threads;
  app.state_dir = state_dir.string();
  app.rocksdb_options = set_path;
  app.topology_config = options.fraud_config;
  app.statestore_cache_max_bytes = options.cache_max_bytes;
  app.commit_interval_ms = 1'000;  // state reaches RocksDB during the run, not only at the end
  const fraud::CardTokenizer tokenizer("weir-bench-compare");
  const Topology topology = fraud::BuildFraudTopology(fraud_config, tokenizer);
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet set, LoadRocksDbOptionSet(set_path));
  WEIR_ASSIGN_OR_RETURN(result.planned_bytes,
                        PlannedBytes(app, set, topology, partitions, /*kafka_clients=*/true));
  // Here the process already holds the embedded broker's log of the whole input.
  result.baseline_rss_bytes = CurrentRssBytes();
  KafkaStreamsOptions streams_options;
  streams_options.create_topic = [&broker](const TopicSpec& t) { return broker->CreateTopic(t); };
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<KafkaStreams> streams,
                        KafkaStreams::Create(topology, app, std::move(streams_options)));
  WEIR_RETURN_IF_ERROR(streams->Start());
  auto processed = [&] {
    int64_t total = 0;
    for (const ThreadSnapshot& t : streams->threads()) total += t.processed;
    return total;
  };
  const int64_t sample_every = std::max<int64_t>(options.records / std::max(options.samples, 1), 1);
  std::optional<Clock::time_point> first;
  int64_t next_sample = sample_every, last_records = 0;
  double last_seconds = 0;
  Progress progress("weir", options.records);
  TickerTotals last;
  const auto deadline = Clock::now() + std::chrono::seconds(600);
  while (Clock::now() < deadline) {
    WEIR_RETURN_IF_ERROR(streams->CheckThreads());
    const int64_t done = processed();
    if (done > 0 && !first) first = Clock::now();
    if (first && (done >= next_sample || done >= options.records)) {
      const double seconds = std::chrono::duration<double>(Clock::now() - *first).count();
      const TickerTotals now = Tickers(*streams);
      result.samples.push_back(
          {.records = done,
           .seconds = seconds,
           .records_per_s = seconds > last_seconds ? static_cast<double>(done - last_records) /
                                                         (seconds - last_seconds)
                                                   : 0,
           .hit_ratio = HitRatio(now.hits - last.hits, now.misses - last.misses),
           .stall_ms = static_cast<double>(now.stall_micros) / 1'000.0});
      last = now;
      last_records = done;
      last_seconds = seconds;
      next_sample = done + sample_every;
      progress.Update(done, seconds);
    }
    if (done >= options.records) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the instance
  }
  if (processed() < options.records) {
    return absl::DeadlineExceededError("the instance did not process the input in 600 s");
  }
  result.records = options.records;
  result.seconds = std::chrono::duration<double>(Clock::now() - *first).count();
  // Wait for a commit after the last record (its writes reach RocksDB), then for a metrics
  // publication after it (about every second).
  auto commits = [&] {
    int64_t total = 0;
    for (const ThreadSnapshot& t : streams->threads()) total += t.commits;
    return total;
  };
  const int64_t commits_at_end = commits();
  const auto commit_deadline = Clock::now() + std::chrono::seconds(10);
  while (commits() <= commits_at_end && Clock::now() < commit_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the instance
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  // Over the threads: the average of their averages, the largest maximum. The threads' sensors
  // keep no percentile, so there is no p99 here.
  result.latency_avg_us = result.latency_max_us = 0;
  result.latency_p99_us = std::numeric_limits<double>::quiet_NaN();
  for (const ThreadSnapshot& thread : streams->threads()) {
    result.latency_avg_us += thread.metrics.process_latency.avg * 1'000.0 / options.threads;
    result.latency_max_us =
        std::max(result.latency_max_us, thread.metrics.process_latency.max * 1'000.0);
  }
  const TickerTotals t = Tickers(*streams);
  streams->Close();
  Finish(t, state_dir, result);
  return result;
}

}  // namespace

absl::StatusOr<std::vector<CompareResult>> RunCompare(const CompareOptions& options) {
  if (options.option_sets.empty()) {
    return absl::InvalidArgumentError("give at least one --options FILE");
  }
  if (options.threads != 1 && !options.end_to_end) {
    return absl::InvalidArgumentError(
        "--threads needs --end-to-end: in process, the test driver runs one thread");
  }
  // Check every input before the first child starts: a typo should not cost a whole run.
  WEIR_RETURN_IF_ERROR(fraud::LoadFraudConfig(options.fraud_config).status());
  for (const std::string& set : options.option_sets) {
    WEIR_RETURN_IF_ERROR(LoadRocksDbOptionSet(set).status());
  }
  std::vector<CompareResult> results;
  for (size_t i = 0; i < options.option_sets.size(); ++i) {
    const std::string& set = options.option_sets[i];
    const std::filesystem::path state =
        std::filesystem::path(options.state_root) /
        absl::StrCat(i, "-", std::filesystem::path(set).stem().string());
    std::error_code error;
    std::filesystem::remove_all(state, error);
    std::filesystem::create_directories(state, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(state.string(), ": cannot create the state directory: ", error.message()));
    }
    std::fprintf(stderr, "[%zu/%zu] %s: %lld records over %lld cards, %d tasks...\n", i + 1,
                 options.option_sets.size(), set.c_str(), static_cast<long long>(options.records),
                 static_cast<long long>(options.cards), options.partitions);
    // Each set runs in a child of its own: its peak RSS is that run's alone.
    absl::StatusOr<std::string> text = RunForked([&]() -> absl::StatusOr<std::string> {
      absl::StatusOr<CompareResult> result =
          options.end_to_end ? RunOneEndToEnd(options, set, state) : RunOne(options, set, state);
      if (!result.ok()) return result.status();
      if (options.end_to_end) return ToJson(*result).dump();
      // After weir's run, whose peak RSS is taken: RocksDB alone on the same work.
      std::fprintf(stderr, "[%zu/%zu] %s: RocksDB alone on the same reads and writes...\n", i + 1,
                   options.option_sets.size(), set.c_str());
      WEIR_ASSIGN_OR_RETURN(const RocksDbAloneResult six,
                            RunRocksDbAlone(options, set, state / "rocksdb-alone-six-windows",
                                            AloneLayout::kSixWindows));
      WEIR_ASSIGN_OR_RETURN(const RocksDbAloneResult one,
                            RunRocksDbAlone(options, set, state / "rocksdb-alone-one-value",
                                            AloneLayout::kOneValue));
      result->raw_rocksdb_records_per_s = six.records_per_s;
      result->raw_rocksdb_get_us_per_record = six.get_us_per_record;
      result->raw_rocksdb_one_value_records_per_s = one.records_per_s;
      result->raw_rocksdb_one_value_get_us_per_record = one.get_us_per_record;
      return ToJson(*result).dump();
    });
    if (!text.ok()) {
      return absl::InternalError(absl::StrCat(set, ": the run failed: ", text.status().message()));
    }
    const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded()) {
      return absl::InternalError(absl::StrCat(set, ": the run reported no JSON"));
    }
    results.push_back(FromJson(json));
    std::fprintf(stderr, "[%zu/%zu] %s: %.0f records/s\n", i + 1, options.option_sets.size(),
                 set.c_str(), results.back().records_per_s);
  }
  return results;
}

namespace {

// What the run may hold: the process before its stores, plus the plan of its configuration.
double MemoryBudget(const CompareResult& r) {
  return static_cast<double>(r.baseline_rss_bytes + r.planned_bytes);
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
    if (end_to_end) {
      absl::StrAppendFormat(&out, "%s: raw consume %.0f records/s in the same run; weir %.2fx\n",
                            r.option_set, r.raw_consume_records_per_s,
                            r.records_per_s / r.raw_consume_records_per_s);
    } else if (r.raw_rocksdb_records_per_s > 0) {
      absl::StrAppendFormat(&out,
                            "%s: RocksDB alone, one value per payment (today's layout) %.0f "
                            "records/s (its gets %.1f us per record); weir %.2fx\n",
                            r.option_set, r.raw_rocksdb_one_value_records_per_s,
                            r.raw_rocksdb_one_value_get_us_per_record,
                            r.records_per_s / r.raw_rocksdb_one_value_records_per_s);
      absl::StrAppendFormat(&out,
                            "%s: RocksDB alone, six windows per payment (the first layout) %.0f "
                            "records/s (its gets %.1f us per record); weir %.2fx\n",
                            r.option_set, r.raw_rocksdb_records_per_s,
                            r.raw_rocksdb_get_us_per_record,
                            r.records_per_s / r.raw_rocksdb_records_per_s);
    }
  }
  return out;
}

std::string ResultsJson(const CompareOptions& options, const std::vector<CompareResult>& results) {
  nlohmann::json sets = nlohmann::json::array();
  for (const CompareResult& r : results) sets.push_back(ToJson(r));
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

// An SVG line chart of `value` over processed records, one line per option set.
std::string Chart(const std::string& title, const std::vector<CompareResult>& results,
                  double (*value)(const CompareSample&)) {
  constexpr double kW = 640, kH = 260, kLeft = 60, kRight = 10, kTop = 30, kBottom = 30;
  static const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  double max_x = 1, max_y = 0;
  for (const CompareResult& r : results) {
    for (const CompareSample& s : r.samples) {
      max_x = std::max(max_x, static_cast<double>(s.records));
      max_y = std::max(max_y, value(s));
    }
  }
  if (max_y <= 0) max_y = 1;
  std::string svg = absl::StrFormat(
      "<svg width='%.0f' height='%.0f' "
      "font-family='sans-serif' font-size='11'><text x='%.0f' y='18' font-size='13'>%s</text>"
      "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='#888'/>"
      "<line x1='%.0f' y1='%.0f' x2='%.0f' y2='%.0f' stroke='#888'/>"
      "<text x='4' y='%.0f'>%.4g</text><text x='4' y='%.0f'>0</text>"
      "<text x='%.0f' y='%.0f' text-anchor='end'>%.0f records</text>",
      kW, kH, kLeft, title, kLeft, kTop, kLeft, kH - kBottom, kLeft, kH - kBottom, kW - kRight,
      kH - kBottom, kTop + 4, max_y, kH - kBottom, kW - kRight, kH - 8, max_x);
  for (size_t i = 0; i < results.size(); ++i) {
    // A sample without a value (a hit ratio over an interval with no reads) breaks the line.
    std::vector<std::string> lines(1);
    for (const CompareSample& s : results[i].samples) {
      if (std::isnan(value(s))) {
        if (!lines.back().empty()) lines.emplace_back();
        continue;
      }
      const double x = kLeft + (kW - kLeft - kRight) * static_cast<double>(s.records) / max_x;
      const double y = kH - kBottom - (kH - kTop - kBottom) * value(s) / max_y;
      absl::StrAppendFormat(&lines.back(), "%.1f,%.1f ", x, y);
    }
    const char* colour = kColours[i % 5];
    bool drawn = false;
    for (const std::string& points : lines) {
      if (points.empty()) continue;
      drawn = true;
      absl::StrAppendFormat(
          &svg, "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>", colour, points);
    }
    absl::StrAppendFormat(&svg, "<text x='%.0f' y='%.0f' fill='%s'>%s%s</text>", kLeft + 10,
                          kTop + 14 + 14.0 * i, colour, results[i].option_set,
                          drawn ? "" : " (no reads)");
  }
  return svg + "</svg>";
}

}  // namespace

std::string ResultsHtml(const CompareOptions& options, const std::vector<CompareResult>& results) {
  std::string baselines;
  for (const CompareResult& r : results) {
    if (options.end_to_end) {
      if (r.raw_consume_records_per_s <= 0) continue;
      absl::StrAppendFormat(&baselines, "<li>%s: %.0f records/s; weir %.2fx</li>", r.option_set,
                            r.raw_consume_records_per_s,
                            r.records_per_s / r.raw_consume_records_per_s);
      continue;
    }
    if (r.raw_rocksdb_records_per_s <= 0) continue;
    absl::StrAppendFormat(
        &baselines,
        "<li>%s: one value per payment (today's layout) %.0f records/s (its gets %.1f µs per "
        "record), weir %.2fx; six windows per payment (the first layout) %.0f records/s (its "
        "gets %.1f µs per record), weir %.2fx</li>",
        r.option_set, r.raw_rocksdb_one_value_records_per_s,
        r.raw_rocksdb_one_value_get_us_per_record,
        r.records_per_s / r.raw_rocksdb_one_value_records_per_s, r.raw_rocksdb_records_per_s,
        r.raw_rocksdb_get_us_per_record, r.records_per_s / r.raw_rocksdb_records_per_s);
  }
  if (!baselines.empty()) {
    baselines = absl::StrCat(
        "<p>",
        options.end_to_end
            ? "A raw librdkafka consumer over the same input, in the same run:"
            : "RocksDB alone doing the same payments' state reads and writes (one WriteBatch per "
              "payment, no engine), with the same options, in two layouts:",
        "</p><ul>", baselines, "</ul>");
  }
  std::string rows;
  for (const CompareResult& r : results) {
    absl::StrAppendFormat(
        &rows,
        "<tr><td>%s</td><td>%.0f</td><td>%.2f</td><td>%.1f</td><td>%.1f</td><td>%s</td>"
        "<td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.0f</td><td>%.0f</td>"
        "<td>%.2f</td><td>%.1f</td></tr>",
        r.option_set, r.records_per_s, r.mb_per_s, r.latency_avg_us,
        options.end_to_end ? r.latency_max_us : r.latency_p99_us,
        FormatRatio(r.block_cache_data_hit_ratio), r.write_stall_ms, r.bytes_written / 1048576.0,
        r.memtable_bytes_flushed / 1048576.0,
        (r.compaction_bytes_read + r.compaction_bytes_written) / 1048576.0,
        r.peak_rss_bytes / 1048576.0, MemoryBudget(r) / 1048576.0,
        static_cast<double>(r.peak_rss_bytes) / MemoryBudget(r), r.state_bytes / 1048576.0);
  }
  return absl::StrCat(
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>weir bench compare</title>"
      "<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
      "</style></head><body><h1>weir bench compare</h1>",
      absl::StrFormat("<p>weir built as %s.</p>", BuildType()),
      options.end_to_end
          ? absl::StrFormat("<p>End to end: %d payments (%d cards, seed %d) produced to an "
                            "embedded broker, then consumed by the fraud-detection instance "
                            "with %d stream thread(s) and a %d-byte record cache; each option "
                            "set in its own process from an empty state directory. The latency "
                            "columns are the threads' average and largest maximum per "
                            "record.</p>",
                            options.records, options.cards, options.seed, options.threads,
                            options.cache_max_bytes)
          : absl::StrFormat("<p>In process: the fraud topology over %d records (%d cards, seed "
                            "%d), %d tasks, a %d-byte record cache, a commit every %d records; "
                            "each option set in its own process from an empty state "
                            "directory.</p>",
                            options.records, options.cards, options.seed, options.partitions,
                            options.cache_max_bytes, options.commit_every),
      "<table><tr><th>option set</th><th>records/s</th><th>MB/s</th><th>avg µs</th>",
      options.end_to_end ? "<th>max µs</th>" : "<th>p99 µs</th>",
      "<th>block cache data hit ratio</th><th>write stall ms</th>"
      "<th>bytes written MB</th><th>memtable flushed MB</th><th>compaction MB</th>"
      "<th>peak RSS MB</th><th>memory budget MB</th><th>peak RSS / budget</th>"
      "<th>state MB</th></tr>",
      rows, "</table>", baselines,
      "<p>Memory budget: the process's RSS before the first store opened plus "
      "<code>weir plan memory</code>'s total for the run's configuration (record cache, "
      "uncommitted writes bound, block caches and memtables by the option set; librdkafka's "
      "buffers end to end).</p><h2>Along the run</h2><p>",
      Chart("throughput (records/s)", results,
            [](const CompareSample& s) { return s.records_per_s; }),
      "</p><p>",
      Chart("block cache data hit ratio (per interval)", results,
            [](const CompareSample& s) { return s.hit_ratio; }),
      "</p><p>",
      Chart("write stall (ms, cumulative)", results,
            [](const CompareSample& s) { return s.stall_ms; }),
      "</p></body></html>\n");
}

}  // namespace weir::bench
