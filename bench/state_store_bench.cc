// State-store microbenchmarks under weir's option sets (config/rocksdb/*.yaml), with a raw
// RocksDB baseline using identical options in the same binary:
//  - RawWriteBatchPut: rocksdb::WriteBatch puts, written every 1,000 (weir commits a batch)
//  - RawGet: rocksdb::DB::Get of the window keys WindowFetch reads, from SST files
//  - WindowPut / WindowFetch: RocksDbWindowStore through TaskDb, committed every 1,000 puts
//  - KeyValuePut / KeyValueGet / KeyValueRange: RocksDbKeyValueStore, the same way
//  - WindowPutStatistics: window puts under the default set at each statistics level, for the
//    CPU cost of RocksDB statistics (off, tickers, timers, all)
//  - WindowPutMetered: window puts with and without the metered layer of recording level debug
//  - HotKeyUpdate: an aggregation's read-modify-write (fetch, then put) of 100 hot cards' current
//    windows, with the record cache (10 MiB, flushed at each commit) and without
//  - HotKeyUpdateHarness: the same update's own work with no store at all (the floor for both)
// Keys: a 16-byte card token (window stores add the 8-byte window start). Figures other than
// HotKeyUpdate's cached rows are without the record cache.
//
//   build/bench/state_store_bench --benchmark_filter='Put|HotKey'
//
// Reports per-operation latency percentiles (p50_ns, p99_ns; a commit lands in the 1,000th put)
// beside Google Benchmark's mean. Compare ratios within one run, not absolutes across runs.
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/measure.h"
#include "common/clock.h"
#include "engine/metrics/metered_stores.h"
#include "stores/caching_window_store.h"
#include "stores/rocksdb_key_value_store.h"
#include "stores/rocksdb_option_set.h"
#include "stores/rocksdb_window_store.h"
#include "stores/task_db.h"

namespace weir {
namespace {

const char* const kOptionSets[] = {"default", "tuned", "bounded"};
const char* const kStatisticsLevels[] = {"off", "tickers", "timers", "all"};
constexpr int kCommitEvery = 1'000;
constexpr uint64_t kCards = 100'000;

std::string Token(uint64_t card) {
  std::string key(16, '\0');
  for (int i = 0; i < 8; ++i) {
    key[i] = static_cast<char>(card >> (56 - 8 * i));
    key[8 + i] = static_cast<char>((card * 0x9E3779B97F4A7C15ull) >> (56 - 8 * i));
  }
  return key;
}

// The same layout RocksDbWindowStore writes: token, then the window start big-endian.
std::string WindowKey(uint64_t card, uint64_t start) {
  std::string key = Token(card);
  for (int i = 0; i < 8; ++i) key.push_back(static_cast<char>(start >> (56 - 8 * i)));
  return key;
}

absl::StatusOr<rocksdb::Options> Options(const std::string& set_name,
                                         const std::string& statistics = "") {
  absl::StatusOr<RocksDbOptionSet> set =
      LoadRocksDbOptionSet("config/rocksdb/" + set_name + ".yaml");
  if (!set.ok()) return set.status();
  if (!statistics.empty()) {
    absl::Status level = RocksDbOptionSetSchema().Set("statistics=" + statistics, *set);
    if (!level.ok()) return level;
  }
  return BuildRocksDbOptions(*set, MakeSharedResources(*set));
}

std::string FreshDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("weir-bench-" + name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

std::unique_ptr<TaskDb> OpenTaskDb(const std::string& set_name, benchmark::State& state,
                                   const std::string& statistics = "") {
  absl::StatusOr<rocksdb::Options> options = Options(set_name, statistics);
  if (!options.ok()) {
    state.SkipWithError(std::string(options.status().message()).c_str());
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<TaskDb>> db =
      TaskDb::Open(FreshDir(set_name + "-" + statistics), *options);
  if (!db.ok()) {
    state.SkipWithError(std::string(db.status().message()).c_str());
    return nullptr;
  }
  return *std::move(db);
}

// A plain RocksDB instance with the set's options in a fresh directory (the raw baselines).
std::unique_ptr<rocksdb::DB> OpenRawDb(const std::string& set_name, const std::string& dir_name,
                                       benchmark::State& state) {
  absl::StatusOr<rocksdb::Options> options = Options(set_name);
  if (!options.ok()) {
    state.SkipWithError("options");
    return nullptr;
  }
  options->create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(*options, FreshDir(dir_name), &raw).ok()) {
    state.SkipWithError("open");
    return nullptr;
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

// Times each call of `op(i)`, commits through `commit` every `commit_every` calls (timed with
// the call that triggers it), and reports throughput and percentiles.
template <typename Op, typename Commit>
void Measure(benchmark::State& state, Op op, Commit commit, int64_t commit_every = kCommitEvery) {
  std::vector<int64_t> nanos;
  nanos.reserve(1 << 20);
  int64_t i = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    op(i);
    if (++i % commit_every == 0 && !commit()) {
      state.SkipWithError("commit failed");
      break;
    }
    nanos.push_back((std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations());
  if (nanos.empty()) return;
  std::sort(nanos.begin(), nanos.end());
  state.counters["p50_ns"] = bench::PercentileOfSorted(nanos, 0.5);
  state.counters["p99_ns"] = bench::PercentileOfSorted(nanos, 0.99);
}

void BM_RawWriteBatchPut(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<rocksdb::DB> db = OpenRawDb(set_name, "raw-" + set_name, state);
  if (db == nullptr) return;
  rocksdb::WriteBatch batch;
  std::mt19937_64 random(42);
  const std::string value(64, 'v');
  Measure(
      state,
      [&](int64_t) { batch.Put(WindowKey(random() % kCards, (random() % 60) * 60'000), value); },
      [&] {
        const bool ok = db->Write(rocksdb::WriteOptions(), &batch).ok();  // WAL on, as weir
        batch.Clear();
        return ok;
      });
}

// Random window puts into a fresh window store of `db`, committed every kCommitEvery.
void WindowPuts(benchmark::State& state, TaskDb* db) {
  if (db == nullptr) return;
  auto store = RocksDbWindowStore::Open({.name = "w", .retention_ms = int64_t{1} << 40}, db);
  if (!store.ok()) return state.SkipWithError("store");
  std::mt19937_64 random(42);
  const std::string value(64, 'v');
  Measure(
      state,
      [&](int64_t) {
        (*store)->Put(Token(random() % kCards), static_cast<int64_t>((random() % 60) * 60'000),
                      value);
      },
      [&] { return db->Commit({}).ok(); });
}

void BM_WindowPut(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  WindowPuts(state, OpenTaskDb(set_name, state).get());
}

// Window puts through the metered layer metrics.recording.level debug adds (engine's
// MeteredWindowStore: two clock reads and a sensor update per put), default set.
void BM_WindowPutMetered(benchmark::State& state) {
  const bool metered = state.range(0) != 0;
  state.SetLabel(metered ? "default, recording level debug (metered)" : "default, level info");
  std::unique_ptr<TaskDb> db = OpenTaskDb("default", state);
  if (db == nullptr) return;
  auto opened = RocksDbWindowStore::Open({.name = "w", .retention_ms = int64_t{1} << 40}, db.get());
  if (!opened.ok()) return state.SkipWithError("store");
  std::unique_ptr<WindowBytesStore> store = *std::move(opened);
  if (metered) {
    store = std::make_unique<MeteredWindowStore>(std::move(store), WallClockMs);
  }
  std::mt19937_64 random(42);
  const std::string value(64, 'v');
  Measure(
      state,
      [&](int64_t) {
        store->Put(Token(random() % kCards), static_cast<int64_t>((random() % 60) * 60'000), value);
      },
      [&] { return db->Commit({}).ok(); });
}

void BM_WindowPutStatistics(benchmark::State& state) {
  const std::string level = kStatisticsLevels[state.range(0)];
  state.SetLabel("default, statistics " + level);
  WindowPuts(state, OpenTaskDb("default", state, level).get());
}

// Preloads kCards windows (or keys), commits and flushes them to SST files.
template <typename Load>
bool Preload(TaskDb& db, Load load) {
  for (uint64_t card = 0; card < kCards; ++card) {
    load(card);
    if ((card + 1) % kCommitEvery == 0 && !db.Commit({}).ok()) return false;
  }
  return db.Commit({}).ok() && db.FlushMemtables().ok();
}

void BM_WindowFetch(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<TaskDb> db = OpenTaskDb(set_name, state);
  if (db == nullptr) return;
  auto store = RocksDbWindowStore::Open({.name = "w", .retention_ms = int64_t{1} << 40}, db.get());
  if (!store.ok()) return state.SkipWithError("store");
  const std::string value(64, 'v');
  if (!Preload(*db, [&](uint64_t card) { (*store)->Put(Token(card), 0, value); })) {
    return state.SkipWithError("preload");
  }
  std::mt19937_64 random(7);
  Measure(
      state,
      [&](int64_t) { benchmark::DoNotOptimize((*store)->Fetch(Token(random() % kCards), 0)); },
      [] { return true; });
}

// RocksDB's own point read on the same preloaded window keys (a plain DB with the set's
// options, the same keys written in batches of kCommitEvery and flushed): what a window fetch
// costs below weir's store.
void BM_RawGet(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<rocksdb::DB> db = OpenRawDb(set_name, "raw-get-" + set_name, state);
  if (db == nullptr) return;
  const std::string value(64, 'v');
  rocksdb::WriteBatch batch;
  for (uint64_t card = 0; card < kCards; ++card) {
    batch.Put(WindowKey(card, 0), value);
    if ((card + 1) % kCommitEvery == 0) {
      if (!db->Write(rocksdb::WriteOptions(), &batch).ok()) return state.SkipWithError("load");
      batch.Clear();
    }
  }
  if (!db->Flush(rocksdb::FlushOptions()).ok()) return state.SkipWithError("flush");
  std::mt19937_64 random(7);
  std::string out;
  Measure(
      state,
      [&](int64_t) {
        benchmark::DoNotOptimize(
            db->Get(rocksdb::ReadOptions(), WindowKey(random() % kCards, 0), &out));
      },
      [] { return true; });
}

std::unique_ptr<RocksDbKeyValueStore> KeyValueStore(TaskDb& db, benchmark::State& state) {
  auto store = RocksDbKeyValueStore::Open("kv", &db);
  if (!store.ok()) {
    state.SkipWithError("store");
    return nullptr;
  }
  return *std::move(store);
}

// A key-value store holding kCards committed entries, flushed to SST files.
std::unique_ptr<RocksDbKeyValueStore> PreloadedKeyValueStore(TaskDb* db, benchmark::State& state) {
  if (db == nullptr) return nullptr;
  std::unique_ptr<RocksDbKeyValueStore> store = KeyValueStore(*db, state);
  if (store == nullptr) return nullptr;
  const std::string value(64, 'v');
  if (!Preload(*db, [&](uint64_t card) { store->Put(Token(card), value); })) {
    state.SkipWithError("preload");
    return nullptr;
  }
  return store;
}

void BM_KeyValuePut(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<TaskDb> db = OpenTaskDb(set_name, state);
  if (db == nullptr) return;
  std::unique_ptr<RocksDbKeyValueStore> store = KeyValueStore(*db, state);
  if (store == nullptr) return;
  std::mt19937_64 random(42);
  const std::string value(64, 'v');
  Measure(
      state, [&](int64_t) { store->Put(Token(random() % kCards), value); },
      [&] { return db->Commit({}).ok(); });
}

void BM_KeyValueGet(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<TaskDb> db = OpenTaskDb(set_name, state);
  std::unique_ptr<RocksDbKeyValueStore> store = PreloadedKeyValueStore(db.get(), state);
  if (store == nullptr) return;
  std::mt19937_64 random(7);
  Measure(
      state, [&](int64_t) { benchmark::DoNotOptimize(store->Get(Token(random() % kCards))); },
      [] { return true; });
}

// A range of 10 consecutive keys from a random start.
void BM_KeyValueRange(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<TaskDb> db = OpenTaskDb(set_name, state);
  std::unique_ptr<RocksDbKeyValueStore> store = PreloadedKeyValueStore(db.get(), state);
  if (store == nullptr) return;
  std::mt19937_64 random(7);
  Measure(
      state,
      [&](int64_t) {
        int seen = 0;
        store->Range(Token(random() % kCards), std::string(16, '\xff'),
                     [&](absl::string_view, absl::string_view) { return ++seen < 10; });
        benchmark::DoNotOptimize(seen);
      },
      [] { return true; });
}

// Read-modify-write of 100 hot cards' current window, as a windowed count does per record.
void BM_HotKeyUpdate(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  const bool cached = state.range(1) != 0;
  const int64_t commit_every = state.range(2);
  state.SetLabel(
      absl::StrCat(set_name, cached ? ", cached" : ", uncached", ", commit every ", commit_every));
  std::unique_ptr<TaskDb> db = OpenTaskDb(set_name, state);
  if (db == nullptr) return;
  const WindowStoreOptions options{.name = "w", .retention_ms = int64_t{1} << 40};
  auto opened = RocksDbWindowStore::Open(options, db.get());
  if (!opened.ok()) return state.SkipWithError("store");
  RecordCache cache(int64_t{10} << 20);  // Kafka Streams' default budget
  std::unique_ptr<WindowBytesStore> store = *std::move(opened);
  if (cached) {
    store = std::make_unique<CachingWindowStore>(std::move(store), options, &cache, "0_0-w",
                                                 [] { return int64_t{0}; });
  }
  std::vector<std::string> hot;
  for (uint64_t card = 0; card < 100; ++card) hot.push_back(Token(card));
  std::mt19937_64 random(42);
  Measure(
      state,
      [&](int64_t) {
        const std::string& token = hot[random() % hot.size()];
        const std::optional<std::string> count = store->Fetch(token, 0);
        store->Put(token, 0, std::to_string(count ? std::stoll(*count) + 1 : 1));
      },
      [&] { return store->Flush().ok() && db->Commit({}).ok(); }, commit_every);
  if (cached) {
    state.counters["cache_hit_ratio"] =
        static_cast<double>(cache.hits()) / static_cast<double>(cache.hits() + cache.misses());
  }
}

// BM_HotKeyUpdate's work with a store that costs nothing: the same random pick, parse, format
// and clock reads, the value kept in a vector slot. No cache can make an update cheaper than
// this, which bounds cached / uncached at uncached's time over this one.
void BM_HotKeyUpdateHarness(benchmark::State& state) {
  state.SetLabel("no store: the benchmark's own work per update");
  std::vector<std::string> hot;
  for (uint64_t card = 0; card < 100; ++card) hot.push_back(Token(card));
  std::vector<std::optional<std::string>> values(hot.size());
  std::mt19937_64 random(42);
  Measure(
      state,
      [&](int64_t) {
        const size_t card = random() % hot.size();
        benchmark::DoNotOptimize(hot[card].data());
        const std::optional<std::string> count = values[card];
        values[card] = std::to_string(count ? std::stoll(*count) + 1 : 1);
      },
      [] { return true; });
}

BENCHMARK(BM_RawWriteBatchPut)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_RawGet)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_WindowPut)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_WindowFetch)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_KeyValuePut)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_KeyValueGet)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_KeyValueRange)->DenseRange(0, 2)->ArgName("set");
BENCHMARK(BM_WindowPutStatistics)->DenseRange(0, 3)->ArgName("statistics");
BENCHMARK(BM_WindowPutMetered)->DenseRange(0, 1)->ArgName("metered");
// Commits every 1,000 updates (as the other rows) and every 10,000 (closer to a service: at
// 100k updates/s, commit.interval.ms 100 already covers 10,000).
BENCHMARK(BM_HotKeyUpdate)
    ->ArgsProduct({{0, 1, 2}, {0, 1}, {1'000, 10'000}})
    ->ArgNames({"set", "cached", "commit_every"});
BENCHMARK(BM_HotKeyUpdateHarness);

}  // namespace
}  // namespace weir

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("weir_build_type", WEIR_BUILD_TYPE);  // figures name their build
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
