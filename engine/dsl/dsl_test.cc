// The DSL, through the test driver: each case pipes a few records and states what comes out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/dsl/streams_builder.h"
#include "engine/runtime/test_driver.h"

namespace weir {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using KV = std::pair<std::string, std::string>;

// Reads `topic` as string pairs.
std::vector<KV> Strings(TopologyTestDriver& driver, const std::string& topic) {
  std::vector<KV> out;
  for (const OutputRecord& r : driver.ReadOutput(topic)) {
    out.emplace_back(r.record.key.value_or("<null>"), r.record.value.value_or("<null>"));
  }
  return out;
}

Topology BuildOrDie(const StreamsBuilder& builder) {
  absl::StatusOr<Topology> topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return topology.ok() ? *std::move(topology) : Topology();
}

TEST(Dsl, FilterMapValuesPeekTo) {
  StreamsBuilder builder;
  std::vector<std::string> peeked;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .Filter([](const std::string&, const std::string& v) { return v.size() > 2; })
      .MapValues([](const std::string& v) { return v + "!"; })
      .Peek([&](const std::string& k, const std::string&) { peeked.push_back(k); })
      .FilterNot([](const std::string& k, const std::string&) { return k == "skip"; })
      .To("out");
  TopologyTestDriver driver(BuildOrDie(builder));
  TestInputTopic<std::string, std::string> in(driver, "in", serdes::String(), serdes::String());
  ASSERT_TRUE(in.Pipe("a", "hi", 1).ok());
  ASSERT_TRUE(in.Pipe("b", "hello", 2).ok());
  ASSERT_TRUE(in.Pipe("skip", "world", 3).ok());
  ASSERT_TRUE(in.Pipe("c", "hey", 4).ok());
  EXPECT_THAT(Strings(driver, "out"), ElementsAre(KV{"b", "hello!"}, KV{"c", "hey!"}));
  EXPECT_THAT(peeked, ElementsAre("b", "skip", "c"));
}

TEST(Dsl, MapFlatMapSelectKeyKeepTimestampsAndHeaders) {
  StreamsBuilder builder;
  auto words = builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String());
  words
      .FlatMap([](const std::string& k, const std::string& v) {
        std::vector<std::pair<std::string, int64_t>> out;
        for (char c : v) out.emplace_back(k + c, static_cast<int64_t>(c));
        return out;
      })
      .Map([](const std::string& k, int64_t v) { return std::make_pair(k, std::to_string(v)); })
      .To("codes", Produced<std::string, std::string>::With(serdes::String(), serdes::String()));
  words.SelectKey([](const std::string&, const std::string& v) { return v; })
      .To("by-value", Produced<std::string, std::string>::With(serdes::String(), serdes::String()));
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(
      driver
          .PipeRaw("in",
                   RawRecord{.key = "k", .value = "ab", .timestamp = 42, .headers = {{"h", "1"}}})
          .ok());
  std::vector<OutputRecord> codes = driver.ReadOutput("codes");
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[0].record.key, "ka");
  EXPECT_EQ(codes[0].record.value, "97");
  EXPECT_EQ(codes[1].record.key, "kb");
  EXPECT_EQ(codes[1].record.timestamp, 42);
  EXPECT_THAT(codes[1].record.headers, ElementsAre(Header{"h", "1"}));
  EXPECT_THAT(Strings(driver, "by-value"), ElementsAre(KV{"ab", "ab"}));
}

TEST(Dsl, SplitSendsEachRecordToTheFirstMatchingBranch) {
  StreamsBuilder builder;
  auto branches =
      builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
          .Split("route-")
          .Branch("short", [](const std::string&, const std::string& v) { return v.size() < 3; })
          .Branch("a", [](const std::string&, const std::string& v) { return v[0] == 'a'; })
          .DefaultBranch("other");
  ASSERT_EQ(branches.size(), 3u);
  branches.at("route-short").To("short");
  branches.at("route-a").To("a");
  branches.at("route-other").To("other");
  TopologyTestDriver driver(BuildOrDie(builder));
  TestInputTopic<std::string, std::string> in(driver, "in", serdes::String(), serdes::String());
  for (const char* word : {"ab", "apple", "pear", "a", "axe"})
    ASSERT_TRUE(in.Pipe(word, word, 0).ok());
  EXPECT_THAT(Strings(driver, "short"), ElementsAre(KV{"ab", "ab"}, KV{"a", "a"}));
  EXPECT_THAT(Strings(driver, "a"), ElementsAre(KV{"apple", "apple"}, KV{"axe", "axe"}));
  EXPECT_THAT(Strings(driver, "other"), ElementsAre(KV{"pear", "pear"}));
}

TEST(Dsl, MergeCombinesTwoStreams) {
  StreamsBuilder builder;
  auto left = builder.Stream<std::string, std::string>("left", serdes::String(), serdes::String());
  auto right =
      builder.Stream<std::string, std::string>("right", serdes::String(), serdes::String());
  left.Merge(right).To("both");
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(driver.PipeRaw("left", {.key = "l", .value = "1"}).ok());
  ASSERT_TRUE(driver.PipeRaw("right", {.key = "r", .value = "2"}).ok());
  EXPECT_THAT(Strings(driver, "both"), ElementsAre(KV{"l", "1"}, KV{"r", "2"}));
}

// Counts per key in tumbling 60 s windows with 30 s grace; emits "key@start=count".
class TumblingCount : public ::testing::Test {
 protected:
  void SetUp() override {
    StreamsBuilder builder;
    builder.Stream<std::string, std::string>("clicks", serdes::String(), serdes::String())
        .GroupByKey()
        .WindowedBy(TimeWindows::OfSizeAndGrace(60'000, 30'000))
        .Count(Materialized<int64_t>::As("clicks-1m"))
        .ToStream()
        .MapValues([](const Windowed<std::string>& w, const std::optional<int64_t>& count) {
          return absl::StrCat(w.key, "@", w.start, "=", *count);
        })
        .SelectKey([](const Windowed<std::string>& w, const std::string&) { return w.key; })
        .To("counts", Produced<std::string, std::string>::With(serdes::String(), serdes::String()));
    driver_ = std::make_unique<TopologyTestDriver>(BuildOrDie(builder));
  }
  void Click(const std::string& user, int64_t ts) {
    ASSERT_TRUE(driver_->PipeRaw("clicks", {.key = user, .value = "x", .timestamp = ts}).ok());
  }
  std::vector<std::string> Counts() {
    std::vector<std::string> out;
    for (const KV& kv : Strings(*driver_, "counts")) out.push_back(kv.second);
    return out;
  }
  std::unique_ptr<TopologyTestDriver> driver_;
};

TEST_F(TumblingCount, CountsPerKeyAndWindow) {
  Click("ann", 0);
  Click("ann", 59'999);
  Click("bob", 30'000);
  Click("ann", 60'000);
  EXPECT_THAT(Counts(), ElementsAre("ann@0=1", "ann@0=2", "bob@0=1", "ann@60000=1"));
  EXPECT_EQ(driver_->Totals().dropped, 0);
}

TEST_F(TumblingCount, LateRecordsAreDroppedAndCountedAfterGrace) {
  Click("ann", 10'000);
  Click("ann", 89'999);  // stream time 89,999: window [0, 60000) still open (grace 30 s)
  Click("ann", 20'000);  // in time: 60000 > 89999 - 30000
  Click("ann", 90'000);  // stream time 90,000 closes window [0, 60000)
  Click("ann", 30'000);  // late: dropped and counted
  Click("ann", 65'000);  // window [60000, 120000) is open
  EXPECT_THAT(Counts(),
              ElementsAre("ann@0=1", "ann@60000=1", "ann@0=2", "ann@60000=2", "ann@60000=3"));
  EXPECT_EQ(driver_->Totals().dropped, 1);
}

TEST(Dsl, HoppingWindowsUpdateEveryWindowContainingTheRecord) {
  StreamsBuilder builder;
  std::vector<int64_t> starts;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .GroupByKey()
      .WindowedBy(TimeWindows::OfSizeAndGrace(300'000, 30'000).AdvanceBy(60'000))
      .Count(Materialized<int64_t>::As("five-minutes"))
      .ToStream()
      .Peek([&](const Windowed<std::string>& w, const auto&) { starts.push_back(w.start); });
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = 130'000}).ok());
  EXPECT_THAT(starts, ElementsAre(0, 60'000, 120'000));
  starts.clear();
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = 400'000}).ok());
  EXPECT_THAT(starts, ElementsAre(120'000, 180'000, 240'000, 300'000, 360'000));
}

TEST(TimeWindows, AWindowEndingAtTheCloseTimeIsClosed) {
  const TimeWindows minute = TimeWindows::OfSizeAndGrace(60'000, 30'000);
  // [0, 60000) closes at stream time 90,000: end <= stream time - grace.
  EXPECT_FALSE(minute.Closed(0, 89'999));
  EXPECT_TRUE(minute.Closed(0, 90'000));
  EXPECT_FALSE(minute.Closed(60'000, 90'000));
  EXPECT_TRUE(TimeWindows::OfSizeWithNoGrace(1'000).Closed(0, 1'000));
}

TEST(Dsl, AggregateAndReduce) {
  StreamsBuilder builder;
  auto amounts = builder.Stream<std::string, int64_t>("amounts", serdes::String(), serdes::Int64());
  std::vector<int64_t> sums;
  std::vector<int64_t> maxima;
  const TimeWindows minute = TimeWindows::OfSizeWithNoGrace(60'000);
  amounts.GroupByKey()
      .WindowedBy(minute)
      .Aggregate<int64_t>([] { return 1000; },
                          [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; },
                          Materialized<int64_t>::As("sums").WithValueSerde(serdes::Int64()))
      .ToStream()
      .Peek([&](const Windowed<std::string>&, const auto& sum) { sums.push_back(*sum); });
  amounts.GroupByKey()
      .WindowedBy(minute)
      .Reduce([](const int64_t& a, const int64_t& b) { return std::max(a, b); },
              Materialized<int64_t>::As("maxima"))
      .ToStream()
      .Peek([&](const Windowed<std::string>&, const auto& max) { maxima.push_back(*max); });
  TopologyTestDriver driver(BuildOrDie(builder));
  TestInputTopic<std::string, int64_t> in(driver, "amounts", serdes::String(), serdes::Int64());
  for (int64_t v : {5, 9, 2}) ASSERT_TRUE(in.Pipe("card", v, 1'000).ok());
  EXPECT_THAT(sums, ElementsAre(1005, 1014, 1016));
  EXPECT_THAT(maxima, ElementsAre(5, 9, 9));
}

// Hopping sums of the same records, out of order and some late, the plain way (one store entry
// per window) and over slices (one value per key): the same updates, in the same order, and the
// same late drops.
TEST(Dsl, AMergeableAggregateOverSlicesGivesWhatOneEntryPerWindowGives) {
  struct Run {
    std::vector<std::string> updates;
    int64_t dropped = 0;
    Topology::StoreKind store_kind = Topology::StoreKind::kKeyValue;
  };
  const auto run = [](bool sliced) {
    StreamsBuilder builder;
    Run out;
    auto windowed =
        builder.Stream<std::string, int64_t>("amounts", serdes::String(), serdes::Int64())
            .GroupByKey()
            .WindowedBy(TimeWindows::OfSizeAndGrace(300'000, 30'000).AdvanceBy(60'000));
    const auto init = [] { return int64_t{0}; };
    const auto add = [](const std::string&, const int64_t& v, int64_t sum) { return sum + v; };
    const auto materialized = Materialized<int64_t>::As("sums").WithValueSerde(serdes::Int64());
    KTable<Windowed<std::string>, int64_t> table =
        sliced ? windowed.Aggregate<int64_t>(
                     init, add, [](const std::string&, int64_t a, int64_t b) { return a + b; },
                     materialized)
               : windowed.Aggregate<int64_t>(init, add, materialized);
    table.ToStream().Peek([&](const Windowed<std::string>& w, const auto& sum) {
      out.updates.push_back(absl::StrCat(w.key, "@", w.start, "=", *sum));
    });
    absl::StatusOr<Topology> topology = builder.Build();
    EXPECT_TRUE(topology.ok()) << topology.status();
    out.store_kind = topology->stores().at(0).kind;
    TopologyTestDriver driver(*topology);
    TestInputTopic<std::string, int64_t> in(driver, "amounts", serdes::String(), serdes::Int64());
    uint64_t state = 42;  // a fixed pseudo-random sequence: keys, amounts, times going back
    int64_t now = 0;
    for (int i = 0; i < 2'000; ++i) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      const uint64_t r = state >> 33;
      now += static_cast<int64_t>(r % 20'000);
      const int64_t ts = r % 10 == 0 ? std::max<int64_t>(0, now - static_cast<int64_t>(r % 400'000))
                                     : now;
      EXPECT_TRUE(in.Pipe(absl::StrCat("k", r % 7), static_cast<int64_t>(r % 1000), ts).ok());
    }
    out.dropped = driver.Totals().dropped;
    return out;
  };
  const Run plain = run(false);
  const Run sliced = run(true);
  EXPECT_EQ(plain.store_kind, Topology::StoreKind::kWindow);
  EXPECT_EQ(sliced.store_kind, Topology::StoreKind::kKeyValue);
  EXPECT_GT(plain.dropped, 0) << "the input should hold late records";
  EXPECT_GT(plain.updates.size(), 5'000u);
  EXPECT_EQ(sliced.dropped, plain.dropped);
  EXPECT_EQ(sliced.updates, plain.updates);
}

TEST(Dsl, KeyChangeBeforeGroupingRepartitionsThroughAnInternalTopic) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("orders", serdes::String(), serdes::String())
      .GroupBy([](const std::string&, const std::string& country) { return country; },
               Grouped<std::string, std::string>::With(serdes::String(), serdes::String()))
      .WindowedBy(TimeWindows::OfSizeWithNoGrace(60'000))
      .Count(Materialized<int64_t>::As("per-country"))
      .ToStream()
      .To("country-counts",
          Produced<Windowed<std::string>, std::optional<int64_t>>::With(
              std::make_shared<TimeWindowedSerde<std::string>>(serdes::String(), 60'000),
              serdes::Optional(serdes::Int64())));
  const Topology topology = BuildOrDie(builder);
  ASSERT_EQ(topology.Subtopologies().size(), 2u);
  EXPECT_THAT(topology.Describe(), HasSubstr("(topic: <application.id>-per-country-repartition)"));

  TopologyTestDriver driver(topology, {.application_id = "shop", .partitions = 4});
  TestInputTopic<std::string, std::string> in(driver, "orders", serdes::String(), serdes::String());
  // Orders from many customers (spread over 4 partitions) for two countries.
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(in.Pipe(absl::StrCat("customer-", i), i % 4 == 0 ? "DE" : "FR", 1'000).ok());
  }
  TestOutputTopic<Windowed<std::string>, int64_t> out(
      driver, "country-counts",
      std::make_shared<TimeWindowedSerde<std::string>>(serdes::String(), 60'000), serdes::Int64());
  absl::StatusOr<std::vector<Record<Windowed<std::string>, int64_t>>> counts = out.ReadRecords();
  ASSERT_TRUE(counts.ok()) << counts.status();
  std::map<std::string, int64_t> final_count;
  for (const auto& record : *counts) final_count[record.key.key] = record.value;
  // Every key met in one task, so the last update per country is its total.
  EXPECT_EQ(final_count["DE"], 10);
  EXPECT_EQ(final_count["FR"], 30);
  // The repartition topic is internal: never an output.
  EXPECT_TRUE(driver.ReadOutput("shop-per-country-repartition").empty());
}

TEST(Dsl, RepartitionWithoutSerdesFailsNamingTheStore) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .Map([](const std::string& k, const std::string& v) { return std::make_pair(v, k); })
      .GroupByKey()
      .WindowedBy(TimeWindows::OfSizeWithNoGrace(1'000))
      .Count(Materialized<int64_t>::As("swapped"));
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().ToString(),
              HasSubstr("the repartition before store 'swapped' needs key and value serdes"));
}

// Numbers each key's values (a fixed-key processor with no store: per task, in memory).
class NumberValues : public FixedKeyProcessor<std::string, std::string, std::string> {
 public:
  void Init(FixedKeyProcessorContext<std::string, std::string>& context) override {
    context_ = &context;
  }
  void Process(const FixedKeyRecord<std::string, std::string>& record) override {
    const int n = ++seen_[record.key()];
    context_->Forward(record.WithValue(absl::StrCat(record.value(), "#", n))
                          .WithTimestamp(record.timestamp() + 1));
  }

 private:
  FixedKeyProcessorContext<std::string, std::string>* context_ = nullptr;
  std::map<std::string, int> seen_;
};

TEST(Dsl, ProcessValuesKeepsKeysSoGroupingNeedsNoRepartition) {
  StreamsBuilder builder;
  auto numbered =
      builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
          .ProcessValues<std::string>([] { return std::make_unique<NumberValues>(); });
  numbered.To("out", Produced<std::string, std::string>::With(serdes::String(), serdes::String()));
  numbered.GroupByKey().Count(Materialized<int64_t>::As("counts"));
  const Topology topology = BuildOrDie(builder);
  EXPECT_EQ(topology.Subtopologies().size(), 1u) << topology.Describe();
  EXPECT_THAT(topology.Describe(), HasSubstr("KSTREAM-PROCESSVALUES-"));

  TopologyTestDriver driver(topology);
  TestInputTopic<std::string, std::string> in(driver, "in", serdes::String(), serdes::String());
  ASSERT_TRUE(in.Pipe("a", "x", 10).ok());
  ASSERT_TRUE(in.Pipe("b", "y", 20).ok());
  ASSERT_TRUE(in.Pipe("a", "z", 30).ok());
  TestOutputTopic<std::string, std::string> out(driver, "out", serdes::String(),
                                                serdes::String());
  absl::StatusOr<std::vector<Record<std::string, std::string>>> records = out.ReadRecords();
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<std::string> seen;
  for (const auto& r : *records) seen.push_back(absl::StrCat(r.key, "=", r.value, "@", r.timestamp));
  EXPECT_THAT(seen, ElementsAre("a=x#1@11", "b=y#1@21", "a=z#2@31"));
}

TEST(Dsl, SlidingWindowsRefuseARetentionShorterThanTwiceTheDifferencePlusGrace) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .GroupByKey()
      .WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(3'000, 1'000))
      .Count(Materialized<int64_t>::As("recent").WithRetention(6'999));
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(),
              HasSubstr("retention of store 'recent' (6999 ms) is shorter than 2 x difference + "
                        "grace (7000 ms)"));
}

// Kafka Streams' sliding windows, by hand (the oracle compares them record by record): a record
// updates the windows that contain it and makes its own left window and, when a later record is
// within the difference, its right window.
TEST(Dsl, SlidingWindowsExistWhereRecordsMakeThem) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .GroupByKey()
      .WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(10, 5))
      .Count()
      .ToStream()
      .To("out", Produced<Windowed<std::string>, std::optional<int64_t>>::With(
                     std::make_shared<TimeWindowedSerde<std::string>>(serdes::String(), 10),
                     serdes::Optional(serdes::Int64())));
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  TopologyTestDriver driver(*topology);
  TestInputTopic<std::string, std::string> in(driver, "in", serdes::String(), serdes::String());
  ASSERT_TRUE(in.Pipe("k", "v", 100).ok());
  ASSERT_TRUE(in.Pipe("k", "v", 105).ok());  // left [95, 105]: 2; 100's right [101, 111]: 1
  ASSERT_TRUE(in.Pipe("k", "v", 103).ok());  // updates both; its left [93, 103]: 2; right: 1
  TestOutputTopic<Windowed<std::string>, std::optional<int64_t>> out(
      driver, "out", std::make_shared<TimeWindowedSerde<std::string>>(serdes::String(), 10),
      serdes::Optional(serdes::Int64()));
  absl::StatusOr<std::vector<Record<Windowed<std::string>, std::optional<int64_t>>>> records =
      out.ReadRecords();
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<std::string> windows;
  for (const auto& record : *records) {
    windows.push_back(absl::StrCat(record.key.start, "-", record.key.end, "=",
                                   record.value.value_or(-1), "@", record.timestamp));
  }
  EXPECT_THAT(windows, testing::ElementsAre("90-100=1@100", "101-111=1@105", "95-105=2@105",
                                            "101-111=2@105", "95-105=3@105", "93-103=2@103",
                                            "104-114=1@105"));
}

TEST(Dsl, DescribeListsSubtopologiesNodesAndStores) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("in", serdes::String(), serdes::String())
      .Filter([](const std::string&, const std::string&) { return true; })
      .GroupByKey()
      .WindowedBy(TimeWindows::OfSizeWithNoGrace(1'000))
      .Count(Materialized<int64_t>::As("counts"));
  EXPECT_EQ(BuildOrDie(builder).Describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [in])\n"
            "      --> KSTREAM-FILTER-0000000001\n"
            "    Processor: KSTREAM-FILTER-0000000001 (stores: [])\n"
            "      --> KSTREAM-AGGREGATE-0000000002\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts])\n"
            "      <-- KSTREAM-FILTER-0000000001\n"
            "\n");
}

TEST(Dsl, NullKeysAndValuesAreStdOptionalAndReachTheSinkAsNull) {
  StreamsBuilder builder;
  const auto ns = serdes::Optional(serdes::String());
  builder.Stream<std::optional<std::string>, std::optional<std::string>>("in", ns, ns)
      .MapValues([](const std::optional<std::string>& v) { return v ? std::optional(*v + "!") : v; })
      .To("out");
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(driver.PipeRaw("in", {.key = std::nullopt, .value = "v", .timestamp = 1}).ok());
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = std::nullopt, .timestamp = 2}).ok());
  EXPECT_THAT(Strings(driver, "out"), ElementsAre(KV{"<null>", "v!"}, KV{"k", "<null>"}));
}

TEST(Dsl, ATableKeepsTheLatestValueAndDropsNullKeys) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  KTable<std::string, std::string> table =
      builder.Table<std::string, std::string>("tin", s, s, Materialized<std::string>::As("rows"));
  table.ToStream().To("out", Produced<std::string, std::optional<std::string>>::With(
                                 s, serdes::Optional(s)));
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(driver.PipeRaw("tin", {.key = "a", .value = "1", .timestamp = 1}).ok());
  ASSERT_TRUE(driver.PipeRaw("tin", {.key = std::nullopt, .value = "2", .timestamp = 2}).ok());
  ASSERT_TRUE(driver.PipeRaw("tin", {.key = "b", .value = "3", .timestamp = 3}).ok());
  ASSERT_TRUE(driver.PipeRaw("tin", {.key = "a", .value = std::nullopt, .timestamp = 4}).ok());
  EXPECT_THAT(Strings(driver, "out"),
              ElementsAre(KV{"a", "1"}, KV{"b", "3"}, KV{"a", "<null>"}));
  EXPECT_EQ(driver.Totals().dropped, 1);
  auto* rows = dynamic_cast<KeyValueBytesStore*>(driver.store(TaskId{0, 0}, "rows"));
  ASSERT_NE(rows, nullptr);
  EXPECT_FALSE(rows->Get("a").has_value());
  std::optional<absl::string_view> b = rows->Get("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(ValueAndTimestamp::Decode(*b)->value, "3");
  EXPECT_EQ(ValueAndTimestamp::Decode(*b)->timestamp, 3);
}

TEST(Dsl, JoiningATableWithoutAStoreFailsNamingBoth) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  auto in = builder.Stream<std::string, std::string>("in", s, s);
  auto windowed = in.GroupByKey()
                      .WindowedBy(TimeWindows::OfSizeWithNoGrace(1'000))
                      .Count(Materialized<int64_t>::As("counts"));
  builder.Stream<Windowed<std::string>, std::string>(
             "w", std::make_shared<TimeWindowedSerde<std::string>>(s, 1'000), s)
      .Join(windowed, [](const std::string& v, int64_t c) { return absl::StrCat(v, c); });
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr("reads table KSTREAM-AGGREGATE"));
  EXPECT_THAT(topology.status().message(), HasSubstr("no store to read"));
}

TEST(Dsl, AFullSuppressionBufferThatMustNotEmitEarlyStopsTheTask) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  builder.Table<std::string, std::string>("tin", s, s)
      .Suppress(Suppressed::UntilTimeLimit(60'000, BufferConfig::MaxRecords(1).ShutDownWhenFull()))
      .ToStream()
      .To("out", Produced<std::string, std::optional<std::string>>::With(s, serdes::Optional(s)));
  TopologyTestDriver driver(BuildOrDie(builder));
  ASSERT_TRUE(driver.PipeRaw("tin", {.key = "a", .value = "1", .timestamp = 1}).ok());
  const absl::Status full = driver.PipeRaw("tin", {.key = "b", .value = "2", .timestamp = 2});
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("2/1 records"));
  EXPECT_THAT(full.message(), HasSubstr("ShutDownWhenFull"));
}

TEST(Dsl, SuppressingUntilWindowsCloseNeedsWindowsAndAStrictBuffer) {
  const auto s = serdes::String();
  {
    StreamsBuilder builder;
    builder.Table<std::string, std::string>("tin", s, s).Suppress(
        Suppressed::UntilWindowCloses(BufferConfig::Unbounded()));
    absl::StatusOr<Topology> topology = builder.Build();
    ASSERT_FALSE(topology.ok());
    EXPECT_THAT(topology.status().message(), HasSubstr("needs a table of windowed aggregates"));
  }
  {
    StreamsBuilder builder;
    builder.Stream<std::string, std::string>("in", s, s)
        .GroupByKey()
        .WindowedBy(TimeWindows::OfSizeWithNoGrace(1'000))
        .Count()
        .Suppress(Suppressed::UntilWindowCloses(BufferConfig::MaxRecords(10)));
    absl::StatusOr<Topology> topology = builder.Build();
    ASSERT_FALSE(topology.ok());
    EXPECT_THAT(topology.status().message(), HasSubstr("must not emit early"));
  }
}

// docs/dsl.md's worked examples, as written there.
TEST(Dsl, TheWorkedExamplesOfDslMdBuild) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  KTable<std::string, std::string> merchants = builder.Table<std::string, std::string>(
      "merchants", s, s, Materialized<std::string>::As("merchants"));
  GlobalKTable<std::string, std::string> countries =
      builder.GlobalTable<std::string, std::string>("countries", s, s);
  builder.Stream<std::string, std::string>("payments", s, s)
      .LeftJoin(merchants, [](const std::string& payment, const std::optional<std::string>& m) {
        return payment + "|" + m.value_or("unknown");
      })
      .Join(countries, [](const std::string&, const std::string& v) { return v.substr(0, 2); },
            [](const std::string& v, const std::string& country) { return v + "|" + country; })
      .To("enriched", Produced<std::string, std::string>::With(s, s));

  builder.Stream<std::string, std::string>("clicks", s, s)
      .GroupByKey()
      .WindowedBy(SessionWindows::OfInactivityGapAndGrace(30'000, 10'000))
      .Count()
      .Suppress(Suppressed::UntilWindowCloses(BufferConfig::Unbounded()))
      .ToStream()
      .To("sessions", Produced<Windowed<std::string>, std::optional<int64_t>>::With(
                          std::make_shared<SessionWindowedSerde<std::string>>(s),
                          serdes::Optional(serdes::Int64())));

  auto orders = builder.Stream<std::string, std::string>("orders", s, s);
  auto shipments = builder.Stream<std::string, std::string>("shipments", s, s);
  orders
      .LeftJoin(shipments,
                [](const std::string& order, const std::optional<std::string>& shipment) {
                  return shipment ? order + " shipped" : order + " not shipped";
                },
                JoinWindows::OfTimeDifferenceAndGrace(3'600'000, 60'000).Before(0))
      .To("order-status", Produced<std::string, std::string>::With(s, s));

  builder.Table<std::string, std::string>("stores", s, s)
      .GroupBy([](const std::string& id, const std::string& region) {
        return std::make_pair(region, id);
      })
      .Count()
      .ToStream()
      .To("stores-per-region", Produced<std::string, std::optional<int64_t>>::With(
                                   s, serdes::Optional(serdes::Int64())));

  builder.Stream<std::string, std::string>("card-payments", s, s)
      .GroupByKey()
      .WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(10'000, 5'000))
      .Count(Materialized<int64_t>::As("bursts"))
      .Queryable()  // POST /state/bursts/windows {"key": ...}
      .ToStream()
      .Filter([](const Windowed<std::string>&, const std::optional<int64_t>& n) {
        return n.value_or(0) >= 5;
      })
      .To("bursts", Produced<Windowed<std::string>, std::optional<int64_t>>::With(
                        std::make_shared<TimeWindowedSerde<std::string>>(s, 10'000),
                        serdes::Optional(serdes::Int64())));
  Topology topology = BuildOrDie(builder);

  // Enrichment end to end: a merchant, a country, a payment.
  TopologyTestDriver driver(topology);
  ASSERT_TRUE(driver.PipeRaw("merchants", {.key = "p1", .value = "acme", .timestamp = 1}).ok());
  ASSERT_TRUE(driver.PipeRaw("countries", {.key = "DE", .value = "Germany", .timestamp = 1}).ok());
  ASSERT_TRUE(driver.PipeRaw("payments", {.key = "p1", .value = "DE-42", .timestamp = 2}).ok());
  ASSERT_TRUE(driver.PipeRaw("payments", {.key = "p2", .value = "FR-7", .timestamp = 3}).ok());
  EXPECT_THAT(Strings(driver, "enriched"), ElementsAre(KV{"p1", "DE-42|acme|Germany"}));
  // The global store appears as Kafka Streams describes one.
  EXPECT_THAT(topology.Describe(),
              HasSubstr("for global store (will not generate tasks)\n"
                        "    Source: KSTREAM-SOURCE-0000000002 (topics: [countries])\n"
                        "      --> KTABLE-SOURCE-0000000003\n"
                        "    Processor: KTABLE-SOURCE-0000000003 (stores: "
                        "[countries-STATE-STORE-0000000004])\n"));
}

TEST(Dsl, RepartitionWritesToAnInternalTopicAndReadsItBack) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  builder.Stream<std::string, std::string>("in", s, s)
      .SelectKey([](const std::string&, const std::string& v) { return v; })
      .Repartition(Grouped<std::string, std::string>::With(s, s))
      .To("out", Produced<std::string, std::string>::With(s, s));
  const Topology topology = BuildOrDie(builder);
  EXPECT_THAT(topology.Describe(),
              HasSubstr("(topic: <application.id>-KSTREAM-REPARTITION-0000000002-repartition)"));
  EXPECT_EQ(topology.Subtopologies().size(), 2u);
  TopologyTestDriver driver(topology);
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = 1}).ok());
  EXPECT_THAT(Strings(driver, "out"), ElementsAre(KV{"v", "v"}));
}

}  // namespace
}  // namespace weir
