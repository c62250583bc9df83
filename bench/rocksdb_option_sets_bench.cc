// Raw RocksDB under weir's option sets (config/rocksdb/*.yaml): puts and point gets with the
// window-store key layout ([16-byte card token][8-byte big-endian window start]), WAL off as
// weir writes. Every figure is per option set in the same run, so compare ratios, not absolutes.
//
//   build/bench/rocksdb_option_sets_bench --benchmark_filter=Get
//
// Reports per-operation latency percentiles (p50_ns, p99_ns) beside Google Benchmark's mean.
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "stores/rocksdb_option_set.h"

namespace weir {
namespace {

const char* const kOptionSets[] = {"default", "tuned", "bounded"};

// Window-store key: 16 bytes of token, then the window start big-endian.
std::string WindowKey(uint64_t card, uint64_t window_start) {
  std::string key(24, '\0');
  for (int i = 0; i < 8; ++i) {
    key[i] = static_cast<char>(card >> (56 - 8 * i));
    key[8 + i] = static_cast<char>((card * 0x9E3779B97F4A7C15ull) >> (56 - 8 * i));
    key[16 + i] = static_cast<char>(window_start >> (56 - 8 * i));
  }
  return key;
}

// Opens a fresh database under the named option set; aborts the benchmark loudly on failure.
std::unique_ptr<rocksdb::DB> OpenFresh(const std::string& set_name, benchmark::State& state) {
  const std::string path = "config/rocksdb/" + set_name + ".yaml";
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet(path);
  if (!set.ok()) {
    state.SkipWithError(std::string(set.status().message()).c_str());
    return nullptr;
  }
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, MakeSharedResources(*set));
  if (!options.ok()) {
    state.SkipWithError(std::string(options.status().message()).c_str());
    return nullptr;
  }
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("weir-bench-" + set_name)).string();
  std::filesystem::remove_all(dir);
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(*options, dir, &db);
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return nullptr;
  }
  return std::unique_ptr<rocksdb::DB>(db);
}

void ReportPercentiles(benchmark::State& state, std::vector<int64_t>& nanos) {
  if (nanos.empty()) return;
  std::sort(nanos.begin(), nanos.end());
  state.counters["p50_ns"] = static_cast<double>(nanos[nanos.size() / 2]);
  state.counters["p99_ns"] = static_cast<double>(nanos[nanos.size() * 99 / 100]);
}

// Arg 0: option set index; arg 1: number of distinct cards.
void BM_Put(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<rocksdb::DB> db = OpenFresh(set_name, state);
  if (db == nullptr) return;
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  const std::string value(64, 'v');
  std::mt19937_64 random(42);
  std::vector<int64_t> nanos;
  nanos.reserve(1 << 20);
  for (auto _ : state) {
    const std::string key =
        WindowKey(random() % static_cast<uint64_t>(state.range(1)), (random() % 60) * 60'000);
    const auto start = std::chrono::steady_clock::now();
    rocksdb::Status status = db->Put(write, key, value);
    nanos.push_back((std::chrono::steady_clock::now() - start).count());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  ReportPercentiles(state, nanos);
}

void BM_Get(benchmark::State& state) {
  const std::string set_name = kOptionSets[state.range(0)];
  state.SetLabel(set_name);
  std::unique_ptr<rocksdb::DB> db = OpenFresh(set_name, state);
  if (db == nullptr) return;
  const uint64_t cards = static_cast<uint64_t>(state.range(1));
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  const std::string value(64, 'v');
  for (uint64_t card = 0; card < cards; ++card) {
    if (!db->Put(write, WindowKey(card, 0), value).ok()) {
      state.SkipWithError("preload failed");
      return;
    }
  }
  if (!db->Flush(rocksdb::FlushOptions()).ok()) {
    state.SkipWithError("flush failed");
    return;
  }
  std::mt19937_64 random(7);
  std::string read;
  std::vector<int64_t> nanos;
  nanos.reserve(1 << 20);
  for (auto _ : state) {
    const std::string key = WindowKey(random() % cards, 0);
    const auto start = std::chrono::steady_clock::now();
    rocksdb::Status status = db->Get(rocksdb::ReadOptions(), key, &read);
    nanos.push_back((std::chrono::steady_clock::now() - start).count());
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  ReportPercentiles(state, nanos);
}

BENCHMARK(BM_Put)->ArgsProduct({{0, 1, 2}, {100'000}})->ArgNames({"set", "cards"});
BENCHMARK(BM_Get)->ArgsProduct({{0, 1, 2}, {100'000}})->ArgNames({"set", "cards"});

}  // namespace
}  // namespace weir

BENCHMARK_MAIN();
