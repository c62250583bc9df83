// The Processor API: custom processors, their context, punctuations and topology building.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/kafka/partitioner.h"
#include "engine/processor/topology.h"
#include "engine/runtime/test_driver.h"
#include "stores/key_value_store.h"

namespace weir {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Str = std::string;

// Tags each record with where it came from, counts per key in a window store, forwards odd and
// even counts to different children, and reports on punctuations.
class Tagger : public Processor<Str, Str, Str, Str> {
 public:
  void Init(ProcessorContext<Str, Str>& context) override {
    context_ = &context;
    store_ = context.GetStateStore<WindowBytesStore>("seen");
    context.Schedule(1'000, PunctuationType::kStreamTime, [this](int64_t ts) {
      context_->Forward({"stream-tick", std::to_string(ts), ts, {}}, "odd");
    });
    context.Schedule(5'000, PunctuationType::kWallClockTime, [this](int64_t ts) {
      context_->Forward({"wall-tick", std::to_string(ts), ts, {}}, "odd");
    });
  }
  void Process(const Record<Str, Str>& record) override {
    const RecordMetadata& where = *context_->record_metadata();
    const int64_t count = std::stoll(store_->Fetch(record.key, 0).value_or("0")) + 1;
    store_->Put(record.key, 0, std::to_string(count));
    Record<Str, Str> out = record;
    out.value = absl::StrCat(record.value, " from ", where.topic, "-", where.partition, "@",
                             where.offset, " task ", context_->task_id().ToString(), " #", count);
    out.headers.push_back({"app", context_->application_id()});
    context_->Forward(out, count % 2 == 1 ? "odd" : "even");
  }

 private:
  ProcessorContext<Str, Str>* context_ = nullptr;
  WindowBytesStore* store_ = nullptr;
};

Topology TaggerTopology() {
  Topology topology;
  topology.AddSource<Str, Str>("in", {"events"}, serdes::String(), serdes::String())
      .AddProcessor<Str, Str, Str, Str>("tag", [] { return std::make_unique<Tagger>(); }, {"in"})
      .AddWindowStore({.name = "seen", .retention_ms = 1'000'000}, {"tag"})
      .AddSink<Str, Str>("odd", "odd-out", serdes::String(), serdes::String(), {"tag"})
      .AddSink<Str, Str>("even", "even-out", serdes::String(), serdes::String(), {"tag"});
  EXPECT_TRUE(topology.status().ok()) << topology.status();
  return topology;
}

std::vector<std::string> Values(TopologyTestDriver& driver, const std::string& topic) {
  std::vector<std::string> values;
  for (const OutputRecord& r : driver.ReadOutput(topic)) values.push_back(*r.record.value);
  return values;
}

TEST(ProcessorApi, ContextGivesMetadataStoresAndNamedChildren) {
  TopologyTestDriver driver(TaggerTopology(), {.application_id = "app"});
  ASSERT_TRUE(driver.PipeRaw("events", {.key = "k", .value = "a", .timestamp = 0}).ok());
  ASSERT_TRUE(driver.PipeRaw("events", {.key = "k", .value = "b", .timestamp = 10}).ok());
  ASSERT_TRUE(driver.PipeRaw("events", {.key = "j", .value = "c", .timestamp = 20}).ok());
  std::vector<OutputRecord> odd = driver.ReadOutput("odd-out");
  // The stream-time punctuation fires at the first record (stream time 0), after it.
  ASSERT_EQ(odd.size(), 3u);
  EXPECT_EQ(odd[0].record.value, "a from events-0@0 task 0_0 #1");
  EXPECT_EQ(odd[1].record.key, "stream-tick");
  EXPECT_EQ(odd[2].record.value, "c from events-0@2 task 0_0 #1");
  EXPECT_THAT(odd[0].record.headers, ElementsAre(Header{"app", "app"}));
  EXPECT_THAT(Values(driver, "even-out"), ElementsAre("b from events-0@1 task 0_0 #2"));
}

// Forwards each value once: a key-value store remembers the values already seen.
class Dedup : public Processor<Str, Str, Str, Str> {
 public:
  void Init(ProcessorContext<Str, Str>& context) override {
    context_ = &context;
    seen_ = context.GetStateStore<KeyValueBytesStore>("seen-values");
  }
  void Process(const Record<Str, Str>& record) override {
    if (seen_->Get(record.value).has_value()) return;
    seen_->Put(record.value, record.key);
    context_->Forward(record);
  }

 private:
  ProcessorContext<Str, Str>* context_ = nullptr;
  KeyValueBytesStore* seen_ = nullptr;
};

TEST(ProcessorApi, KeyValueStoresReachProcessors) {
  Topology topology;
  topology.AddSource<Str, Str>("in", {"events"}, serdes::String(), serdes::String())
      .AddProcessor<Str, Str, Str, Str>("dedup", [] { return std::make_unique<Dedup>(); }, {"in"})
      .AddKeyValueStore("seen-values", {"dedup"})
      .AddSink<Str, Str>("out", "unique", serdes::String(), serdes::String(), {"dedup"});
  ASSERT_TRUE(topology.status().ok()) << topology.status();
  EXPECT_THAT(topology.Describe(), HasSubstr("seen-values"));
  TopologyTestDriver driver(topology);
  for (const char* value : {"a", "b", "a", "c", "b"}) {
    ASSERT_TRUE(driver.PipeRaw("events", {.key = "k", .value = value, .timestamp = 0}).ok());
  }
  EXPECT_THAT(Values(driver, "unique"), ElementsAre("a", "b", "c"));
  std::vector<std::string> stored;
  dynamic_cast<KeyValueBytesStore*>(driver.store(TaskId{0, 0}, "seen-values"))
      ->All([&](absl::string_view key, absl::string_view) {
        stored.emplace_back(key);
        return true;
      });
  EXPECT_THAT(stored, ElementsAre("a", "b", "c"));
}

TEST(ProcessorApi, StreamTimePunctuationFollowsRecordsAndSkipsMissedIntervals) {
  TopologyTestDriver driver(TaggerTopology());
  for (int64_t ts : {0, 500, 999, 1'000, 1'500, 4'200}) {
    ASSERT_TRUE(driver.PipeRaw("events", {.key = "k", .value = "v", .timestamp = ts}).ok());
  }
  std::vector<std::string> ticks;
  for (const OutputRecord& r : driver.ReadOutput("odd-out")) {
    if (r.record.key == "stream-tick") ticks.push_back(*r.record.value);
  }
  // At 0, when stream time reaches 1000, and once at 4200 for the missed 2000-4000.
  EXPECT_THAT(ticks, ElementsAre("0", "1000", "4200"));
}

TEST(ProcessorApi, WallClockPunctuationFollowsTheDriversClock) {
  TopologyTestDriver driver(TaggerTopology(), {.wall_clock_start_ms = 100'000});
  driver.AdvanceWallClockTime(4'999);
  EXPECT_TRUE(driver.ReadOutput("odd-out").empty());
  driver.AdvanceWallClockTime(1);
  EXPECT_THAT(Values(driver, "odd-out"), ElementsAre("105000"));
  driver.AdvanceWallClockTime(12'000);  // 117000: one tick, aligned, missed ones skipped
  EXPECT_THAT(Values(driver, "odd-out"), ElementsAre("117000"));
}

TEST(ProcessorApi, CancelledPunctuationStops) {
  class Once : public Processor<Str, Str, Str, Str> {
   public:
    void Init(ProcessorContext<Str, Str>& context) override {
      handle_ = context.Schedule(10, PunctuationType::kWallClockTime, [this, &context](int64_t) {
        context.Forward({"tick", "", 0, {}});
        handle_.Cancel();
      });
    }
    void Process(const Record<Str, Str>&) override {}

   private:
    Cancellable handle_;
  };
  Topology topology;
  topology.AddSource<Str, Str>("in", {"in"}, serdes::String(), serdes::String())
      .AddProcessor<Str, Str, Str, Str>("once", [] { return std::make_unique<Once>(); }, {"in"})
      .AddSink<Str, Str>("out", "out", serdes::String(), serdes::String(), {"once"});
  TopologyTestDriver driver(topology);
  driver.AdvanceWallClockTime(10);
  driver.AdvanceWallClockTime(10);
  driver.AdvanceWallClockTime(10);
  EXPECT_EQ(driver.ReadOutput("out").size(), 1u);
}

TEST(ProcessorApi, UndeserializableRecordsAreReportedCountedAndSkipped) {
  Topology topology;
  topology.AddSource<Str, int64_t>("in", {"numbers"}, serdes::String(), serdes::Int64())
      .AddSink<Str, int64_t>("out", "copy", serdes::String(), serdes::Int64(), {"in"});
  TopologyTestDriver driver(topology);
  absl::Status bad = driver.PipeRaw("numbers", {.key = "k", .value = "abc"});
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_THAT(bad.ToString(), HasSubstr("numbers-0@0: value: expected 8 bytes"));
  ASSERT_TRUE(driver.PipeRaw("numbers", {.key = "k", .value = serdes::Int64()->Serialize(7)}).ok());
  EXPECT_EQ(driver.ReadOutput("copy").size(), 1u);
  EXPECT_EQ(driver.Totals().deserialization_errors, 1);
  EXPECT_EQ(driver.Totals().processed, 2);
}

TEST(ProcessorApi, NegativeTimestampsAreDroppedAndCounted) {
  Topology topology;
  topology.AddSource<Str, Str>("in", {"in"}, serdes::String(), serdes::String())
      .AddSink<Str, Str>("out", "out", serdes::String(), serdes::String(), {"in"});
  TopologyTestDriver driver(topology);
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = -1}).ok());
  EXPECT_TRUE(driver.ReadOutput("out").empty());
  EXPECT_EQ(driver.Totals().dropped, 1);
  EXPECT_EQ(driver.Totals().late, 0) << "invalid, not late";
}

// A record stamped after the wall clock (a producer's clock ahead) is counted, and the
// end-to-end latency it contributes is 0, never negative.
TEST(ProcessorApi, RecordsFromTheFutureAreCountedAndHaveNoNegativeLatency) {
  Topology topology;
  topology.AddSource<Str, Str>("in", {"in"}, serdes::String(), serdes::String())
      .AddSink<Str, Str>("out", "out", serdes::String(), serdes::String(), {"in"});
  TopologyTestDriver driver(topology, {.wall_clock_start_ms = 100'000});
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = 90'000}).ok());
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "v", .timestamp = 200'000}).ok());
  EXPECT_EQ(driver.Totals().future_records, 1);
  const TaskMetrics metrics = driver.Metrics(/*with_rocksdb=*/false).at(0);
  EXPECT_EQ(metrics.future_records, 1);
  EXPECT_EQ(metrics.e2e_latency_ms.min, 0);
  EXPECT_EQ(metrics.e2e_latency_ms.max, 10'000);
  EXPECT_EQ(metrics.sink_e2e_latency_ms.min, 0);
}

TEST(ProcessorApi, TimestampExtractorSetsEventTime) {
  Topology topology;
  topology
      .AddSource<Str, Str>("in", {"in"}, serdes::String(), serdes::String(),
                           [](const Record<Str, Str>& r, int64_t) { return std::stoll(r.value); })
      .AddSink<Str, Str>("out", "out", serdes::String(), serdes::String(), {"in"});
  TopologyTestDriver driver(topology);
  ASSERT_TRUE(driver.PipeRaw("in", {.key = "k", .value = "12345", .timestamp = 1}).ok());
  std::vector<OutputRecord> out = driver.ReadOutput("out");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].record.timestamp, 12345);
  EXPECT_EQ(driver.stream_time(TaskId{0, 0}), 12345);
}

TEST(ProcessorApi, PipingAnUnreadTopicIsNotFound) {
  TopologyTestDriver driver(TaggerTopology());
  EXPECT_TRUE(absl::IsNotFound(driver.PipeRaw("nope", {})));
}

TEST(ProcessorApi, RecordsGoToThePartitionTheirKeyHashesTo) {
  TopologyTestDriver driver(TaggerTopology(), {.partitions = 3});
  ASSERT_TRUE(driver.PipeRaw("events", {.key = "foobar", .value = "v"}).ok());
  std::vector<OutputRecord> out = driver.ReadOutput("odd-out");
  ASSERT_FALSE(out.empty());
  const int32_t expected = PartitionForKey("foobar", 3);
  EXPECT_THAT(*out[0].record.value,
              HasSubstr(absl::StrCat("events-", expected, "@0 task 0_", expected)));
}

TEST(TopologyBuilding, MistakesAreReportedOnce) {
  Topology dup;
  dup.AddSource<Str, Str>("a", {"t"}, serdes::String(), serdes::String())
      .AddSource<Str, Str>("a", {"u"}, serdes::String(), serdes::String());
  EXPECT_THAT(dup.status().ToString(), HasSubstr("node name 'a' is already used"));

  Topology orphan;
  orphan.AddSink<Str, Str>("s", "t", serdes::String(), serdes::String(), {"missing"});
  EXPECT_THAT(orphan.status().ToString(), HasSubstr("parent 'missing' does not exist"));

  Topology mismatch;
  mismatch.AddSource<Str, Str>("a", {"t"}, serdes::String(), serdes::String())
      .AddSink<Str, int64_t>("s", "u", serdes::String(), serdes::Int64(), {"a"});
  EXPECT_THAT(mismatch.status().ToString(), HasSubstr("node 's' takes"));

  Topology store;
  store.AddSource<Str, Str>("a", {"t"}, serdes::String(), serdes::String())
      .AddWindowStore({.name = "w", .retention_ms = 10}, {"a"});
  EXPECT_THAT(store.status().ToString(), HasSubstr("store 'w': 'a' is not a processor"));
}

TEST(TopologyBuilding, SharedStoresJoinSubtopologies) {
  Topology topology;
  topology.AddSource<Str, Str>("a", {"t1"}, serdes::String(), serdes::String())
      .AddSource<Str, Str>("b", {"t2"}, serdes::String(), serdes::String())
      .AddProcessor<Str, Str, Str, Str>("pa", [] { return std::make_unique<Tagger>(); }, {"a"})
      .AddProcessor<Str, Str, Str, Str>("pb", [] { return std::make_unique<Tagger>(); }, {"b"});
  EXPECT_EQ(topology.Subtopologies().size(), 2u);
  topology.AddWindowStore({.name = "seen", .retention_ms = 10}, {"pa", "pb"});
  ASSERT_TRUE(topology.status().ok()) << topology.status();
  EXPECT_EQ(topology.Subtopologies().size(), 1u);
}

}  // namespace
}  // namespace weir
