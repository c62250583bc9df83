// The DSL's oracle: Kafka Streams itself. Each scenario (tests/dsl_oracle/*.scenario, and random
// ones from a fixed seed) names a topology and lists the records to pipe. Kafka Streams' own
// TopologyTestDriver runs it (bench/peers/kafka-streams, DslOracle: one JVM for every
// scenario, record cache off); weir's test driver runs weir's twin of the same-named topology
// (Twin() below); every output record - topic, key, value, timestamp, in order - must be equal.
//
// Scenario format (DslOracle.java has it too): tab-separated lines, '#' comments;
//   topology NAME
//   pipe TOPIC KEY VALUE TIMESTAMP     (KEY or VALUE \N: null)
// WEIR_DSL_ORACLE_RANDOM=N runs N random scenarios per topology instead of the suite's 50. The
// random scenarios stay in the temporary directory when the test fails, to be shrunk into
// hand-written ones.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/dsl/streams_builder.h"
#include "engine/runtime/test_driver.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using Str = std::string;
constexpr char kNull[] = "\\N";
const std::vector<Str> kTopologies = {
    "filter-map",        "windowed-count",      "hopping-sum",       "hopping-sum-sliced",
    "windowed-reduce",   "flatmap-split-merge", "regroup-count",     "table-filter-map",
    "stream-count",      "regroup-reduce",      "stream-table-join", "stream-table-left-join",
    "totable-left-join", "aggregate-join",      "table-table-join",  "table-table-left-join",
    "table-table-outer-join", "table-groupby-count", "table-groupby-reduce",
    "join-groupby-aggregate", "table-filter-groupby", "stream-stream-join",
    "stream-stream-left-join", "stream-stream-outer-join", "stream-stream-outer-join-asymmetric",
    "session-count", "session-reduce", "windowed-count-suppress", "session-suppress",
    "table-suppress-time-limit", "count-suppress-time-limit", "stream-globaltable-join",
    "stream-globaltable-left-join", "sliding-count", "sliding-reduce", "sliding-count-suppress"};

// The topics a topology reads: a random record goes to one of them.
std::vector<Str> InputTopics(const Str& topology) {
  if (absl::StartsWith(topology, "table-table") || topology == "join-groupby-aggregate") {
    return {"tin", "tin2"};
  }
  if (absl::StartsWith(topology, "table-")) return {"tin"};
  if (absl::StartsWith(topology, "stream-stream")) return {"in", "in2"};
  if (absl::StartsWith(topology, "stream-globaltable")) return {"in", "gin"};
  if (absl::StrContains(topology, "join")) return {"in", "tin"};
  return {"in"};
}


Str WindowKey(const Windowed<Str>& w) { return absl::StrCat(w.key, "@", w.start); }

using NullableStr = std::optional<Str>;

// The twins of the topologies with tables, whose input may hold null keys and values: weir
// reads them as std::optional. False when `name` is none of them.
bool TableTwin(const Str& name, StreamsBuilder& builder) {
  const auto s = serdes::String();
  const auto ns = serdes::Optional(s);
  auto in = builder.Stream<NullableStr, NullableStr>("in", ns, ns);
  const auto out_value = Produced<NullableStr, Str>::With(ns, s);
  const auto render = [](const NullableStr& v) { return v.value_or("null"); };
  const auto count_text = [](const std::optional<int64_t>& v) {
    return v.has_value() ? NullableStr(std::to_string(*v)) : std::nullopt;
  };
  if (name == "table-filter-map") {
    builder.Table<Str, Str>("tin", s, s)
        .Filter([](const Str&, const Str& v) { return !absl::StartsWith(v, "x"); })
        .MapValues([](const Str& v) { return v + "!"; })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "stream-count") {
    in.GroupByKey()
        .Count()
        .ToStream()
        .MapValues([](const std::optional<int64_t>& v) { return std::to_string(*v); })
        .To("out", Produced<Str, Str>::With(s, s));
  } else if (name == "regroup-reduce") {
    in.GroupBy(
          [](const NullableStr&, const NullableStr& v) {
            return v.has_value() ? NullableStr(v->substr(0, 1)) : std::nullopt;
          },
          Grouped<NullableStr, NullableStr>::With(ns, ns))
        .Reduce([](const Str& a, const Str& v) { return a + "+" + v; })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "stream-table-join") {
    in.Join(builder.Table<Str, Str>("tin", s, s),
            [](const Str& v, const Str& t) { return v + "/" + t; })
        .To("out", out_value);
  } else if (name == "stream-table-left-join") {
    in.LeftJoin(builder.Table<Str, Str>("tin", s, s),
                [render](const Str& v, const NullableStr& t) { return v + "/" + render(t); })
        .To("out", out_value);
  } else if (name == "totable-left-join") {
    // The table of a stream, filtered: the join reads it through the filter.
    auto table = builder.Stream<NullableStr, NullableStr>("tin", ns, ns)
                     .ToTable()
                     .Filter([](const Str&, const Str& v) { return !absl::StartsWith(v, "x"); });
    in.LeftJoin(table,
                [render](const Str& v, const NullableStr& t) { return v + "/" + render(t); })
        .To("out", out_value);
  } else if (name == "aggregate-join") {
    // Counts of "tin"'s records per key, joined.
    auto counts = builder.Stream<NullableStr, NullableStr>("tin", ns, ns).GroupByKey().Count();
    in.Join(counts, [](const Str& v, int64_t c) { return absl::StrCat(v, "#", c); })
        .To("out", out_value);
  } else if (name == "table-table-join") {
    builder.Table<Str, Str>("tin", s, s)
        .Join(builder.Table<Str, Str>("tin2", s, s),
              [](const Str& x, const Str& y) { return x + "/" + y; })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-table-left-join") {
    builder.Table<Str, Str>("tin", s, s)
        .LeftJoin(builder.Table<Str, Str>("tin2", s, s),
                  [render](const Str& x, const NullableStr& y) { return x + "/" + render(y); })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-table-outer-join") {
    builder.Table<Str, Str>("tin", s, s)
        .OuterJoin(builder.Table<Str, Str>("tin2", s, s),
                   [render](const NullableStr& x, const NullableStr& y) {
                     return render(x) + "/" + render(y);
                   })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-groupby-count") {
    builder.Table<Str, Str>("tin", s, s)
        .GroupBy([](const Str&, const Str& v) { return std::make_pair(v.substr(0, 1), v); })
        .Count()
        .ToStream()
        .MapValues([](const std::optional<int64_t>& v) {
          return v.has_value() ? NullableStr(std::to_string(*v)) : std::nullopt;
        })
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-groupby-reduce") {
    builder.Table<Str, Str>("tin", s, s)
        .GroupBy([](const Str& k, const Str& v) { return std::make_pair(v.substr(0, 1), k + v); })
        .Reduce([](const Str& a, const Str& v) { return a + "+" + v; },
                [](const Str& a, const Str& v) { return a + "-" + v; })
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "join-groupby-aggregate") {
    builder.Table<Str, Str>("tin", s, s)
        .Filter([](const Str&, const Str& v) { return !absl::StartsWith(v, "x"); })
        .LeftJoin(builder.Table<Str, Str>("tin2", s, s),
                  [](const Str& x, const NullableStr& y) { return x + y.value_or(""); })
        .GroupBy([](const Str&, const Str& v) { return std::make_pair(v.substr(0, 1), v); },
                 Grouped<Str, Str>::With(s, s))
        .Aggregate<int64_t>(
            [] { return int64_t{0}; },
            [](const Str&, const Str& v, int64_t sum) { return sum + static_cast<int64_t>(v.size()); },
            [](const Str&, const Str& v, int64_t sum) { return sum - static_cast<int64_t>(v.size()); },
            Materialized<int64_t>::As("sums").WithValueSerde(serdes::Int64()))
        .ToStream()
        .MapValues([](const std::optional<int64_t>& v) {
          return v.has_value() ? NullableStr(std::to_string(*v)) : std::nullopt;
        })
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-filter-groupby") {
    auto kept = builder.Table<Str, Str>("tin", s, s).Filter(
        [](const Str&, const Str& v) { return !absl::StartsWith(v, "x"); });
    kept.ToStream().To("out", Produced<Str, NullableStr>::With(s, ns));
    kept.GroupBy([](const Str&, const Str& v) { return std::make_pair(v.substr(0, 1), v); })
        .Count()
        .ToStream()
        .MapValues([](const std::optional<int64_t>& v) {
          return v.has_value() ? NullableStr(absl::StrCat("#", *v)) : std::nullopt;
        })
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (absl::StartsWith(name, "stream-stream")) {
    auto in2 = builder.Stream<NullableStr, NullableStr>("in2", ns, ns);
    JoinWindows windows = JoinWindows::OfTimeDifferenceAndGrace(3'000, 2'000);
    if (absl::EndsWith(name, "-asymmetric")) windows = windows.After(1'000);
    if (name == "stream-stream-join") {
      in.Join(in2, [](const Str& x, const Str& y) { return x + "/" + y; }, windows)
          .To("out", out_value);
    } else if (name == "stream-stream-left-join") {
      in.LeftJoin(
            in2, [render](const Str& x, const NullableStr& y) { return x + "/" + render(y); },
            windows)
          .To("out", out_value);
    } else {
      in.OuterJoin(
            in2,
            [render](const NullableStr& x, const NullableStr& y) {
              return render(x) + "/" + render(y);
            },
            windows)
          .To("out", out_value);
    }
  } else if (name == "session-count" || name == "session-reduce") {
    const auto session_key = [](const Windowed<Str>& w, const auto&) {
      return absl::StrCat(w.key, "@", w.start, "-", w.end);
    };
    if (name == "session-count") {
      in.GroupByKey()
          .WindowedBy(SessionWindows::OfInactivityGapAndGrace(3'000, 2'000))
          .Count()
          .ToStream()
          .SelectKey(session_key)
          .MapValues([](const std::optional<int64_t>& v) {
            return v.has_value() ? NullableStr(std::to_string(*v)) : std::nullopt;
          })
          .To("out", Produced<Str, NullableStr>::With(s, ns));
    } else {
      in.GroupByKey()
          .WindowedBy(SessionWindows::OfInactivityGapWithNoGrace(2'000))
          .Reduce([](const NullableStr& a, const NullableStr& v) { return NullableStr(*a + "+" + *v); })
          .ToStream()
          .SelectKey(session_key)
          .MapValues([](const std::optional<NullableStr>& v) {
            return v.has_value() ? *v : std::nullopt;
          })
          .To("out", Produced<Str, NullableStr>::With(s, ns));
    }
  } else if (absl::StartsWith(name, "sliding-")) {
    const auto window_key = [](const Windowed<Str>& w, const auto&) {
      return absl::StrCat(w.key, "@", w.start, "-", w.end);
    };
    auto grouped = in.GroupByKey();
    if (name == "sliding-count") {
      grouped.WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(3'000, 2'000))
          .Count()
          .ToStream()
          .SelectKey(window_key)
          .MapValues(count_text)
          .To("out", Produced<Str, NullableStr>::With(s, ns));
    } else if (name == "sliding-reduce") {
      grouped.WindowedBy(SlidingWindows::OfTimeDifferenceWithNoGrace(5'000))
          .Reduce([](const NullableStr& a, const NullableStr& v) { return NullableStr(*a + "+" + *v); })
          .ToStream()
          .SelectKey(window_key)
          .MapValues([](const std::optional<NullableStr>& v) {
            return v.has_value() ? *v : std::nullopt;
          })
          .To("out", Produced<Str, NullableStr>::With(s, ns));
    } else {
      grouped.WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(3'000, 1'000))
          .Count()
          .Suppress(Suppressed::UntilWindowCloses(BufferConfig::Unbounded()))
          .ToStream()
          .SelectKey(window_key)
          .MapValues(count_text)
          .To("out", Produced<Str, NullableStr>::With(s, ns));
    }
  } else if (name == "windowed-count-suppress") {
    in.GroupByKey()
        .WindowedBy(TimeWindows::OfSizeAndGrace(10'000, 5'000))
        .Count()
        .Suppress(Suppressed::UntilWindowCloses(BufferConfig::Unbounded()))
        .ToStream()
        .SelectKey([](const Windowed<NullableStr>& w, const auto&) {
          return absl::StrCat(*w.key, "@", w.start);
        })
        .MapValues(count_text)
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "session-suppress") {
    in.GroupByKey()
        .WindowedBy(SessionWindows::OfInactivityGapAndGrace(3'000, 2'000))
        .Count()
        .Suppress(Suppressed::UntilWindowCloses(BufferConfig::Unbounded()))
        .ToStream()
        .SelectKey([](const Windowed<Str>& w, const auto&) {
          return absl::StrCat(w.key, "@", w.start, "-", w.end);
        })
        .MapValues(count_text)
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "table-suppress-time-limit") {
    builder.Table<Str, Str>("tin", s, s)
        .Suppress(Suppressed::UntilTimeLimit(4'000, BufferConfig::MaxRecords(3)))
        .ToStream()
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (name == "count-suppress-time-limit") {
    in.GroupByKey()
        .Count()
        .Suppress(Suppressed::UntilTimeLimit(2'000, BufferConfig::Unbounded()))
        .ToStream()
        .MapValues(count_text)
        .To("out", Produced<Str, NullableStr>::With(s, ns));
  } else if (absl::StartsWith(name, "stream-globaltable")) {
    auto global = builder.GlobalTable<Str, Str>("gin", s, s);
    const auto by_length = [](const NullableStr&, const Str& v) {
      return Str(1, "abcd"[v.size()]);
    };
    if (name == "stream-globaltable-join") {
      in.Join(global, by_length, [](const Str& v, const Str& g) { return v + "/" + g; })
          .To("out", out_value);
    } else {
      in.LeftJoin(global, by_length,
                  [render](const Str& v, const NullableStr& g) { return v + "/" + render(g); })
          .To("out", out_value);
    }
  } else {
    return false;
  }
  return true;
}

// Whether a topology's random input holds null keys and values (those written with tables).
bool WithNulls(const Str& topology) {
  return InputTopics(topology) != std::vector<Str>{"in"} || topology == "stream-count" ||
         topology == "regroup-reduce" || topology == "session-count" ||
         topology == "session-suppress" || topology == "count-suppress-time-limit" ||
         topology == "windowed-count-suppress" || topology == "sliding-count" ||
         topology == "sliding-count-suppress";
}

// weir's twin of DslOracle.build(name).
absl::StatusOr<Topology> Twin(const Str& name) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  KStream<Str, Str> in = builder.Stream<Str, Str>("in", s, s);
  const auto out = Produced<Str, Str>::With(s, s);
  if (name == "filter-map") {
    in.Filter([](const Str&, const Str& v) { return !absl::StartsWith(v, "x"); })
        .MapValues([](const Str& v) { return v + "!"; })
        .SelectKey([](const Str&, const Str& v) { return v.substr(0, 1); })
        .To("out", out);
  } else if (name == "windowed-count") {
    in.GroupByKey()
        .WindowedBy(TimeWindows::OfSizeAndGrace(10'000, 5'000))
        .Count(Materialized<int64_t>::As("counts"))
        .ToStream()
        .SelectKey([](const Windowed<Str>& w, const auto&) { return WindowKey(w); })
        .MapValues([](const std::optional<int64_t>& v) { return std::to_string(*v); })
        .To("out", out);
  } else if (name == "hopping-sum" || name == "hopping-sum-sliced") {
    // -sliced: the same windows through weir's slicing form (the merger adds two sums), which
    // must give Kafka Streams' results as they are.
    const auto windowed =
        in.GroupBy([](const Str&, const Str& v) { return v.substr(0, 1); },
                   Grouped<Str, Str>::With(s, s))
            .WindowedBy(TimeWindows::OfSizeAndGrace(10'000, 2'000).AdvanceBy(5'000));
    const auto initializer = [] { return int64_t{0}; };
    const auto add = [](const Str&, const Str& v, int64_t sum) {
      return sum + static_cast<int64_t>(v.size());
    };
    const auto sums = Materialized<int64_t>::As("sums").WithValueSerde(serdes::Int64());
    (name == "hopping-sum"
         ? windowed.Aggregate<int64_t>(initializer, add, sums)
         : windowed.Aggregate<int64_t>(
               initializer, add, [](const Str&, int64_t a, int64_t b) { return a + b; }, sums))
        .ToStream()
        .SelectKey([](const Windowed<Str>& w, const auto&) { return WindowKey(w); })
        .MapValues([](const std::optional<int64_t>& v) { return std::to_string(*v); })
        .To("out", out);
  } else if (name == "windowed-reduce") {
    in.GroupByKey()
        .WindowedBy(TimeWindows::OfSizeWithNoGrace(5'000))
        .Reduce([](const Str& a, const Str& v) { return a + "+" + v; },
                Materialized<Str>::As("reduced"))
        .ToStream()
        .SelectKey([](const Windowed<Str>& w, const auto&) { return WindowKey(w); })
        .MapValues([](const std::optional<Str>& v) { return *v; })
        .To("out", out);
  } else if (name == "flatmap-split-merge") {
    // One record per letter of the value, keyed by key + letter; letters x go one way, the
    // rest another, each mapped, then merged again.
    auto letters = in.FlatMap([](const Str& k, const Str& v) {
      std::vector<std::pair<Str, Str>> out;
      for (char c : v) out.emplace_back(k + c, v);
      return out;
    });
    auto branches = letters.Split("b-")
                        .Branch("x", [](const Str& k, const Str&) { return k.back() == 'x'; })
                        .DefaultBranch("rest");
    branches.at("b-x")
        .MapValues([](const Str& v) { return "x:" + v; })
        .Merge(branches.at("b-rest").MapValues([](const Str& v) { return "o:" + v; }))
        .To("out", out);
  } else if (name == "regroup-count") {
    // Counted per value in tumbling 5 s windows with 1 s grace, after a repartition.
    in.GroupBy([](const Str&, const Str& v) { return v; }, Grouped<Str, Str>::With(s, s))
        .WindowedBy(TimeWindows::OfSizeAndGrace(5'000, 1'000))
        .Count(Materialized<int64_t>::As("by-value"))
        .ToStream()
        .SelectKey([](const Windowed<Str>& w, const auto&) { return WindowKey(w); })
        .MapValues([](const std::optional<int64_t>& v) { return std::to_string(*v); })
        .To("out", out);
  } else if (!TableTwin(name, builder)) {
    return absl::InvalidArgumentError(absl::StrCat("no topology named ", name));
  }
  return builder.Build();
}

std::optional<Str> Field(const Str& s) {
  return s == kNull ? std::nullopt : std::optional<Str>(s);
}

// weir's output lines for `scenario` (the text of a scenario file), as DslOracle prints them.
absl::StatusOr<std::vector<Str>> RunWeir(const Str& scenario) {
  Str name;
  std::vector<std::vector<Str>> pipes;
  for (absl::string_view line : absl::StrSplit(scenario, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    std::vector<Str> f = absl::StrSplit(line, '\t');
    if (f[0] == "topology" && f.size() == 2) {
      name = f[1];
    } else if (f[0] == "pipe" && f.size() == 5) {
      pipes.push_back(std::move(f));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("not a scenario line: ", line));
    }
  }
  absl::StatusOr<Topology> topology = Twin(name);
  if (!topology.ok()) return topology.status();
  TopologyTestDriver driver(*topology);
  std::vector<Str> lines;
  for (const std::vector<Str>& p : pipes) {
    absl::Status piped =
        driver.PipeRaw(p[1], RawRecord{.key = Field(p[2]), .value = Field(p[3]),
                                       .timestamp = std::stoll(p[4])});
    if (!piped.ok()) return piped;
    for (const OutputRecord& r : driver.ReadOutput("out")) {
      lines.push_back(absl::StrCat("out\t", r.record.key.value_or(kNull), "\t",
                                   r.record.value.value_or(kNull), "\t", r.record.timestamp));
    }
  }
  return lines;
}

// A random scenario for `topology`: keys from a small set so they collide, values of 1-3
// letters (some starting with x, which filter-map drops), timestamps moving forward with
// disorder within and beyond the grace periods, and jumps.
Str RandomScenario(const Str& topology, std::mt19937_64& random) {
  Str out = absl::StrCat("topology\t", topology, "\n");
  const int records = 5 + static_cast<int>(random() % 26);
  int64_t ts = static_cast<int64_t>(random() % 20'000);
  for (int i = 0; i < records; ++i) {
    Str key(1, "abcd"[random() % 4]);
    Str value;
    for (int n = 1 + static_cast<int>(random() % 3); n > 0; --n) value += "xyzw"[random() % 4];
    const std::vector<Str> topics = InputTopics(topology);
    const Str topic = topics[random() % topics.size()];
    if (WithNulls(topology)) {
      // One in ten keys and values is null.
      if (random() % 10 == 0) key = kNull;
      if (random() % 10 == 0) value = kNull;
    }
    absl::StrAppend(&out, "pipe\t", topic, "\t", key, "\t", value, "\t", ts, "\n");
    const int64_t step = static_cast<int64_t>(random() % 16'000) - 7'000;  // -7 s .. +9 s
    ts = std::max<int64_t>(0, ts + step + (random() % 10 == 0 ? 30'000 : 0));
  }
  return out;
}

TEST(DslOracle, WeirMatchesKafkaStreamsOnEveryScenario) {
  const char* peer = std::getenv("WEIR_KSTREAMS_PEER_DIR");
  if (peer == nullptr) GTEST_SKIP() << "WEIR_KSTREAMS_PEER_DIR unset (ctest sets it)";
  ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(peer) / "weir-kstreams-peer.jar"))
      << "the Kafka Streams peer is not built in " << peer << " (ctest -R kstreams_peer)";
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("dsl-oracle-", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  std::vector<std::filesystem::path> files;
  int hand_written = 0;
  for (const auto& entry : std::filesystem::directory_iterator("tests/dsl_oracle")) {
    if (entry.path().extension() != ".scenario") continue;
    files.push_back(entry.path());
    ++hand_written;
  }
  std::sort(files.begin(), files.end());
  const char* random_env = std::getenv("WEIR_DSL_ORACLE_RANDOM");
  const int random_each = random_env != nullptr ? std::atoi(random_env) : 50;
  std::mt19937_64 random(20261207);
  // Outside the suite, WEIR_DSL_ORACLE_ONLY=a,b limits the random scenarios to topologies whose
  // names start with one of the prefixes.
  const char* only_env = std::getenv("WEIR_DSL_ORACLE_ONLY");
  const std::vector<Str> only =
      only_env != nullptr ? absl::StrSplit(only_env, ',', absl::SkipEmpty()) : std::vector<Str>{};
  for (const Str& topology : kTopologies) {
    if (!only.empty() && std::none_of(only.begin(), only.end(), [&](const Str& prefix) {
          return absl::StartsWith(topology, prefix);
        })) {
      continue;
    }
    for (int i = 0; i < random_each; ++i) {
      const std::filesystem::path file = dir / absl::StrCat(topology, "-", i, ".scenario");
      std::ofstream(file) << RandomScenario(topology, random);
      files.push_back(file);
    }
  }

  std::vector<Str> argv = {"java", "-cp",
                           absl::StrCat(peer, "/weir-kstreams-peer.jar:", peer, "/lib/*"),
                           "dev.weir.peer.DslOracle"};
  for (const auto& file : files) argv.push_back(file.string());
  // A scenario takes Kafka Streams 10-20 ms (a driver with RocksDB stores each): 1,000 random
  // ones per topology take many minutes.
  const auto deadline = std::max<std::chrono::milliseconds>(
      std::chrono::seconds(600), std::chrono::milliseconds(100) * files.size());
  const test::CommandResult java = test::RunCommand(argv, "", deadline);
  ASSERT_EQ(java.exit_status, 0) << java.err.substr(0, 4000);

  // DslOracle's output by scenario file.
  std::map<Str, std::vector<Str>> expected;
  Str current;
  for (absl::string_view line : absl::StrSplit(java.out, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "== end")) continue;
    if (absl::StartsWith(line, "== ")) {
      current = Str(line.substr(3));
      expected[current];
      continue;
    }
    expected[current].emplace_back(line);
  }
  ASSERT_EQ(expected.size(), files.size()) << "DslOracle skipped scenarios";

  int differences = 0;
  std::map<Str, int> by_topology;
  for (const auto& file : files) {
    const Str text = test::ReadFile(file.string());
    absl::StatusOr<std::vector<Str>> actual = RunWeir(text);
    ASSERT_TRUE(actual.ok()) << file << ": " << actual.status();
    const std::vector<Str>& want = expected[file.string()];
    const size_t at = text.find("topology\t");
    ++by_topology[text.substr(at + 9, text.find('\n', at) - at - 9)];
    if (*actual == want) continue;
    if (++differences > 5) continue;
    ADD_FAILURE() << file << ":\n" << text << "Kafka Streams:\n"
                  << absl::StrJoin(want, "\n") << "\nweir:\n"
                  << absl::StrJoin(*actual, "\n");
  }
  std::printf("dsl_oracle: %zu scenarios compared (%d hand-written, %d random per topology), "
              "%d differences\n",
              files.size(), hand_written, random_each, differences);
  for (const auto& [topology, count] : by_topology) {
    std::printf("  %s: %d\n", topology.c_str(), count);
  }
  EXPECT_EQ(differences, 0);
  test::RemoveUnlessFailed(dir);
}

}  // namespace
}  // namespace weir
