// The DSL's stateful operators on one thread, through the test driver with RocksDB stores (the
// tuned option set), each beside a "RocksDB alone" baseline doing the same reads and writes on
// the same kind of store with no engine around them (docs/benchmarks.md, "The DSL"):
//   BM_StreamTableJoin/keys/cache   a stream joined with a table of `keys` rows, with the record
//                                   cache off (0) or on (1): one table read per record
//   BM_StreamTableJoinAlone/keys    the same reads and the joiner, on a RocksDbKeyValueStore
//   BM_GlobalTableJoin/keys         a stream joined with a global table of `keys` rows (RocksDB,
//                                   never cached, as Kafka Streams' global stores): one read per
//                                   record; its baseline is BM_StreamTableJoinAlone
//   BM_SessionCount/keys            session counts: one range read and one write per record
//   BM_SessionCountAlone/keys       the same range read and write on the store
//   BM_StreamStreamJoin/keys        two streams joined within 1 s, their records alternating:
//                                   one write to the record's side and one range read of the
//                                   other side per record
//   BM_StreamStreamJoinAlone/keys   the same write and range read on two stores
// Every benchmark commits every 10,000 records, as a stream thread would. Run from the
// repository root (it reads config/rocksdb/tuned.yaml). The suite's smoke run takes the 1,000
// key variants only.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/dsl/streams_builder.h"
#include "engine/dsl/table_processors.h"
#include "engine/runtime/test_driver.h"
#include "stores/rocksdb_key_value_store.h"
#include "stores/rocksdb_option_set.h"
#include "stores/task_db.h"

namespace weir {
namespace {

constexpr int64_t kCommitEvery = 10'000;

std::string FreshDir(const std::string& name) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("weir-dsl-bench-" + name)).string();
  std::filesystem::remove_all(dir);
  return dir;
}

absl::StatusOr<std::unique_ptr<TaskDb>> OpenDb(const std::string& name) {
  absl::StatusOr<RocksDbOptionSet> set = LoadRocksDbOptionSet("config/rocksdb/tuned.yaml");
  if (!set.ok()) return set.status();
  absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(*set, MakeSharedResources(*set));
  if (!options.ok()) return options.status();
  return TaskDb::Open(FreshDir(name), *options);
}

std::string Key(int64_t i) { return absl::StrCat("card-", i); }

TestDriverOptions DriverOptions(const std::string& name, bool cache) {
  TestDriverOptions options;
  options.open_task_db = [name](TaskId id) { return OpenDb(name + "-" + id.ToString()); };
  options.cache_max_bytes = cache ? int64_t{64} << 20 : 0;
  return options;
}

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.message()).c_str());
}

// Writes `keys` rows "card-<i>" -> "5000.00" to table topic `topic`, committing as a stream
// thread would.
absl::Status LoadRows(TopologyTestDriver& driver, const std::string& topic, int64_t keys) {
  for (int64_t i = 0; i < keys; ++i) {
    WEIR_RETURN_IF_ERROR(driver.PipeRaw(topic, {.key = Key(i), .value = "5000.00"}));
    if (i % kCommitEvery == 0) WEIR_RETURN_IF_ERROR(driver.Commit());
  }
  return driver.Commit();
}

// The timed loop of the DSL benchmarks: one record per iteration, to the topic `topic_of(n)`
// names, a random one of `keys` keys, timestamp n (one record per ms); a commit and a drain of
// the output every kCommitEvery records, as a stream thread would.
void PipeTimed(benchmark::State& state, TopologyTestDriver& driver, int64_t keys,
               const std::function<const char*(int64_t n)>& topic_of, const char* value) {
  std::mt19937_64 random(7);
  int64_t n = 0;
  for (auto _ : state) {
    const std::string key = Key(static_cast<int64_t>(random() % keys));
    if (absl::Status piped =
            driver.PipeRaw(topic_of(n), {.key = key, .value = value, .timestamp = n});
        !piped.ok()) {
      return Fail(state, piped);
    }
    if (++n % kCommitEvery == 0) {
      if (absl::Status committed = driver.Commit(); !committed.ok()) return Fail(state, committed);
      benchmark::DoNotOptimize(driver.ReadOutput("out"));
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_StreamTableJoin(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("payments", s, s)
      .Join(builder.Table<std::string, std::string>("limits", s, s,
                                                    Materialized<std::string>::As("limits")),
            [](const std::string& payment, const std::string& limit) {
              return payment + "|" + limit;
            })
      .To("out", Produced<std::string, std::string>::With(s, s));
  absl::StatusOr<Topology> topology = builder.Build();
  if (!topology.ok()) return Fail(state, topology.status());
  TopologyTestDriver driver(*topology, DriverOptions("join", state.range(1) != 0));
  if (absl::Status loaded = LoadRows(driver, "limits", keys); !loaded.ok()) {
    return Fail(state, loaded);
  }
  PipeTimed(state, driver, keys, [](int64_t) { return "payments"; }, "12.50");
}

void BM_StreamTableJoinAlone(benchmark::State& state) {
  const int64_t keys = state.range(0);
  absl::StatusOr<std::unique_ptr<TaskDb>> db = OpenDb("join-alone");
  if (!db.ok()) return Fail(state, db.status());
  absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> store =
      RocksDbKeyValueStore::Open("limits", db->get());
  if (!store.ok()) return Fail(state, store.status());
  for (int64_t i = 0; i < keys; ++i) {
    (*store)->Put(Key(i), ValueAndTimestamp::Encode("5000.00", 0));
    if (i % kCommitEvery == 0 && !(*db)->Commit({}).ok()) return Fail(state, absl::InternalError("commit"));
  }
  if (absl::Status committed = (*db)->Commit({}); !committed.ok()) return Fail(state, committed);
  std::mt19937_64 random(7);
  int64_t n = 0;
  for (auto _ : state) {
    const std::string key = Key(static_cast<int64_t>(random() % keys));
    std::optional<absl::string_view> row = (*store)->Get(key);
    if (row.has_value()) {
      std::string joined = absl::StrCat("12.50|", ValueAndTimestamp::Decode(*row)->value);
      benchmark::DoNotOptimize(joined);
    }
    if (++n % kCommitEvery == 0) {
      if (absl::Status committed = (*db)->Commit({}); !committed.ok()) return Fail(state, committed);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GlobalTableJoin(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("payments", s, s)
      .Join(builder.GlobalTable<std::string, std::string>("limits", s, s),
            [](const std::string& key, const std::string&) { return key; },
            [](const std::string& payment, const std::string& limit) {
              return payment + "|" + limit;
            })
      .To("out", Produced<std::string, std::string>::With(s, s));
  absl::StatusOr<Topology> topology = builder.Build();
  if (!topology.ok()) return Fail(state, topology.status());
  TestDriverOptions options = DriverOptions("global-join", false);
  options.open_global_db = [] { return OpenDb("global-join-global"); };
  TopologyTestDriver driver(*topology, options);
  if (absl::Status loaded = LoadRows(driver, "limits", keys); !loaded.ok()) {
    return Fail(state, loaded);
  }
  PipeTimed(state, driver, keys, [](int64_t) { return "payments"; }, "12.50");
}

void BM_StreamStreamJoin(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("views", s, s)
      .Join(builder.Stream<std::string, std::string>("clicks", s, s),
            [](const std::string& view, const std::string& click) { return view + "|" + click; },
            JoinWindows::OfTimeDifferenceWithNoGrace(1'000))
      .To("out", Produced<std::string, std::string>::With(s, s));
  absl::StatusOr<Topology> topology = builder.Build();
  if (!topology.ok()) return Fail(state, topology.status());
  TopologyTestDriver driver(*topology, DriverOptions("stream-join", false));
  // Sides alternating: a key's records meet about 2,000 / keys partners.
  PipeTimed(state, driver, keys, [](int64_t n) { return n % 2 == 0 ? "views" : "clicks"; }, "v");
}

void BM_StreamStreamJoinAlone(benchmark::State& state) {
  const int64_t keys = state.range(0);
  absl::StatusOr<std::unique_ptr<TaskDb>> db = OpenDb("stream-join-alone");
  if (!db.ok()) return Fail(state, db.status());
  std::unique_ptr<RocksDbKeyValueStore> sides[2];
  for (int side = 0; side < 2; ++side) {
    absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> store =
        RocksDbKeyValueStore::Open(side == 0 ? "views" : "clicks", db->get());
    if (!store.ok()) return Fail(state, store.status());
    sides[side] = *std::move(store);
  }
  std::mt19937_64 random(7);
  int64_t n = 0;
  for (auto _ : state) {
    // The join's reads and writes: the other side's records of the key within 1 s, the joined
    // values, then the record into its side (by key, time and sequence).
    const std::string key = Key(static_cast<int64_t>(random() % keys));
    const int side = static_cast<int>(n % 2);
    sides[1 - side]->Range(
        dsl::KeyThenTwoNumbers(key, static_cast<uint64_t>(std::max<int64_t>(0, n - 1'000)), 0),
        dsl::KeyThenTwoNumbers(key, static_cast<uint64_t>(n + 1'000), UINT64_MAX),
        [&](absl::string_view, absl::string_view value) {
          std::string joined = absl::StrCat("v|", ValueAndTimestamp::Decode(value)->value);
          benchmark::DoNotOptimize(joined);
          return true;
        });
    sides[side]->Put(dsl::KeyThenTwoNumbers(key, static_cast<uint64_t>(n), static_cast<uint64_t>(n)),
                     ValueAndTimestamp::Encode("v", n));
    if (++n % kCommitEvery == 0) {
      if (absl::Status committed = (*db)->Commit({}); !committed.ok()) return Fail(state, committed);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SessionCount(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("clicks", s, s)
      .GroupByKey()
      .WindowedBy(SessionWindows::OfInactivityGapAndGrace(60'000, 10'000))
      .Count()
      .ToStream()
      .To("out", Produced<Windowed<std::string>, std::optional<int64_t>>::With(
                     std::make_shared<SessionWindowedSerde<std::string>>(s),
                     serdes::Optional(serdes::Int64())));
  absl::StatusOr<Topology> topology = builder.Build();
  if (!topology.ok()) return Fail(state, topology.status());
  TopologyTestDriver driver(*topology, DriverOptions("session", false));
  // One click per key every ~keys ms: sessions grow, and some expire.
  PipeTimed(state, driver, keys, [](int64_t) { return "clicks"; }, "c");
}

void BM_SessionCountAlone(benchmark::State& state) {
  const int64_t keys = state.range(0);
  absl::StatusOr<std::unique_ptr<TaskDb>> db = OpenDb("session-alone");
  if (!db.ok()) return Fail(state, db.status());
  absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> store =
      RocksDbKeyValueStore::Open("sessions", db->get());
  if (!store.ok()) return Fail(state, store.status());
  std::mt19937_64 random(7);
  int64_t n = 0;
  for (auto _ : state) {
    // The session store's reads and writes: the key's sessions near n, then the merged one.
    const std::string key = Key(static_cast<int64_t>(random() % keys));
    const std::string prefix = absl::StrCat(key, "/");
    int64_t count = 0;
    std::string found;
    (*store)->Range(prefix, prefix + "\xff", [&](absl::string_view k, absl::string_view) {
      found.assign(k.data(), k.size());
      ++count;
      return true;
    });
    if (!found.empty()) (*store)->Delete(found);
    (*store)->Put(absl::StrCat(prefix, n), ValueAndTimestamp::Encode(std::to_string(count + 1), n));
    if (++n % kCommitEvery == 0) {
      if (absl::Status committed = (*db)->Commit({}); !committed.ok()) return Fail(state, committed);
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_StreamTableJoin)->ArgsProduct({{1'000, 1'000'000}, {0, 1}})->ArgNames({"keys", "cache"});
BENCHMARK(BM_StreamTableJoinAlone)->Arg(1'000)->Arg(1'000'000)->ArgName("keys");
BENCHMARK(BM_GlobalTableJoin)->Arg(1'000)->Arg(1'000'000)->ArgName("keys");
BENCHMARK(BM_StreamStreamJoin)->Arg(1'000)->Arg(100'000)->ArgName("keys");
BENCHMARK(BM_StreamStreamJoinAlone)->Arg(1'000)->Arg(100'000)->ArgName("keys");
BENCHMARK(BM_SessionCount)->Arg(1'000)->Arg(100'000)->ArgName("keys");
BENCHMARK(BM_SessionCountAlone)->Arg(1'000)->Arg(100'000)->ArgName("keys");

}  // namespace
}  // namespace weir

BENCHMARK_MAIN();
