#include "stores/rocksdb_option_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace weir {
namespace {

using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const rocksdb::BlockBasedTableOptions& TableOptions(const rocksdb::Options& options) {
  return *options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
}

TEST(RocksDbOptionSet, EmptyFileIsKafkaStreamsDefaults) {
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet(Write("empty.yaml", ""));
  ASSERT_TRUE(set.ok()) << set.status();
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, {});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->write_buffer_size, 16u << 20);
  EXPECT_EQ(options->max_write_buffer_number, 3);
  EXPECT_EQ(options->compaction_style, rocksdb::kCompactionStyleUniversal);
  EXPECT_EQ(options->compression, rocksdb::kNoCompression);
  EXPECT_TRUE(options->optimize_filters_for_hits);
  const rocksdb::BlockBasedTableOptions& table = TableOptions(*options);
  EXPECT_EQ(table.block_size, 4096u);
  EXPECT_EQ(table.block_cache->GetCapacity(), 50u << 20);
  ASSERT_NE(table.filter_policy, nullptr);
  EXPECT_FALSE(table.cache_index_and_filter_blocks);
}

TEST(RocksDbOptionSet, ShippedDefaultMatchesAnEmptyFileAndNoFile) {
  absl::StatusOr<RocksDbOptionSet> shipped = LoadRocksDbOptionSet("config/rocksdb/default.yaml");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  absl::StatusOr<RocksDbOptionSet> none = LoadRocksDbOptionSet("");
  ASSERT_TRUE(none.ok()) << none.status();
  const RocksDbOptionSet defaults;
  const config::Schema<RocksDbOptionSet>& schema = RocksDbOptionSetSchema();
  EXPECT_EQ(schema.Dump(*shipped, {}), schema.Dump(defaults, {}));
  EXPECT_EQ(schema.Dump(*none, {}), schema.Dump(defaults, {}));
}

TEST(RocksDbOptionSet, ShippedTunedIsTheSeedsTunedConfig) {
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet("config/rocksdb/tuned.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, {});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->write_buffer_size, 64u << 20);
  EXPECT_EQ(options->max_write_buffer_number, 3);
  EXPECT_EQ(options->min_write_buffer_number_to_merge, 1);
  EXPECT_EQ(options->max_background_jobs, 4);
  EXPECT_EQ(options->max_bytes_for_level_base, 256u << 20);
  EXPECT_EQ(options->compression, rocksdb::kLZ4Compression);
  const rocksdb::BlockBasedTableOptions& table = TableOptions(*options);
  EXPECT_EQ(table.block_cache->GetCapacity(), 128u << 20);
  EXPECT_EQ(table.block_size, 16u << 10);
  EXPECT_TRUE(table.cache_index_and_filter_blocks);
  EXPECT_TRUE(table.pin_l0_filter_and_index_blocks_in_cache);
}

TEST(RocksDbOptionSet, BoundedSharesOneCacheAndChargesMemtablesToIt) {
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet("config/rocksdb/bounded.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  const SharedResources shared = MakeSharedResources(*set);
  ASSERT_NE(shared.block_cache, nullptr);
  ASSERT_NE(shared.write_buffer_manager, nullptr);
  EXPECT_EQ(shared.write_buffer_manager->buffer_size(), 64u << 20);
  absl::StatusOr<rocksdb::Options> a = BuildRocksDbOptions(*set, shared);
  absl::StatusOr<rocksdb::Options> b = BuildRocksDbOptions(*set, shared);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(TableOptions(*a).block_cache, TableOptions(*b).block_cache);
  EXPECT_EQ(TableOptions(*a).block_cache, shared.block_cache);
  EXPECT_EQ(a->write_buffer_manager, shared.write_buffer_manager);
  EXPECT_TRUE(TableOptions(*a).cache_index_and_filter_blocks_with_high_priority);
}

TEST(RocksDbOptionSet, UnsharedStoresGetTheirOwnCache) {
  const RocksDbOptionSet set;
  absl::StatusOr<rocksdb::Options> a = BuildRocksDbOptions(set, MakeSharedResources(set));
  absl::StatusOr<rocksdb::Options> b = BuildRocksDbOptions(set, MakeSharedResources(set));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(TableOptions(*a).block_cache, TableOptions(*b).block_cache);
}

TEST(RocksDbOptionSet, ErrorsNameFileAndKey) {
  EXPECT_THAT(LoadRocksDbOptionSet(Write("typo.yaml", "block_cache: 1MiB\n")).status().ToString(),
              HasSubstr("typo.yaml:1: unknown key 'block_cache'; did you mean "
                        "'block_cache_size'?"));
  EXPECT_THAT(LoadRocksDbOptionSet(Write("type.yaml", "compression: gzip\n")).status().ToString(),
              HasSubstr("type.yaml:1: key 'compression': expected one of 'none', 'snappy'"));
  EXPECT_THAT(
      LoadRocksDbOptionSet(Write("range.yaml", "max_write_buffer_number: 1\n")).status().ToString(),
      HasSubstr("key 'max_write_buffer_number': expected an integer in [2, 64], got '1'"));
  EXPECT_THAT(LoadRocksDbOptionSet(Write("wbm.yaml", "write_buffer_manager_size: 64MiB\n"))
                  .status()
                  .ToString(),
              HasSubstr("wbm.yaml:1: key 'write_buffer_manager_size': needs share_block_cache"));
  EXPECT_THAT(LoadRocksDbOptionSet(Write("merge.yaml", "min_write_buffer_number_to_merge: 3\n"))
                  .status()
                  .ToString(),
              HasSubstr("expected less than max_write_buffer_number (3)"));
  EXPECT_TRUE(absl::IsNotFound(LoadRocksDbOptionSet("no/such/options.yaml").status()));
}

TEST(RocksDbOptionSet, OptionsStringsReachRocksDbAndAreValidatedByIt) {
  absl::StatusOr<RocksDbOptionSet> set =
      LoadRocksDbOptionSet(Write("strings.yaml",
                                 "db_options: max_open_files=500\ncf_options: level0_file_num_"
                                 "compaction_trigger=7\n"));
  ASSERT_TRUE(set.ok()) << set.status();
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, {});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->max_open_files, 500);
  EXPECT_EQ(options->level0_file_num_compaction_trigger, 7);
  // Typed keys survive the strings.
  EXPECT_EQ(options->write_buffer_size, 16u << 20);

  EXPECT_THAT(LoadRocksDbOptionSet(Write("bad_db.yaml", "db_options: max_open_filez=5\n"))
                  .status()
                  .ToString(),
              HasSubstr("bad_db.yaml:1: key 'db_options': RocksDB rejects it"));
  EXPECT_THAT(LoadRocksDbOptionSet(Write("bad_cf.yaml", "cf_options: write_buffer_size=big\n"))
                  .status()
                  .ToString(),
              HasSubstr("key 'cf_options': RocksDB rejects it"));
}

TEST(RocksDbOptionSet, BuiltOptionsOpenAWorkingDatabase) {
  for (const char* file : {"config/rocksdb/default.yaml", "config/rocksdb/tuned.yaml",
                           "config/rocksdb/bounded.yaml"}) {
    absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet(file);
    ASSERT_TRUE(set.ok()) << set.status();
    absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, MakeSharedResources(*set));
    ASSERT_TRUE(options.ok()) << options.status();
    const std::string dir =
        ::testing::TempDir() + "/optionset-db-" + std::filesystem::path(file).stem().string();
    std::filesystem::remove_all(dir);
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(*options, dir, &raw).ok()) << file;
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions write;
    write.disableWAL = true;
    ASSERT_TRUE(db->Put(write, "card", "42").ok());
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "card", &value).ok());
    EXPECT_EQ(value, "42") << file;
  }
}

// Bytes of disk the files under `dir` occupy (allocated blocks, as du counts them: space
// reserved by fallocate included).
int64_t DiskUsage(const std::string& dir) {
  int64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (entry.is_regular_file() && ::stat(entry.path().c_str(), &st) == 0) {
      bytes += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return bytes;
}

TEST(RocksDbOptionSet, ADatabaseWithAFewRecordsReservesNoDiskAhead) {
  // tuned.yaml's 64 MiB write buffers made RocksDB fallocate a 70 MiB WAL and a 4 MiB MANIFEST
  // per database: 12 tasks took 0.9 GB for 5 records.
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet("config/rocksdb/tuned.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, MakeSharedResources(*set));
  ASSERT_TRUE(options.ok()) << options.status();
  const std::string dir = ::testing::TempDir() + "/optionset-db-floor";
  std::filesystem::remove_all(dir);
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(*options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), absl::StrCat("card-", i), "1").ok());
    }
    EXPECT_LT(DiskUsage(dir), int64_t{1} << 20);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weir
