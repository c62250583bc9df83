// What a task's RocksDB instance reports, as plain structs for the metrics layer: the tickers
// behind Kafka Streams' KIP-471 metrics (cumulative since the instance opened) and the properties
// behind its KIP-607 metrics (read when asked). Names follow the RocksDB tickers and properties
// they come from (reference/kafka-streams-facts.md §1.7-1.8 maps them to Kafka Streams' names).
//
// Granularity: weir keeps one RocksDB instance per task (docs/state-layout.md), so tickers and
// block-cache figures are per task; the other properties are per store, summed over the store's
// column families (its window segments).
#ifndef WEIR_STORES_STORE_STATISTICS_H_
#define WEIR_STORES_STORE_STATISTICS_H_

#include <cstdint>
#include <limits>
#include <map>
#include <string>

namespace weir {

// Cumulative ticker counts (RocksDB `Tickers`). All zero when statistics are off.
struct RocksDbTickers {
  int64_t block_cache_data_hit = 0;      // BLOCK_CACHE_DATA_HIT
  int64_t block_cache_data_miss = 0;     // BLOCK_CACHE_DATA_MISS
  int64_t block_cache_index_hit = 0;     // BLOCK_CACHE_INDEX_HIT
  int64_t block_cache_index_miss = 0;    // BLOCK_CACHE_INDEX_MISS
  int64_t block_cache_filter_hit = 0;    // BLOCK_CACHE_FILTER_HIT
  int64_t block_cache_filter_miss = 0;   // BLOCK_CACHE_FILTER_MISS
  int64_t stall_micros = 0;              // STALL_MICROS (µs)
  int64_t bytes_written = 0;             // BYTES_WRITTEN
  int64_t bytes_read = 0;                // BYTES_READ
  int64_t memtable_bytes_flushed = 0;    // FLUSH_WRITE_BYTES
  int64_t memtable_hit = 0;              // MEMTABLE_HIT
  int64_t memtable_miss = 0;             // MEMTABLE_MISS
  int64_t compaction_bytes_read = 0;     // COMPACT_READ_BYTES
  int64_t compaction_bytes_written = 0;  // COMPACT_WRITE_BYTES
  int64_t files_opened = 0;              // NO_FILE_OPENS
  int64_t files_closed = 0;              // NO_FILE_CLOSES (open files = opened - closed)
  int64_t file_errors = 0;               // NO_FILE_ERRORS
};

// RocksDB properties (`rocksdb.<name>`), summed over column families.
struct RocksDbProperties {
  int64_t num_immutable_mem_table = 0;
  int64_t cur_size_active_mem_table = 0;
  int64_t cur_size_all_mem_tables = 0;
  int64_t size_all_mem_tables = 0;
  int64_t estimate_num_keys = 0;
  int64_t estimate_pending_compaction_bytes = 0;
  int64_t num_running_flushes = 0;
  int64_t num_running_compactions = 0;
  int64_t background_errors = 0;
  int64_t live_sst_files_size = 0;
  int64_t total_sst_files_size = 0;
};

// The block cache of a task's instance (shared by the instance's tasks under a bounded set).
struct BlockCacheUsage {
  int64_t capacity = 0;      // rocksdb.block-cache-capacity
  int64_t usage = 0;         // rocksdb.block-cache-usage
  int64_t pinned_usage = 0;  // rocksdb.block-cache-pinned-usage
};

struct TaskDbStatistics {
  bool tickers_enabled = false;  // false: statistics off, tickers all zero
  RocksDbTickers tickers;
  BlockCacheUsage block_cache;
  std::map<std::string, RocksDbProperties> stores;  // store name -> properties
};

// hits / (hits + misses), or NaN when there were no lookups: an idle cache has no hit ratio,
// and reporting 0 would read as every lookup missing (Kafka Streams' hit-ratio reads NaN too).
inline double HitRatio(int64_t hits, int64_t misses) {
  if (hits + misses <= 0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(hits) / static_cast<double>(hits + misses);
}

}  // namespace weir

#endif  // WEIR_STORES_STORE_STATISTICS_H_
