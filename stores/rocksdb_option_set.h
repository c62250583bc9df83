// RocksDB option sets: the tunable RocksDB configuration of weir's state stores, read from YAML
// (config/rocksdb/default.yaml, tuned.yaml, bounded.yaml).
//
// Every option config/rocksdb/tuned.yaml sets is a typed key here, with Kafka Streams'
// default (RocksDBStore.openDB) as its default, so an empty file reproduces Kafka Streams.
// Anything else RocksDB knows passes through as a RocksDB options string (`db_options`,
// `cf_options`), which RocksDB itself validates at load time.
//
// Sharing. With `share_block_cache` false every store gets its own block cache of
// `block_cache_size`, as in Kafka Streams. With it true, one cache of that size serves every store
// of the instance, and `write_buffer_manager_size` > 0 charges all memtables to that same cache
// (Kafka Streams' BoundedMemoryRocksDBConfig): a hard memory budget. SharedResources holds the
// shared objects; create one per instance.
//
// Concurrency: option sets are plain values; SharedResources may be used from any thread.
#ifndef WEIR_STORES_ROCKSDB_OPTION_SET_H_
#define WEIR_STORES_ROCKSDB_OPTION_SET_H_

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_buffer_manager.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/config_schema.h"

namespace weir {

struct RocksDbOptionSet {
  // Block-based table.
  int64_t block_cache_size = int64_t{50} << 20;  // LRU block cache bytes, per store or shared
  int64_t block_size = 4096;                     // uncompressed bytes per data block
  int64_t bloom_filter_bits_per_key = 10;        // full bloom filter; 0 = none
  bool cache_index_and_filter_blocks = false;    // charge index/filter blocks to the cache
  bool pin_l0_filter_and_index_blocks_in_cache = false;
  bool optimize_filters_for_hits = true;  // no filters on the last level
  // Memtables.
  int64_t write_buffer_size = int64_t{16} << 20;  // bytes per memtable
  int64_t max_write_buffer_number = 3;
  int64_t min_write_buffer_number_to_merge = 1;
  // Compaction and compression.
  rocksdb::CompactionStyle compaction_style = rocksdb::kCompactionStyleUniversal;
  int64_t max_bytes_for_level_base = int64_t{256} << 20;
  int64_t max_background_jobs = 0;  // 0 = Kafka Streams' IncreaseParallelism(max(cores, 2))
  rocksdb::CompressionType compression = rocksdb::kNoCompression;
  // Bounded memory.
  bool share_block_cache = false;         // one cache for every store of the instance
  int64_t write_buffer_manager_size = 0;  // > 0: memtables charged to the shared cache, capped
  bool strict_capacity_limit = false;     // the cache refuses inserts beyond its capacity
  // RocksDB statistics (the tickers behind Kafka Streams' KIP-471 metrics): off, tickers
  // (counters only), timers (RocksDB's kExceptDetailedTimers) or all; off is kDisableAll.
  rocksdb::StatsLevel statistics = rocksdb::kExceptHistogramOrTimers;
  // Anything else, as RocksDB options strings ("key=value;key=value").
  std::string db_options;
  std::string cf_options;
};

// The declaration of every key of RocksDbOptionSet (keys equal field names).
const config::Schema<RocksDbOptionSet>& RocksDbOptionSetSchema();

// Loads an option set file over Kafka Streams' defaults and validates it: unknown keys, wrong
// types and values RocksDB rejects (including inside the options strings) are InvalidArgument
// naming the file and key; a missing file is NotFound. An empty path is Kafka Streams'
// defaults themselves (what config/rocksdb/default.yaml spells out).
absl::StatusOr<RocksDbOptionSet> LoadRocksDbOptionSet(const std::string& path);

// The objects an instance shares between its stores under a bounded option set.
struct SharedResources {
  std::shared_ptr<rocksdb::Cache> block_cache;  // null unless share_block_cache
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffer_manager;  // null unless bounded
};

// Creates the shared objects `set` asks for (none when it shares nothing).
SharedResources MakeSharedResources(const RocksDbOptionSet& set);

// RocksDB options for one task's instance: DB options, column family options, the block-based
// table with its cache (the shared one, or a new one per call) and a Statistics object at the
// set's level (a new one per call). Fails only when an options string no longer parses.
absl::StatusOr<rocksdb::Options> BuildRocksDbOptions(const RocksDbOptionSet& set,
                                                     const SharedResources& shared);

}  // namespace weir

#endif  // WEIR_STORES_ROCKSDB_OPTION_SET_H_
