#include "stores/rocksdb_option_set.h"

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "stores/rocksdb_status.h"

namespace weir {
namespace {

// Share of a shared cache reserved for index and filter blocks (high priority), as in Kafka
// Streams' BoundedMemoryRocksDBConfig example.
constexpr double kIndexFilterBlockRatio = 0.1;

}  // namespace

const config::Schema<RocksDbOptionSet>& RocksDbOptionSetSchema() {
  using S = RocksDbOptionSet;
  constexpr int64_t kTiB = int64_t{1} << 40;
  static const auto* schema =
      &(*new config::Schema<RocksDbOptionSet>())
           .Bytes("block_cache_size", &S::block_cache_size, 0, kTiB,
                  "LRU block cache capacity, per store (or shared, see `share_block_cache`).")
           .Bytes("block_size", &S::block_size, 256, int64_t{4} << 20,
                  "Uncompressed bytes per data block.")
           .Int("bloom_filter_bits_per_key", &S::bloom_filter_bits_per_key, 0, 64,
                "Bits per key of the full bloom filter; 0 = no filter.")
           .Bool("cache_index_and_filter_blocks", &S::cache_index_and_filter_blocks,
                 "Keep index and filter blocks in the block cache (charged to it) instead of "
                 "outside it.")
           .Bool("pin_l0_filter_and_index_blocks_in_cache",
                 &S::pin_l0_filter_and_index_blocks_in_cache,
                 "Pin level-0 index and filter blocks in the cache.")
           .Bool("optimize_filters_for_hits", &S::optimize_filters_for_hits,
                 "Skip filters on the last level (saves memory when most lookups hit).")
           .Bytes("write_buffer_size", &S::write_buffer_size, int64_t{64} << 10, kTiB,
                  "Bytes per memtable.")
           .Int("max_write_buffer_number", &S::max_write_buffer_number, 2, 64,
                "Memtables per column family, active plus immutable.")
           .Int("min_write_buffer_number_to_merge", &S::min_write_buffer_number_to_merge, 1, 64,
                "Immutable memtables merged into one flush.")
           .Enum("compaction_style", &S::compaction_style,
                 {{"universal", rocksdb::kCompactionStyleUniversal},
                  {"level", rocksdb::kCompactionStyleLevel},
                  {"fifo", rocksdb::kCompactionStyleFIFO}},
                 "Compaction style.")
           .Bytes("max_bytes_for_level_base", &S::max_bytes_for_level_base, int64_t{1} << 20, kTiB,
                  "Target size of level 1 (level compaction).")
           .Int("max_background_jobs", &S::max_background_jobs, 0, 64,
                "Concurrent flushes and compactions; 0 = Kafka Streams' "
                "IncreaseParallelism(max(cores, 2)).")
           .Enum("compression", &S::compression,
                 {{"none", rocksdb::kNoCompression},
                  {"snappy", rocksdb::kSnappyCompression},
                  {"lz4", rocksdb::kLZ4Compression},
                  {"lz4hc", rocksdb::kLZ4HCCompression},
                  {"zstd", rocksdb::kZSTD}},
                 "Block compression.")
           .Bool("share_block_cache", &S::share_block_cache,
                 "One block cache of `block_cache_size` for every store of the instance.")
           .Bytes("write_buffer_manager_size", &S::write_buffer_manager_size, 0, kTiB,
                  "With a shared cache: cap all memtables at this many bytes and charge them to "
                  "the cache (a hard budget); 0 = off.")
           .Bool("strict_capacity_limit", &S::strict_capacity_limit,
                 "The block cache refuses inserts past its capacity instead of overshooting.")
           .Enum("statistics", &S::statistics,
                 {{"off", rocksdb::kDisableAll},
                  {"tickers", rocksdb::kExceptHistogramOrTimers},
                  {"timers", rocksdb::kExceptDetailedTimers},
                  {"all", rocksdb::kAll}},
                 "RocksDB statistics behind the KIP-471 metrics: `off`, `tickers` (counters "
                 "only: hit ratios, bytes, stall time), `timers` (plus histograms and timers but "
                 "the detailed ones) or `all`.")
           .String("db_options", &S::db_options,
                   "Any other RocksDB DBOptions, as an options string (`key=value;...`).")
           .String("cf_options", &S::cf_options,
                   "Any other ColumnFamilyOptions, as an options string (`key=value;...`).");
  return *schema;
}

absl::StatusOr<RocksDbOptionSet> LoadRocksDbOptionSet(const std::string& path) {
  RocksDbOptionSet set;
  if (path.empty()) return set;
  config::Provenance provenance;
  WEIR_RETURN_IF_ERROR(RocksDbOptionSetSchema().LoadFile(path, set, &provenance));
  const auto invalid = [&](const std::string& key, absl::string_view why) {
    return config::KeyError(provenance, key, path, why);
  };
  if (set.write_buffer_manager_size > 0 && !set.share_block_cache) {
    return invalid("write_buffer_manager_size",
                   "needs share_block_cache: true (memtables are charged to the shared cache)");
  }
  if (set.min_write_buffer_number_to_merge >= set.max_write_buffer_number) {
    return invalid("min_write_buffer_number_to_merge",
                   absl::StrCat("expected less than max_write_buffer_number (",
                                set.max_write_buffer_number, ")"));
  }
  rocksdb::ConfigOptions strict;
  strict.ignore_unknown_options = false;
  strict.input_strings_escaped = false;
  rocksdb::DBOptions db;
  if (rocksdb::Status s = rocksdb::GetDBOptionsFromString(strict, db, set.db_options, &db);
      !s.ok()) {
    return invalid("db_options", absl::StrCat("RocksDB rejects it: ", s.ToString()));
  }
  rocksdb::ColumnFamilyOptions cf;
  if (rocksdb::Status s =
          rocksdb::GetColumnFamilyOptionsFromString(strict, cf, set.cf_options, &cf);
      !s.ok()) {
    return invalid("cf_options", absl::StrCat("RocksDB rejects it: ", s.ToString()));
  }
  return set;
}

SharedResources MakeSharedResources(const RocksDbOptionSet& set) {
  SharedResources shared;
  if (!set.share_block_cache) return shared;
  rocksdb::LRUCacheOptions cache(static_cast<size_t>(set.block_cache_size), -1,
                                 set.strict_capacity_limit, kIndexFilterBlockRatio);
  shared.block_cache = rocksdb::NewLRUCache(cache);
  if (set.write_buffer_manager_size > 0) {
    shared.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(
        static_cast<size_t>(set.write_buffer_manager_size), shared.block_cache);
  }
  return shared;
}

absl::StatusOr<rocksdb::Options> BuildRocksDbOptions(const RocksDbOptionSet& set,
                                                     const SharedResources& shared) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log_level = rocksdb::InfoLogLevel::ERROR_LEVEL;
  // No fallocate: RocksDB otherwise reserves each WAL at 1.1 x write_buffer_size and each
  // MANIFEST at 4 MiB before they hold anything - 74 MiB per task with tuned.yaml, 12 tasks
  // ~0.9 GB of disk for a handful of records. Files grow as they are written instead;
  // `db_options: "allow_fallocate=true"` restores preallocation.
  options.allow_fallocate = false;
  options.IncreaseParallelism(std::max(2, static_cast<int>(std::thread::hardware_concurrency())));
  if (set.max_background_jobs > 0) {
    options.max_background_jobs = static_cast<int>(set.max_background_jobs);
  }
  options.compaction_style = set.compaction_style;
  options.compression = set.compression;
  options.write_buffer_size = static_cast<size_t>(set.write_buffer_size);
  options.max_write_buffer_number = static_cast<int>(set.max_write_buffer_number);
  options.min_write_buffer_number_to_merge = static_cast<int>(set.min_write_buffer_number_to_merge);
  options.max_bytes_for_level_base = static_cast<uint64_t>(set.max_bytes_for_level_base);
  options.optimize_filters_for_hits = set.optimize_filters_for_hits;
  options.write_buffer_manager = shared.write_buffer_manager;
  if (set.statistics != rocksdb::kDisableAll) {
    options.statistics = rocksdb::CreateDBStatistics();
    options.statistics->set_stats_level(set.statistics);
  }

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = shared.block_cache != nullptr
                          ? shared.block_cache
                          : rocksdb::NewLRUCache(static_cast<size_t>(set.block_cache_size), -1,
                                                 set.strict_capacity_limit);
  table.block_size = static_cast<size_t>(set.block_size);
  if (set.bloom_filter_bits_per_key > 0) {
    table.filter_policy.reset(
        rocksdb::NewBloomFilterPolicy(static_cast<double>(set.bloom_filter_bits_per_key)));
  }
  table.cache_index_and_filter_blocks = set.cache_index_and_filter_blocks;
  table.pin_l0_filter_and_index_blocks_in_cache = set.pin_l0_filter_and_index_blocks_in_cache;
  if (shared.block_cache != nullptr && set.cache_index_and_filter_blocks) {
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.pin_top_level_index_and_filter = true;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::ConfigOptions strict;
  strict.ignore_unknown_options = false;
  strict.input_strings_escaped = false;
  rocksdb::DBOptions db_options(options);
  rocksdb::ColumnFamilyOptions cf_options(options);
  WEIR_RETURN_IF_ERROR(RocksDbStatus(
      rocksdb::GetDBOptionsFromString(strict, db_options, set.db_options, &db_options),
      "db_options"));
  WEIR_RETURN_IF_ERROR(RocksDbStatus(
      rocksdb::GetColumnFamilyOptionsFromString(strict, cf_options, set.cf_options, &cf_options),
      "cf_options"));
  return rocksdb::Options(db_options, cf_options);
}

}  // namespace weir
