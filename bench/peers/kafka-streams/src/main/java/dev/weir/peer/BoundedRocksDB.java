package dev.weir.peer;

import java.util.Map;
import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds RocksDB's memory across every store of the instance, as Kafka Streams' documentation
 * recommends ("RocksDB memory management"): one LRU block cache shared by all stores (and every
 * segment of the window stores, each its own RocksDB), a write buffer manager charging memtables
 * to that cache, index and filter blocks in the cache. Without it each segment has its own 50 MB
 * cache and 3 x 16 MB memtables, and memory grows with tasks and segments.
 */
public final class BoundedRocksDB implements RocksDBConfigSetter {
  private static Cache cache;
  private static WriteBufferManager writeBufferManager;

  /** Sizes the shared cache once per process; memtables may take up to half of it. */
  static synchronized void configure(long bytes) {
    RocksDB.loadLibrary();
    cache = new LRUCache(bytes, -1, false, 0.1);
    writeBufferManager = new WriteBufferManager(bytes / 2, cache);
  }

  @Override
  public void setConfig(String storeName, Options options, Map<String, Object> configs) {
    BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
    table.setBlockCache(cache);
    table.setCacheIndexAndFilterBlocks(true);
    table.setCacheIndexAndFilterBlocksWithHighPriority(true);
    table.setPinTopLevelIndexAndFilter(true);
    options.setWriteBufferManager(writeBufferManager);
    options.setTableFormatConfig(table);
  }

  @Override
  public void close(String storeName, Options options) {
    // The cache and the write buffer manager are shared by every store: never closed here.
  }
}
