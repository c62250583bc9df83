// The runtime against the embedded broker: stream threads, the consumer group, commits,
// rebalancing, error handling and exactly-once's protocol flow. One broker serves every test;
// each test has its own topics and application id. Waits are on conditions with deadlines.
#include "engine/runtime/kafka_streams.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/http_client.h"
#include "engine/dsl/streams_builder.h"
#include "engine/http/http_server.h"
#include "engine/http/metrics.h"
#include "engine/http/query_service.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/partitioner.h"
#include "engine/kafka/topic_admin.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_cluster.h"

namespace weir {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using test::WaitFor;

// The test's cluster: an embedded broker of this process, or a real Kafka cluster
// (tests/support/test_cluster.h), emptied before each test.
EmbeddedBroker* broker = nullptr;  // null on a real cluster
std::string cluster;               // its bootstrap servers

// State of this test binary's run only (tasks resume from the offsets stored with it).
std::string StateDir() {
  return (std::filesystem::temp_directory_path() /
          absl::StrCat("weir-kafka-streams-test-", ::getpid()))
      .string();
}

class BrokerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::optional<std::string> real = test::RealKafkaBootstrap(); real.has_value()) {
      cluster = *real;
      // A failed environment would mark the tests skipped, not failed: stop hard instead.
      if (const absl::Status reset = test::ResetRealKafka(cluster, {}); !reset.ok()) {
        std::fprintf(stderr, "emptying the cluster at %s: %s\n", cluster.c_str(),
                     reset.ToString().c_str());
        std::exit(1);
      }
      return;
    }
    absl::StatusOr<std::unique_ptr<EmbeddedBroker>> started = EmbeddedBroker::Start(3);
    ASSERT_TRUE(started.ok()) << started.status();
    owned_ = *std::move(started);
    broker = owned_.get();
    cluster = broker->bootstrap_servers();
  }
  void TearDown() override {
    owned_.reset();
    std::error_code ignored;  // clean-up trouble is not a test failure
    std::filesystem::remove_all(StateDir(), ignored);
  }

 private:
  std::unique_ptr<EmbeddedBroker> owned_;
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new BrokerEnvironment);

// Starts `streams`; its status in the failure message when it cannot.
::testing::AssertionResult Started(KafkaStreams& streams) {
  const absl::Status status = streams.Start();
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status;
}

AppConfig Config(const std::string& application_id, int threads) {
  AppConfig config;
  config.application_id = application_id;
  config.bootstrap_servers = cluster;
  config.num_stream_threads = threads;
  config.commit_interval_ms = 200;
  config.state_dir = StateDir();
  config.poll_ms = 50;
  // The embedded broker completes a rebalance only when departed members time out: keep the
  // session short so group changes settle in seconds (Kafka's default is 45 s).
  config.consumer = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  return config;
}

KafkaHandle Producer(const std::string& bootstrap) {
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = bootstrap,
                      .common = {{"partitioner", "murmur2_random"}, {"linger.ms", "5"}}},
                     ClientKind::kProducer);
  EXPECT_TRUE(conf.ok()) << conf.status();
  absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
  EXPECT_TRUE(producer.ok()) << producer.status();
  return *std::move(producer);
}

// Produces records `from`..`to`-1: key "k<i mod keys>", value "<i>" (to the test's broker unless
// `bootstrap` names another).
void Produce(const std::string& topic, int from, int to, int keys = 1000,
             const std::string& bootstrap = "") {
  KafkaHandle producer = Producer(bootstrap.empty() ? cluster : bootstrap);
  for (int i = from; i < to; ++i) {
    const std::string key = absl::StrCat("k", i % keys);
    const std::string value = std::to_string(i);
    rd_kafka_resp_err_t err;
    while ((err = rd_kafka_producev(
                producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                RD_KAFKA_V_TIMESTAMP(1'000), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer.get(), 10);
    }
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(producer.get(), 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

struct Consumed {
  std::string key;
  std::string value;
  int32_t partition;
  std::vector<Header> headers;
};

// Everything `topic` holds, partition by partition, in offset order.
std::vector<Consumed> ReadAll(const std::string& topic, int partitions) {
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = cluster,
                      .common = {{"group.id", "reader"}, {"enable.auto.commit", "false"}}},
                     ClientKind::kConsumer);
  absl::StatusOr<KafkaHandle> consumer = NewKafkaClient(*std::move(conf), ClientKind::kConsumer);
  std::vector<Consumed> out;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    EXPECT_EQ(
        rd_kafka_query_watermark_offsets(consumer->get(), topic.c_str(), p, &low, &high, 10'000),
        RD_KAFKA_RESP_ERR_NO_ERROR);
    if (high == low) continue;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = low;
    rd_kafka_assign(consumer->get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    int64_t next = low;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (next < high && Clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer->get(), 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Consumed c{.key = std::string(static_cast<const char*>(m->key), m->key_len),
                   .value = std::string(static_cast<const char*>(m->payload), m->len),
                   .partition = p};
        rd_kafka_headers_t* headers = nullptr;
        if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* value;
          size_t size;
          for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                             RD_KAFKA_RESP_ERR_NO_ERROR;
               ++i) {
            c.headers.push_back({name, std::string(static_cast<const char*>(value), size)});
          }
        }
        out.push_back(std::move(c));
        next = m->offset + 1;
      }
      rd_kafka_message_destroy(m);
    }
    EXPECT_EQ(next, high) << topic << "-" << p << " not read to the end";
  }
  rd_kafka_consumer_close(consumer->get());
  return out;
}

int64_t EndOffsets(const std::string& topic, int partitions) {
  KafkaHandle client = Producer(cluster);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(client.get(), topic.c_str(), p, &low, &high, 10'000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      total += high;
    }
  }
  return total;
}

int64_t Sum(const KafkaStreams& streams, int64_t ThreadSnapshot::*counter) {
  return SumOver(streams.threads(), counter);
}

int64_t Processed(const KafkaStreams& streams) { return Sum(streams, &ThreadSnapshot::processed); }

// Every thread of `streams` owns tasks, `tasks` in all: the group has settled.
bool Settled(const KafkaStreams& streams, size_t tasks) {
  size_t total = 0;
  for (const ThreadSnapshot& t : streams.threads()) {
    if (t.tasks.empty()) return false;
    total += t.tasks.size();
  }
  return total == tasks;
}

Topology PassThrough(const std::string& in, const std::string& out) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>(in, serdes::String(), serdes::String()).To(out);
  absl::StatusOr<Topology> topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

// in -> count per key in 60 s windows (store `store`) -> out, as "<count>" keyed by the key.
Topology Counting(const std::string& in, const std::string& out, const std::string& store) {
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>(in, serdes::String(), serdes::String())
      .GroupByKey()
      .WindowedBy(TimeWindows::OfSizeWithNoGrace(60'000))
      .Count(Materialized<int64_t>::As(store))
      .ToStream()
      .SelectKey([](const Windowed<std::string>& w, const auto&) { return w.key; })
      .MapValues([](const std::optional<int64_t>& count) { return std::to_string(*count); })
      .To(out, Produced<std::string, std::string>::With(serdes::String(), serdes::String()));
  absl::StatusOr<Topology> topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

// The last value per key of `topic`.
std::map<std::string, std::string> LastValues(const std::string& topic, int partitions);

void CreateTopics(const std::vector<std::string>& topics, int partitions) {
  for (const std::string& t : topics) {
    if (broker != nullptr) {
      ASSERT_TRUE(broker->CreateTopic({.name = t, .partitions = partitions}).ok());
    } else {
      absl::StatusOr<KafkaHandle> admin = test::AdminClient(cluster);
      ASSERT_TRUE(admin.ok()) << admin.status();
      const absl::Status created =
          weir::CreateTopics(admin->get(), {{.name = t, .partitions = partitions}}, -1);
      ASSERT_TRUE(created.ok()) << created;
    }
  }
}

// The embedded broker has no CreateTopics: KafkaStreams creates internal topics through it;
// a real cluster takes the admin API's CreateTopics.
KafkaStreamsOptions EmbeddedOptions() {
  if (broker == nullptr) return {};
  return {.create_topic = [](const TopicSpec& topic) { return broker->CreateTopic(topic); }};
}

// Runs `topology` as one instance over records `from`..`to`-1 of `in` (see Produce) until all
// are processed, then closes it: the first life of an application whose restart a test checks.
void RunOnce(const Topology& topology, const AppConfig& config, const std::string& in, int from,
             int to, int keys) {
  auto streams = KafkaStreams::Create(topology, config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  Produce(in, from, to, keys);
  ASSERT_TRUE(WaitFor([&] { return Processed(**streams) >= to - from; }, std::chrono::seconds(60)));
  (*streams)->Close();
}

TEST(KafkaStreams, TwoThreadsShareFourPartitionsOfAStatefulTopology) {
  CreateTopics({"stateful-in", "stateful-out"}, 4);
  const Topology topology = Counting("stateful-in", "stateful-out", "counts");
  absl::StatusOr<std::unique_ptr<KafkaStreams>> streams =
      KafkaStreams::Create(topology, Config("stateful", 2), EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  // Both threads in the group first: on a real broker the first can otherwise take all four
  // partitions and be done before the second joins.
  ASSERT_TRUE(WaitFor([&] { return Settled(**streams, 4); }, std::chrono::seconds(60)));

  constexpr int kRecords = 100'000;
  Produce("stateful-in", 0, kRecords);
  ASSERT_TRUE(WaitFor([&] { return Processed(**streams) >= kRecords; }, std::chrono::seconds(120)))
      << "processed " << Processed(**streams);
  EXPECT_EQ(Processed(**streams), kRecords);

  // Each task belongs to exactly one thread, two tasks each.
  std::set<TaskId> all;
  for (const ThreadSnapshot& thread : (*streams)->threads()) {
    EXPECT_EQ(thread.tasks.size(), 2u) << thread.name;
    for (TaskId id : thread.tasks) EXPECT_TRUE(all.insert(id).second) << id.ToString();
    EXPECT_EQ(thread.dropped, 0);
  }
  EXPECT_EQ(all.size(), 4u);
  EXPECT_GT(Sum(**streams, &ThreadSnapshot::cache_hits), 0);
  (*streams)->Close();

  // 1000 keys x 100 records: each key's last count is 100. The record cache collapses a key's
  // updates between commits, so fewer results than records reach the output.
  const int64_t results = EndOffsets("stateful-out", 4);
  EXPECT_LT(results, kRecords);
  const std::map<std::string, std::string> last = LastValues("stateful-out", 4);
  ASSERT_EQ(last.size(), 1000u);
  for (const auto& [key, count] : last) EXPECT_EQ(count, "100") << key;
}

TEST(KafkaStreams, ARecordIsProcessedAsItArrivesNotWhenABatchFills) {
  // librdkafka's batch poll returns when its batch is full or its timeout is up: a stream
  // thread that handed it poll.ms kept every record of a quiet stream waiting for poll.ms.
  CreateTopics({"quiet-in", "quiet-out"}, 1);
  AppConfig config = Config("quiet", 1);
  config.poll_ms = 60'000;
  config.max_poll_records = 1'000;
  absl::StatusOr<std::unique_ptr<KafkaStreams>> streams =
      KafkaStreams::Create(PassThrough("quiet-in", "quiet-out"), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  Produce("quiet-in", 0, 1);
  EXPECT_TRUE(WaitFor([&] { return Processed(**streams) == 1; }, std::chrono::seconds(20)))
      << "one record, max.poll.records 1000, poll.ms 60000: still waiting for a full batch";
  // Close interrupts a poll waiting out its 60 s.
  const auto close_start = std::chrono::steady_clock::now();
  (*streams)->Close();
  EXPECT_LT(std::chrono::steady_clock::now() - close_start, std::chrono::seconds(30));
}

TEST(KafkaStreams, ARecordCacheTooSmallForTheKeysEvictsAndForwardsWhatItEvicts) {
  CreateTopics({"evicting-in", "evicting-out"}, 2);
  AppConfig config = Config("evicting", 1);
  config.statestore_cache_max_bytes = 2'048;  // about 25 of the 100 windows
  auto streams = KafkaStreams::Create(Counting("evicting-in", "evicting-out", "counts"), config,
                                      EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  Produce("evicting-in", 0, 5'000, /*keys=*/100);
  ASSERT_TRUE(WaitFor([&] { return Processed(**streams) >= 5'000; }, std::chrono::seconds(60)));
  (*streams)->Close();
  EXPECT_GT(Sum(**streams, &ThreadSnapshot::cache_evictions), 0);
  const std::map<std::string, std::string> last = LastValues("evicting-out", 2);
  ASSERT_EQ(last.size(), 100u);
  for (const auto& [key, count] : last) EXPECT_EQ(count, "50") << key;
}

TEST(KafkaStreams, UncommittedWritesPastTheirBoundCommitEarly) {
  CreateTopics({"bound-in", "bound-out"}, 1);
  AppConfig config = Config("bound", 1);
  config.commit_interval_ms = 600'000;               // no periodic commit during the test
  config.statestore_cache_max_bytes = 0;             // every update reaches the pending batch
  config.statestore_uncommitted_max_bytes = 16'384;  // a few hundred window updates
  auto streams =
      KafkaStreams::Create(Counting("bound-in", "bound-out", "counts"), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  Produce("bound-in", 0, 5'000, /*keys=*/1'000);
  ASSERT_TRUE(WaitFor([&] { return Processed(**streams) >= 5'000; }, std::chrono::seconds(60)));
  EXPECT_GT(Sum(**streams, &ThreadSnapshot::early_commits), 0);
  EXPECT_GT(Sum(**streams, &ThreadSnapshot::commits), 0)
      << "state reached RocksDB before the interval";
  (*streams)->Close();
}

TEST(KafkaStreams, WithoutARecordCacheEveryUpdateIsForwarded) {
  CreateTopics({"uncached-in", "uncached-out"}, 2);
  AppConfig config = Config("uncached", 1);
  config.statestore_cache_max_bytes = 0;
  auto streams = KafkaStreams::Create(Counting("uncached-in", "uncached-out", "counts"), config,
                                      EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  ASSERT_TRUE(Started(**streams));
  Produce("uncached-in", 0, 5'000, /*keys=*/100);
  ASSERT_TRUE(WaitFor([&] { return Processed(**streams) >= 5'000; }, std::chrono::seconds(60)));
  (*streams)->Close();
  EXPECT_EQ(Sum(**streams, &ThreadSnapshot::cache_hits), 0);
  EXPECT_EQ(EndOffsets("uncached-out", 2), 5'000);
  const std::map<std::string, std::string> last = LastValues("uncached-out", 2);
  ASSERT_EQ(last.size(), 100u);
  for (const auto& [key, count] : last) EXPECT_EQ(count, "50") << key;
}

TEST(KafkaStreams, StateFromAnotherClusterIsWipedNotTrusted) {
  // The same application id and state directory, first against this broker, then against a new
  // one whose topic holds other records: the new group has committed nothing, so the local state
  // (which claims offsets there) must not decide where processing starts.
  const Topology topology = Counting("wipe-in", "wipe-out", "wipe-counts");
  CreateTopics({"wipe-in", "wipe-out"}, 2);
  AppConfig config = Config("wipe", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "wipe-in", 0, 500, 1000));
  auto other = EmbeddedBroker::Start(1);
  ASSERT_TRUE(other.ok());
  for (const char* topic : {"wipe-in", "wipe-out"}) {
    ASSERT_TRUE((*other)->CreateTopic({.name = topic, .partitions = 2}).ok());
  }
  config.bootstrap_servers = (*other)->bootstrap_servers();
  auto second = KafkaStreams::Create(topology, config, {.create_topic = [&](const TopicSpec& t) {
                                       return (*other)->CreateTopic(t);
                                     }});
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(Started(**second));
  Produce("wipe-in", 0, 500, 50, config.bootstrap_servers);
  ASSERT_TRUE(WaitFor([&] { return Processed(**second) >= 500; }, std::chrono::seconds(60)))
      << "processed " << Processed(**second) << ": the old state's offsets skipped records";
  int64_t wiped = 0;
  for (const ThreadSnapshot& t : (*second)->threads()) wiped += t.states_wiped;
  EXPECT_EQ(wiped, 2) << "both tasks' states came from the first cluster";
  (*second)->Close();
}

std::map<std::string, std::string> LastValues(const std::string& topic, int partitions) {
  std::map<std::string, std::string> last;
  for (const Consumed& c : ReadAll(topic, partitions)) last[c.key] = c.value;
  return last;
}

TEST(KafkaStreams, MissingLocalStateIsRestoredFromTheChangelog) {
  CreateTopics({"restore-in", "restore-out"}, 2);
  const Topology topology = Counting("restore-in", "restore-out", "restore-counts");
  const AppConfig config = Config("restore", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "restore-in", 0, 1'000, 10));
  std::filesystem::remove_all(std::filesystem::path(StateDir()) / "restore");  // a new machine
  auto second = KafkaStreams::Create(topology, config, EmbeddedOptions());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(Started(**second));
  Produce("restore-in", 1'000, 2'000, 10);
  // 10 keys x 200 records in one window: the counts continue from the restored 100.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::map<std::string, std::string> last = LastValues("restore-out", 2);
        return last.size() == 10 && std::all_of(last.begin(), last.end(),
                                                [](const auto& kv) { return kv.second == "200"; });
      },
      std::chrono::seconds(60)))
      << "counts did not continue from the restored state";
  EXPECT_GE(Sum(**second, &ThreadSnapshot::records_restored), 10);
  EXPECT_EQ(Processed(**second), 1'000) << "restored state, yet input was reprocessed";
  (*second)->Close();
}

// Holds each restoration, on the state updater's thread, until Release(): the restore hook
// (KafkaStreamsOptions::on_restore_start) blocks in it. Release it before the instance closes.
class RestoreGate {
 public:
  // `check` sees each restoration first (the task, the records to restore).
  std::function<void(TaskId, int64_t)> Hook(std::function<void(TaskId, int64_t)> check = {}) {
    return [this, check](TaskId id, int64_t remaining) {
      if (check) check(id, remaining);
      absl::MutexLock lock(&mutex_);
      started_ = true;
      mutex_.Await(absl::Condition(&released_));
    };
  }
  bool WaitStarted() {
    absl::MutexLock lock(&mutex_);
    return mutex_.AwaitWithTimeout(absl::Condition(&started_), absl::Seconds(60));
  }
  void Release() {
    absl::MutexLock lock(&mutex_);
    released_ = true;
  }

 private:
  absl::Mutex mutex_;
  bool started_ ABSL_GUARDED_BY(mutex_) = false;
  bool released_ ABSL_GUARDED_BY(mutex_) = false;
};

TEST(KafkaStreams, NotReadyWhileATaskRestoresReadyAfter) {
  CreateTopics({"ready-in", "ready-out"}, 1);
  const Topology topology = Counting("ready-in", "ready-out", "ready-counts");
  const AppConfig config = Config("ready", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "ready-in", 0, 500, 10));
  std::filesystem::remove_all(std::filesystem::path(StateDir()) / "ready");  // a new machine
  // The restore hook holds the state updater at the start of the restore until the test has
  // looked at the instance's readiness.
  RestoreGate gate;
  KafkaStreamsOptions options = EmbeddedOptions();
  options.on_restore_start = gate.Hook([](TaskId, int64_t remaining) { EXPECT_GT(remaining, 0); });
  auto streams = KafkaStreams::Create(topology, config, options);
  ASSERT_TRUE(streams.ok());
  auto release = absl::MakeCleanup([&] { gate.Release(); });
  auto http = HttpServer::Start("127.0.0.1", 0,
                                {.metrics = [&] { return RenderMetrics(**streams); },
                                 .healthy = [&] { return (*streams)->Healthy(); },
                                 .not_ready = [&] { return (*streams)->NotReadyReason(); }});
  ASSERT_TRUE(http.ok()) << http.status();
  const int port = (*http)->port();
  EXPECT_EQ(HttpGet(port, "/readyz").status, 503) << "not started";
  ASSERT_TRUE(Started(**streams));
  ASSERT_TRUE(gate.WaitStarted())
      << "no restoration started: the changelog held nothing to restore?";
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  const auto restoring = HttpGet(port, "/readyz");
  EXPECT_EQ(restoring.status, 503) << "a task is restoring";
  EXPECT_THAT(restoring.body, HasSubstr("has a task restoring its state")) << restoring.body;
  EXPECT_THAT(HttpGet(port, "/metrics").body, HasSubstr("weir_client_state{client_id=\"ready-"));
  EXPECT_EQ((*streams)->state(), KafkaStreams::State::kRebalancing);
  std::move(release).Invoke();
  EXPECT_TRUE(
      WaitFor([&] { return HttpGet(port, "/readyz").status == 200; }, std::chrono::seconds(60)));
  EXPECT_EQ((*streams)->state(), KafkaStreams::State::kRunning);
  const std::string metrics = HttpGet(port, "/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("weir_task_restore_total{"));
  EXPECT_THAT(metrics, HasSubstr("state=\"RUNNING\"} 1"));
  (*streams)->Close();
  EXPECT_EQ(HttpGet(port, "/healthz").status, 503) << "closed";
}

// Statistics come only with a thread's poll: a thread held in its processing (here by the
// topology; in production by a producer flush or commit to a vanished broker) keeps its last
// report, "every broker UP". After 3 x statistics.interval.ms without one it is not ready.
TEST(KafkaStreams, AThreadWhoseStatisticsStopIsNotReady) {
  CreateTopics({"stale-in"}, 1);
  absl::Mutex mutex;
  bool released = false;
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("stale-in", serdes::String(), serdes::String())
      .Peek([&](const std::string&, const std::string&) {
        absl::MutexLock lock(&mutex);
        mutex.Await(absl::Condition(&released));
      });
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  AppConfig config = Config("stale", 1);
  config.consumer["statistics.interval.ms"] = "500";
  auto streams = KafkaStreams::Create(*topology, config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  auto release = absl::MakeCleanup([&] {
    absl::MutexLock lock(&mutex);
    released = true;
  });
  ASSERT_TRUE(Started(**streams));
  ASSERT_TRUE(WaitFor([&] { return (*streams)->threads()[0].metrics.consumer.reported; },
                      std::chrono::seconds(60)));
  ASSERT_TRUE(WaitFor([&] { return (*streams)->Ready(); }, std::chrono::seconds(60)));
  Produce("stale-in", 0, 1, 1);  // the thread now waits in Peek
  ASSERT_TRUE(WaitFor([&] { return !(*streams)->Ready(); }, std::chrono::seconds(60)))
      << "a thread that stopped polling stays ready";
  EXPECT_THAT((*streams)->NotReadyReason(), HasSubstr("delivered no statistics for"));
  EXPECT_TRUE((*streams)->Healthy()) << "blocked, not dead";
  std::move(release).Invoke();
  EXPECT_TRUE(WaitFor([&] { return (*streams)->Ready(); }, std::chrono::seconds(60)))
      << (*streams)->NotReadyReason();
  (*streams)->Close();
}

TEST(KafkaStreams, ARestoringTaskDoesNotHoldUpTheThreadsOtherTasks) {
  CreateTopics({"held-in", "held-out"}, 2);
  const Topology topology = Counting("held-in", "held-out", "held-counts");
  const AppConfig config = Config("held", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "held-in", 0, 1'000, 10));
  // Which keys each partition holds (the output is keyed and partitioned like the input).
  std::map<std::string, int32_t> partition_of;
  for (const Consumed& c : ReadAll("held-out", 2)) partition_of[c.key] = c.partition;
  ASSERT_EQ(partition_of.size(), 10u);
  const auto in_partition_1 = std::count_if(partition_of.begin(), partition_of.end(),
                                            [](const auto& kv) { return kv.second == 1; });
  ASSERT_TRUE(in_partition_1 > 0 && in_partition_1 < 10) << "both partitions hold keys";
  // Task 0_0 loses its state (it restores), task 0_1 keeps it (it does not). The restore hook
  // holds task 0_0's restoration - on the state updater's thread - until the test lets it go.
  std::filesystem::remove_all(std::filesystem::path(StateDir()) / "held" / "0_0");
  RestoreGate gate;
  KafkaStreamsOptions options = EmbeddedOptions();
  options.on_restore_start = gate.Hook(
      [](TaskId id, int64_t) { EXPECT_EQ(id.partition, 0) << "only task 0_0 lost its state"; });
  auto streams = KafkaStreams::Create(topology, config, options);
  ASSERT_TRUE(streams.ok());
  auto release = absl::MakeCleanup([&] { gate.Release(); });
  ASSERT_TRUE(Started(**streams));
  ASSERT_TRUE(gate.WaitStarted()) << "task 0_0 did not start restoring";
  Produce("held-in", 1'000, 2'000, 10);
  const auto counts_of = [&](int32_t partition) {
    std::set<std::string> counts;
    for (const auto& [key, count] : LastValues("held-out", 2)) {
      if (partition_of.at(key) == partition) counts.insert(count);
    }
    return counts;
  };
  // While task 0_0 is held restoring, the same thread processes task 0_1's records.
  EXPECT_TRUE(WaitFor([&] { return counts_of(1) == std::set<std::string>{"200"}; },
                      std::chrono::seconds(60)))
      << "task 0_1 waited for task 0_0's restoration";
  EXPECT_EQ(counts_of(0), std::set<std::string>{"100"}) << "task 0_0 processed before restoring";
  EXPECT_FALSE((*streams)->Ready()) << "a task is restoring";
  std::move(release).Invoke();
  EXPECT_TRUE(WaitFor([&] { return counts_of(0) == std::set<std::string>{"200"}; },
                      std::chrono::seconds(60)))
      << "task 0_0 did not continue from its restored state";
  EXPECT_TRUE(WaitFor([&] { return (*streams)->Ready(); }, std::chrono::seconds(60)));
  (*streams)->Close();
}

// Interactive queries read a task's store on its stream thread; while the task restores, the
// answer is 503 with the reason - never the partial state - and afterwards the restored one.
TEST(KafkaStreams, AQueryDuringARestoreGets503ThenTheRestoredState) {
  CreateTopics({"iq-in", "iq-out"}, 2);
  Topology topology = Counting("iq-in", "iq-out", "iq-counts");
  topology.AddQueryableStore(WindowStoreView<std::string, int64_t>(
      "counts", "iq-counts", 60'000, serdes::String(), serdes::Int64()));
  ASSERT_TRUE(topology.status().ok()) << topology.status();
  const AppConfig config = Config("iq", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "iq-in", 0, 1'000, 10));
  std::map<int32_t, std::string> key_in;  // a key of each partition
  for (const Consumed& c : ReadAll("iq-out", 2)) key_in[c.partition] = c.key;
  ASSERT_EQ(key_in.size(), 2u) << "both partitions hold keys";
  std::filesystem::remove_all(std::filesystem::path(StateDir()) / "iq" / "0_0");
  RestoreGate gate;
  KafkaStreamsOptions options = EmbeddedOptions();
  options.on_restore_start = gate.Hook();
  auto streams = KafkaStreams::Create(topology, config, options);
  ASSERT_TRUE(streams.ok());
  auto release = absl::MakeCleanup([&] { gate.Release(); });
  const QueryService service(**streams, {});
  const auto ask = [&](const std::string& key) {
    return service.Handle({.method = "POST",
                           .path = "/state/counts/windows",
                           .body = nlohmann::json{{"key", key}}.dump()});
  };
  EXPECT_EQ(ask(key_in[0]).status, 503) << "before Start()";
  ASSERT_TRUE(Started(**streams));
  ASSERT_TRUE(gate.WaitStarted()) << "task 0_0 did not start restoring";
  const auto count_in = [](const HttpReply& reply) -> int64_t {
    const nlohmann::json json = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || !json.is_object() || json["windows"].size() != 1) return -1;
    return json["windows"][0]["value"].get<int64_t>();
  };
  // Task 0_1 kept its state: it answers once its thread runs it.
  HttpReply restored;
  EXPECT_TRUE(WaitFor([&] { return count_in(restored = ask(key_in[1])) == 100; },
                      std::chrono::seconds(60)))
      << restored.status << " " << restored.body;
  const HttpReply held = ask(key_in[0]);
  EXPECT_EQ(held.status, 503) << held.body;
  EXPECT_GT(held.retry_after_s, 0);
  EXPECT_THAT(held.body, HasSubstr("task 0_0 is restoring its state"));
  EXPECT_EQ(service.Handle({.method = "POST", .path = "/state/nothing/windows", .body = "{}"})
                .status,
            404);
  EXPECT_EQ(service.Handle({.method = "POST", .path = "/state/counts/windows", .body = "{"})
                .status,
            400);
  for (const char* body : {R"({"key": "k1", "partition": "x"})", R"({"key": 5, "partition": 0})",
                           R"({"key": "k1", "partition": 0, "from": "soon"})"}) {
    EXPECT_EQ(service
                  .Handle({.method = "POST",
                           .path = "/state/counts/windows",
                           .body = body,
                           .forwarded_by = "127.0.0.1:1"})
                  .status,
              400)
        << "a forwarded body with a field of another type: " << body;
  }
  EXPECT_EQ(service.Handle({.method = "POST", .path = "/state/counts/windows",
                            .body = R"({"key": 7})"}).status,
            400);
  std::move(release).Invoke();
  EXPECT_TRUE(WaitFor([&] { return count_in(restored = ask(key_in[0])) == 100; },
                      std::chrono::seconds(60)))
      << restored.status << " " << restored.body;
  (*streams)->Close();
  EXPECT_EQ(ask(key_in[1]).status, 503) << "after Close()";
}

TEST(KafkaStreams, AChangelogThatLostWhatTheStateNeedsWipesItLoudly) {
  CreateTopics({"trunc-in", "trunc-out"}, 1);
  const Topology topology = Counting("trunc-in", "trunc-out", "trunc-counts");
  const AppConfig config = Config("trunc", 1);
  ASSERT_NO_FATAL_FAILURE(RunOnce(topology, config, "trunc-in", 0, 100, 10));
  {
    // Filler records in the changelog after the state's last commit, then the log start moved
    // beyond them: the records the local state was built from are gone. The embedded broker
    // keeps 5 MiB per partition, so 6 MiB of filler moves it; a real cluster moves it with
    // DeleteRecords, as retention would.
    const int fillers = broker != nullptr ? 60 : 3;
    KafkaHandle producer = Producer(cluster);
    const std::string filler(100 << 10, 'x');
    for (int i = 0; i < fillers; ++i) {
      ASSERT_EQ(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("trunc-trunc-counts-changelog"),
                                  RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY("filler", 6),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(filler.data()), filler.size()),
                                  RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    ASSERT_EQ(rd_kafka_flush(producer.get(), 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    if (broker == nullptr) {
      int64_t low = 0;
      int64_t high = 0;
      ASSERT_TRUE(
          QueryWatermarks(producer.get(), "trunc-trunc-counts-changelog", 0, &low, &high).ok());
      absl::StatusOr<KafkaHandle> admin = test::AdminClient(cluster);
      ASSERT_TRUE(admin.ok()) << admin.status();
      const absl::Status deleted =
          DeleteRecordsBefore(admin->get(), "trunc-trunc-counts-changelog", 0, high - 1);
      ASSERT_TRUE(deleted.ok()) << deleted;
    }
  }
  auto second = KafkaStreams::Create(topology, config, EmbeddedOptions());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(Started(**second));
  // The task exists once its restoration is over (wiped, then restored from what is left).
  ASSERT_TRUE(
      WaitFor([&] { return (*second)->threads()[0].tasks.size() == 1; }, std::chrono::seconds(60)));
  EXPECT_GE(Sum(**second, &ThreadSnapshot::restores_truncated), 1);
  EXPECT_TRUE(WaitFor([&] { return Sum(**second, &ThreadSnapshot::restores_lost_state) == 1; },
                      std::chrono::seconds(60)))
      << "no whole commit was left: the restore lost live state, and must say so";
  EXPECT_EQ(Sum(**second, &ThreadSnapshot::states_wiped), 1);
  // The filler holds no commit marker: nothing is applied, the state starts empty and input
  // resumes from the group's committed offsets.
  EXPECT_EQ(Sum(**second, &ThreadSnapshot::records_restored), 0);
  Produce("trunc-in", 100, 200, 10);
  ASSERT_TRUE(WaitFor([&] { return Processed(**second) >= 100; }, std::chrono::seconds(60)));
  EXPECT_EQ(Processed(**second), 100);
  (*second)->Close();
}

TEST(KafkaStreams, StateOfTasksNotOwnedHereIsCleanedUp) {
  CreateTopics({"cleanup-in", "cleanup-out"}, 2);
  AppConfig config = Config("cleanup", 1);
  config.state_cleanup_delay_ms = 0;
  // A task directory left by an earlier assignment: 0_7 is not among this run's tasks.
  const std::filesystem::path stale = std::filesystem::path(StateDir()) / "cleanup" / "0_7";
  std::filesystem::create_directories(stale);
  auto streams = KafkaStreams::Create(Counting("cleanup-in", "cleanup-out", "cleanup-counts"),
                                      config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE(Started(**streams));
  ASSERT_TRUE(WaitFor([&] { return (*streams)->threads()[0].tasks.size() == 2; },
                      std::chrono::seconds(60)));
  EXPECT_THAT((*streams)->CleanUpState(), ::testing::ElementsAre(stale.string()));
  EXPECT_FALSE(std::filesystem::exists(stale));
  // The owned tasks' state stays.
  EXPECT_TRUE(std::filesystem::exists(stale.parent_path() / "0_0"));
  EXPECT_TRUE(std::filesystem::exists(stale.parent_path() / "0_1"));
  (*streams)->Close();
}

TEST(KafkaStreams, GracefulShutdownCommitsSoARestartReprocessesNothing) {
  CreateTopics({"restart-in", "restart-out"}, 4);
  // Two threads, and no periodic commit: only the shutdown's commits cover the records, and
  // the first thread to leave the group must not make the other's commit fail.
  AppConfig config = Config("restart", 2);
  config.commit_interval_ms = 600'000;
  {
    auto first =
        KafkaStreams::Create(PassThrough("restart-in", "restart-out"), config, EmbeddedOptions());
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(Started(**first));
    // Threads join one by one; the embedded broker rejects every commit once a join starts,
    // so records processed before the group settles may be processed again. Not this test's
    // subject: it checks the shutdown's commits.
    ASSERT_TRUE(WaitFor([&] { return Settled(**first, 4); }, std::chrono::seconds(60)));
    Produce("restart-in", 0, 1'000);
    ASSERT_TRUE(WaitFor([&] { return Processed(**first) >= 1'000; }, std::chrono::seconds(60)));
    (*first)->Close();
  }
  auto second =
      KafkaStreams::Create(PassThrough("restart-in", "restart-out"), config, EmbeddedOptions());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(Started(**second));
  ASSERT_TRUE(WaitFor([&] { return Settled(**second, 4); }, std::chrono::seconds(60)));
  Produce("restart-in", 1'000, 2'000);
  ASSERT_TRUE(
      WaitFor([&] { return EndOffsets("restart-out", 4) >= 2'000; }, std::chrono::seconds(60)));
  (*second)->Close();
  EXPECT_EQ(Processed(**second), 1'000) << "the restart reprocessed committed records";
  std::set<std::string> values;
  for (const Consumed& c : ReadAll("restart-out", 4)) {
    EXPECT_TRUE(values.insert(c.value).second) << "duplicate " << c.value;
  }
  EXPECT_EQ(values.size(), 2'000u);
}

// A stream joined with a global table: "k<i>" -> "g<i>" for 1,000 keys, read to its end before
// any stream record is processed.
Topology GlobalJoin(const std::string& in, const std::string& global, const std::string& out) {
  StreamsBuilder builder;
  const auto s = serdes::String();
  auto table = builder.GlobalTable<std::string, std::string>(global, s, s,
                                                             Materialized<std::string>::As("g"));
  builder.Stream<std::string, std::string>(in, s, s)
      .Join(table, [](const std::string& key, const std::string&) { return key; },
            [](const std::string& v, const std::string& g) { return v + "/" + g; })
      .To(out, Produced<std::string, std::string>::With(s, s));
  absl::StatusOr<Topology> topology = builder.Build();
  EXPECT_TRUE(topology.ok()) << topology.status();
  return topology.ok() ? *std::move(topology) : Topology();
}

// The global table's size: 1,000 records on the embedded broker, 100,000 on a real cluster
// (ctest -L kafka), or WEIR_TEST_GLOBAL_RECORDS (1,000,000 for docs/benchmarks.md's bootstrap
// rate).
int GlobalTableRecords() {
  if (const char* env = std::getenv("WEIR_TEST_GLOBAL_RECORDS"); env != nullptr) {
    return std::atoi(env);
  }
  return broker == nullptr ? 100'000 : 1'000;
}

TEST(KafkaStreams, AGlobalTableIsReadWholeBeforeProcessingThenFromItsCheckpoint) {
  const int records = GlobalTableRecords();
  ASSERT_GE(records, 200);
  CreateTopics({"global-in", "global-out"}, 2);
  CreateTopics({"global-table"}, 3);
  Produce("global-table", 0, records, records);  // one key each: "k<i>" -> "<i>"
  AppConfig config = Config("global", 1);
  {
    auto first = KafkaStreams::Create(GlobalJoin("global-in", "global-table", "global-out"),
                                      config, EmbeddedOptions());
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(Started(**first));
    ASSERT_TRUE((*first)->global_thread().has_value());
    // Start() returns after the bootstrap: every key is there before the first stream record.
    const GlobalThreadStatus bootstrap = *(*first)->global_thread();
    EXPECT_TRUE(bootstrap.bootstrapped);
    EXPECT_EQ(bootstrap.bootstrap_records, records);
    std::printf("global table: %d records bootstrapped in %.2f s (%.0f records/s)\n", records,
                bootstrap.bootstrap_seconds,
                bootstrap.bootstrap_seconds > 0 ? records / bootstrap.bootstrap_seconds : 0.0);
    Produce("global-in", 0, 200, records);
    ASSERT_TRUE(
        WaitFor([&] { return EndOffsets("global-out", 2) >= 200; }, std::chrono::seconds(60)));
    // Updates after the bootstrap are applied as they come.
    Produce("global-table", records, records + 100, records + 100);
    ASSERT_TRUE(WaitFor([&] { return (*first)->global_thread()->records_applied >= records + 100; },
                        std::chrono::seconds(60)));
    // The global thread's metric families, with their figures.
    const std::string metrics = RenderMetrics(**first, nullptr);
    EXPECT_THAT(metrics, HasSubstr("weir_global_thread_bootstrap_records{client_id="));
    EXPECT_THAT(metrics, HasSubstr("weir_global_thread_records_skipped_total{"));
    EXPECT_THAT(metrics, HasSubstr("weir_global_thread_records_lag{"));
    EXPECT_THAT(metrics,
                ::testing::ContainsRegex(absl::StrCat(
                    "weir_global_thread_records_applied_total\\{[^}]*\\} ", records + 100)));
    (*first)->Close();
  }
  for (const Consumed& c : ReadAll("global-out", 2)) {
    // Key k<i> (i < 200) was joined with the table's value for k<i>: "<i>/<i>".
    EXPECT_EQ(c.value, absl::StrCat(c.key.substr(1), "/", c.key.substr(1))) << c.key;
  }
  Produce("global-table", records + 100, records + 150, records + 150);
  auto second = KafkaStreams::Create(GlobalJoin("global-in", "global-table", "global-out"),
                                     config, EmbeddedOptions());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(Started(**second));
  // From the checkpoint: only what was produced while the instance was down.
  EXPECT_EQ((*second)->global_thread()->bootstrap_records, 50);
  std::printf("global table: the restart read %lld records since its checkpoint\n",
              static_cast<long long>((*second)->global_thread()->bootstrap_records));
  (*second)->Close();
}

TEST(KafkaStreams, JoinedTopicsOfDifferentPartitionCountsAreRefusedNamingBoth) {
  CreateTopics({"copart-stream"}, 2);
  CreateTopics({"copart-table"}, 3);
  StreamsBuilder builder;
  const auto s = serdes::String();
  builder.Stream<std::string, std::string>("copart-stream", s, s)
      .Join(builder.Table<std::string, std::string>("copart-table", s, s),
            [](const std::string& v, const std::string& t) { return v + t; })
      .To("copart-out", Produced<std::string, std::string>::With(s, s));
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();
  auto streams = KafkaStreams::Create(*topology, Config("copart", 1), EmbeddedOptions());
  ASSERT_TRUE(streams.ok()) << streams.status();
  const absl::Status started = (*streams)->Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition) << started;
  EXPECT_THAT(started.message(), HasSubstr("'copart-stream' (2 partitions)"));
  EXPECT_THAT(started.message(), HasSubstr("'copart-table' (3 partitions)"));
  (*streams)->Close();
}

TEST(KafkaStreams, ASecondInstanceJoinsAndLeavesWithoutLosingRecords) {
  CreateTopics({"scale-in", "scale-out"}, 4);
  auto first = KafkaStreams::Create(PassThrough("scale-in", "scale-out"), Config("scale", 1),
                                    EmbeddedOptions());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Started(**first));
  Produce("scale-in", 0, 5'000);
  ASSERT_TRUE(WaitFor([&] { return Processed(**first) >= 5'000; }, std::chrono::seconds(60)));

  auto second = KafkaStreams::Create(PassThrough("scale-in", "scale-out"), Config("scale", 1),
                                     EmbeddedOptions());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(Started(**second));
  // Wait for the rebalance to give the newcomer partitions, producing meanwhile.
  int produced = 5'000;
  ASSERT_TRUE(WaitFor(
      [&] {
        Produce("scale-in", produced, produced + 500);
        produced += 500;
        return !(*second)->threads()[0].tasks.empty();
      },
      std::chrono::seconds(60)));
  EXPECT_EQ((*first)->threads()[0].tasks.size() + (*second)->threads()[0].tasks.size(), 4u);
  std::set<int32_t> moved;  // partitions the newcomer took over
  const std::vector<ThreadSnapshot> newcomer = (*second)->threads();
  for (TaskId id : newcomer[0].tasks) moved.insert(id.partition);
  Produce("scale-in", produced, produced + 2'000);
  produced += 2'000;
  (*second)->Close();  // leaves: its partitions go back to the first instance
  Produce("scale-in", produced, produced + 2'000);
  produced += 2'000;
  ASSERT_TRUE(
      WaitFor([&] { return (*first)->threads()[0].tasks.size() == 4; }, std::chrono::seconds(60)));
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<std::string> values;
        for (const Consumed& c : ReadAll("scale-out", 4)) values.insert(c.value);
        return values.size() == static_cast<size_t>(produced);
      },
      std::chrono::seconds(60)))
      << "records were lost across the rebalances";
  (*first)->Close();
  // The embedded broker rejected the first instance's commits once the newcomer began to join
  // and once it left. Partitions that never moved resume where the first instance was, so only
  // those that moved may repeat records (at-least-once). Same key, same partition in and out.
  std::set<std::string> values;
  for (const Consumed& c : ReadAll("scale-out", 4)) {
    if (!values.insert(c.value).second) {
      EXPECT_TRUE(moved.contains(c.partition))
          << "record " << c.value << " repeated on partition " << c.partition
          << ", which stayed with the first instance";
    }
  }
}

// A third instance joins two while records flow (so commits are in flight during its join).
// `cooperative-sticky` should move only the third's share (4 of 12 tasks) and keep every other
// task open where it was; `range` recomputes contiguous blocks and moves more. librdkafka 2.0.2
// declares a member's whole assignment lost when a commit is answered ILLEGAL_GENERATION after
// its own JoinGroup (docs/engine.md): that shows as tasks closed and created again on the
// members that kept them. Records are never lost either way. The figures are printed for
// docs/kafka.md.
class Stickiness : public ::testing::TestWithParam<const char*> {};

TEST_P(Stickiness, AThirdInstanceJoiningTwoMovesOnlyWhatItTakes) {
  const std::string strategy = GetParam();
  const std::string in = absl::StrCat("sticky-", strategy, "-in");
  const std::string out = absl::StrCat("sticky-", strategy, "-out");
  CreateTopics({in, out}, 12);
  const Topology topology = PassThrough(in, out);
  std::vector<std::unique_ptr<KafkaStreams>> instances;
  auto start = [&](int i) {
    AppConfig config = Config(absl::StrCat("sticky-", strategy), 1);
    config.state_dir = (std::filesystem::path(StateDir()) / absl::StrCat("sticky-", i)).string();
    config.consumer["partition.assignment.strategy"] = strategy;
    config.commit_interval_ms = 100;
    auto streams = KafkaStreams::Create(topology, config, EmbeddedOptions());
    ASSERT_TRUE(streams.ok()) << streams.status();
    ASSERT_TRUE(Started(**streams));
    instances.push_back(*std::move(streams));
  };
  // Each instance's tasks, once the group has settled with `each` tasks per instance: the
  // tasks stay where they are while every instance commits twice more. Records flow, so each
  // commit carries offsets, and a commit with offsets succeeds only in the group's current
  // generation: a rebalance still finishing (which may yet declare an assignment lost) is
  // waited out, not mistaken for the settled group.
  auto settled = [&](size_t each) {
    std::vector<std::set<TaskId>> owned;
    std::vector<int64_t> commits_then;
    const bool ok = WaitFor(
        [&] {
          std::vector<std::set<TaskId>> now;
          std::vector<int64_t> commits;
          for (const auto& streams : instances) {
            const ThreadSnapshot t = streams->threads()[0];
            if (t.tasks.size() != each) {
              owned.clear();
              return false;
            }
            now.emplace_back(t.tasks.begin(), t.tasks.end());
            commits.push_back(t.commits);
          }
          if (now != owned) {
            owned = std::move(now);
            commits_then = std::move(commits);
            return false;
          }
          for (size_t i = 0; i < commits.size(); ++i) {
            if (commits[i] < commits_then[i] + 2) return false;
          }
          return true;
        },
        std::chrono::seconds(90));
    EXPECT_TRUE(ok) << "the group did not settle at " << each << " tasks per instance";
    return owned;
  };
  auto created = [&](int i) { return instances[i]->threads()[0].tasks_created; };
  std::atomic<bool> stop{false};
  std::atomic<int> produced{0};
  std::thread producer([&] {
    while (!stop) {  // batches of 200 until the group has settled with three
      const int from = produced.load();
      Produce(in, from, from + 200);
      produced = from + 200;
    }
  });
  absl::Cleanup stop_producer = [&] {  // on every return, a failed assertion's included
    stop = true;
    producer.join();
  };
  auto lost = [&] {
    int64_t total = 0;
    for (const auto& streams : instances) total += streams->threads()[0].assignments_lost;
    return total;
  };
  start(0);
  start(1);
  ASSERT_FALSE(HasFatalFailure());
  // librdkafka 2.0.2 cannot be kept from one case: a commit issued in the instant between its
  // learning of the rebalance from a heartbeat and its JoinGroup leaving goes out behind the
  // JoinGroup, is refused for its generation, and librdkafka declares the assignment lost
  // (engine/runtime/rebalance_watch.h). A join where that happened says nothing about the
  // assignor: the third instance leaves and joins again, up to three times in all.
  std::vector<std::set<TaskId>> before;
  std::vector<std::set<TaskId>> after;
  int64_t created_before = 0;
  for (int attempt = 1;; ++attempt) {
    before = settled(6);
    ASSERT_EQ(before.size(), 2u);
    created_before = created(0) + created(1);
    const int64_t lost_before = lost();
    start(2);
    ASSERT_FALSE(HasFatalFailure());
    after = settled(4);
    if (lost() == lost_before || attempt == 3) break;
    std::printf("%s: attempt %d: an assignment was lost to librdkafka's commit race; the third "
                "instance leaves and joins again\n",
                strategy.c_str(), attempt);
    instances.back()->Close();
    instances.pop_back();
  }
  // Every member commits again once the rebalance is over (none is left holding its commits).
  std::vector<int64_t> commits_settled;
  for (const auto& streams : instances) commits_settled.push_back(streams->threads()[0].commits);
  EXPECT_TRUE(WaitFor(
      [&] {
        for (size_t i = 0; i < instances.size(); ++i) {
          if (instances[i]->threads()[0].commits <= commits_settled[i]) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << "a member stopped committing after the rebalance";
  std::move(stop_producer).Invoke();
  ASSERT_EQ(after.size(), 3u);
  int kept = 0;
  for (int i = 0; i < 2; ++i) {
    for (TaskId id : after[i]) kept += before[i].contains(id);
  }
  const int moved = 12 - kept;
  const int64_t recreated = created(0) + created(1) - created_before;
  std::printf("%s: a third instance joined two: %d of 12 tasks moved; %lld tasks closed and "
              "created again on the two that were there\n",
              strategy.c_str(), moved, static_cast<long long>(recreated));
  RecordProperty("moved", moved);
  RecordProperty("recreated", static_cast<int>(recreated));
  // Nothing lost meanwhile (duplicates are at-least-once's).
  std::set<std::string> values;
  EXPECT_TRUE(WaitFor(
      [&] {
        values.clear();
        for (const Consumed& c : ReadAll(out, 12)) values.insert(c.value);
        return values.size() == static_cast<size_t>(produced.load());
      },
      std::chrono::seconds(60)))
      << values.size() << " of " << produced.load() << " records reached " << out;
  for (auto& streams : instances) streams->Close();
  EXPECT_GE(moved, 4) << "the newcomer took its share";
  // Without RebalanceWatch, librdkafka before 2.10.0 (its #4908) declared the assignment lost
  // and 5 to 9 tasks moved, 7 to 15 were recreated (docs/kafka.md).
  if (strategy == "cooperative-sticky") {
    EXPECT_EQ(moved, 4) << "only the newcomer's share should move";
    EXPECT_EQ(recreated, 0) << "tasks that stayed were closed and opened again";
  }
}

INSTANTIATE_TEST_SUITE_P(Assignors, Stickiness,
                         ::testing::Values("range", "cooperative-sticky"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

TEST(KafkaStreams, ANonRangeAssignorIsRefusedForCoPartitionedTopics) {
  CreateTopics({"copart-a", "copart-b", "copart-out"}, 2);
  StreamsBuilder builder;
  auto a = builder.Stream<std::string, std::string>("copart-a", serdes::String(), serdes::String());
  auto b = builder.Stream<std::string, std::string>("copart-b", serdes::String(), serdes::String());
  a.Merge(b).To("copart-out");
  AppConfig config = Config("copart", 1);
  config.consumer["partition.assignment.strategy"] = "cooperative-sticky";
  auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  const absl::Status status = (*streams)->Start();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.ToString(),
              HasSubstr("sub-topology 0 reads copart-a and copart-b; use range"));
}

// static.membership: the instance id lives in the state directory, so the same directory
// joins as the same group members after a restart, and processing works as with dynamic ones.
TEST(KafkaStreams, StaticMembershipKeepsOneInstanceIdPerStateDirectory) {
  CreateTopics({"static-in", "static-out"}, 2);
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("static-in", serdes::String(), serdes::String())
      .To("static-out");
  AppConfig config = Config("static", 1);
  config.static_membership = true;
  const std::filesystem::path id_file =
      std::filesystem::path(config.state_dir) / "static" / "instance.id";
  std::string first_id;
  for (int run = 0; run < 2; ++run) {
    auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
    ASSERT_TRUE(streams.ok());
    ASSERT_TRUE(Started(**streams));
    std::string id;
    std::ifstream(id_file) >> id;
    EXPECT_THAT(id, ::testing::MatchesRegex("[0-9a-f]{8}"));
    if (run == 0) first_id = id;
    EXPECT_EQ(id, first_id) << "run " << run;
    Produce("static-in", 0, 3);
    ASSERT_TRUE(WaitFor([&] { return EndOffsets("static-out", 2) == 3 * (run + 1); },
                        std::chrono::seconds(60)));
    (*streams)->Close();
  }
}

TEST(KafkaStreams, UndeserializableRecordsGoToTheDeadLetterTopicWithErrorHeaders) {
  CreateTopics({"numbers-in", "numbers-out", "numbers-dlq"}, 1);
  StreamsBuilder builder;
  builder.Stream<std::string, int64_t>("numbers-in", serdes::String(), serdes::Int64())
      .To("numbers-out");
  AppConfig config = Config("numbers", 1);
  config.dead_letter_queue_topic = "numbers-dlq";
  auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE(Started(**streams));
  Produce("numbers-in", 0, 3);  // values "0", "1", "2": not 8-byte integers
  ASSERT_TRUE(WaitFor([&] { return EndOffsets("numbers-dlq", 1) == 3; }, std::chrono::seconds(60)));
  (*streams)->Close();
  EXPECT_EQ((*streams)->threads()[0].deserialization_errors, 3);
  EXPECT_EQ((*streams)->threads()[0].dead_letters, 3);
  std::vector<Consumed> dead = ReadAll("numbers-dlq", 1);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[1].value, "1");
  EXPECT_THAT(dead[1].headers, ::testing::Contains(Header{"__streams.errors.topic", "numbers-in"}));
  EXPECT_THAT(dead[1].headers, ::testing::Contains(Header{"__streams.errors.offset", "1"}));
  EXPECT_THAT(dead[1].headers,
              ::testing::Contains(::testing::Field(&Header::key, "__streams.errors.message")));
}

// Keyed records in another partition than murmur2 of their key gives (a producer with another
// partitioner): counted on their task; `misplaced.records: process` processes them where they
// are, `dead-letter` sends them to the dead-letter topic as MisplacedKey.
TEST(KafkaStreams, RecordsInTheWrongPartitionAreCountedThenProcessedOrDeadLettered) {
  CreateTopics({"placed-in", "placed-out", "placed-dlq"}, 2);
  {
    KafkaHandle producer = Producer(cluster);
    for (int i = 0; i < 5; ++i) {
      const std::string key = absl::StrCat("card-", i);
      const int32_t wrong = 1 - PartitionForKey(key, 2);
      ASSERT_EQ(rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("placed-in"),
                                  RD_KAFKA_V_PARTITION(wrong),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    ASSERT_EQ(rd_kafka_flush(producer.get(), 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  Produce("placed-in", 0, 20, 20);  // murmur2: in place
  const auto misplaced = [](const KafkaStreams& streams) {
    int64_t total = 0;
    for (const ThreadSnapshot& thread : streams.threads()) {
      for (const TaskMetrics& task : thread.metrics.tasks) total += task.misplaced_records;
    }
    return total;
  };
  const Topology topology = PassThrough("placed-in", "placed-out");
  for (const MisplacedRecords policy : {MisplacedRecords::kProcess, MisplacedRecords::kDeadLetter}) {
    const bool dead_letter = policy == MisplacedRecords::kDeadLetter;
    SCOPED_TRACE(dead_letter ? "dead-letter" : "process");
    AppConfig config = Config(dead_letter ? "placed-dl" : "placed", 1);
    config.misplaced_records = policy;
    config.dead_letter_queue_topic = "placed-dlq";
    auto streams = KafkaStreams::Create(topology, config, EmbeddedOptions());
    ASSERT_TRUE(streams.ok()) << streams.status();
    ASSERT_TRUE(Started(**streams));
    ASSERT_TRUE(WaitFor([&] { return Processed(**streams) == 25 && misplaced(**streams) == 5; },
                        std::chrono::seconds(60)))
        << Processed(**streams) << " processed, " << misplaced(**streams) << " misplaced";
    (*streams)->Close();
  }
  // `process` forwarded all 25, `dead-letter` the 20 in place.
  EXPECT_EQ(ReadAll("placed-out", 2).size(), 45u);
  const std::vector<Consumed> dead = ReadAll("placed-dlq", 2);
  ASSERT_EQ(dead.size(), 5u);
  for (const Consumed& record : dead) {
    EXPECT_THAT(record.key, ::testing::StartsWith("card-"));
    EXPECT_NE(record.partition, -1);
    EXPECT_THAT(record.headers,
                ::testing::Contains(Header{"__streams.errors.exception", "MisplacedKey"}));
    EXPECT_THAT(record.headers, ::testing::Contains(Header{"__streams.errors.topic", "placed-in"}));
  }
}

// A record the producer refuses (here: larger than its message.max.bytes) follows
// default.production.exception.handler whichever sink made it: `continue` counts it and goes
// on, `fail` stops the thread naming the topic.
TEST(KafkaStreams, TheProductionExceptionHandlerGovernsRecordsTheProducerRefuses) {
  CreateTopics({"huge-in", "huge-out"}, 1);
  StreamsBuilder builder;
  builder.Stream<std::string, std::string>("huge-in", serdes::String(), serdes::String())
      .MapValues([](const std::string& v) { return std::string(5'000, v.empty() ? 'x' : v[0]); })
      .To("huge-out");
  for (const std::string handler : {"continue", "fail"}) {
    AppConfig config = Config("huge-" + handler, 1);
    config.production_exception_handler =
        handler == "continue" ? ProductionHandler::kContinue : ProductionHandler::kFail;
    config.producer["message.max.bytes"] = "1000";
    auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
    ASSERT_TRUE(streams.ok());
    ASSERT_TRUE(Started(**streams));
    if (handler == "continue") Produce("huge-in", 0, 3);
    absl::Status status;
    if (handler == "continue") {
      ASSERT_TRUE(WaitFor([&] { return (*streams)->threads()[0].production_errors == 3; },
                          std::chrono::seconds(60)));
      EXPECT_TRUE((*streams)->CheckThreads().ok());
      EXPECT_EQ((*streams)->threads()[0].processed, 3);
    } else {
      Produce("huge-in", 3, 4);
      ASSERT_TRUE(WaitFor([&] { return !(status = (*streams)->CheckThreads()).ok(); },
                          std::chrono::seconds(60)));
      EXPECT_THAT(status.ToString(), HasSubstr("producing to huge-out"));
    }
    (*streams)->Close();
  }
}

TEST(KafkaStreams, LogAndFailKillsTheThreadAndTheClientShutsDown) {
  CreateTopics({"fail-in", "fail-out"}, 1);
  StreamsBuilder builder;
  builder.Stream<std::string, int64_t>("fail-in", serdes::String(), serdes::Int64()).To("fail-out");
  AppConfig config = Config("fail", 1);
  config.deserialization_exception_handler = DeserializationHandler::kLogAndFail;
  auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE(Started(**streams));
  Produce("fail-in", 0, 1);
  absl::Status status;
  ASSERT_TRUE(WaitFor([&] { return !(status = (*streams)->CheckThreads()).ok(); },
                      std::chrono::seconds(60)));
  EXPECT_THAT(status.ToString(), HasSubstr("cannot deserialize record fail-in-0@0"));
  EXPECT_THAT(status.ToString(), HasSubstr("stream.thread.error.policy: shutdown_client"));
  EXPECT_FALSE((*streams)->Healthy()) << "/healthz must turn 503 when a thread dies";
  EXPECT_EQ((*streams)->state(), KafkaStreams::State::kError);
  EXPECT_EQ((*streams)->failed_threads(), 1);
  (*streams)->Close();
}

TEST(KafkaStreams, ReplaceThreadPolicyStartsANewThread) {
  CreateTopics({"replace-in", "replace-out"}, 1);
  StreamsBuilder builder;
  builder.Stream<std::string, int64_t>("replace-in", serdes::String(), serdes::Int64())
      .To("replace-out");
  AppConfig config = Config("replace", 1);
  config.deserialization_exception_handler = DeserializationHandler::kLogAndFail;
  config.thread_error_policy = ThreadErrorPolicy::kReplaceThread;
  auto streams = KafkaStreams::Create(*builder.Build(), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE(Started(**streams));
  const std::string first_name = (*streams)->threads()[0].name;
  Produce("replace-in", 0, 1);
  ASSERT_TRUE(WaitFor(
      [&] {
        EXPECT_TRUE((*streams)->CheckThreads().ok());
        return (*streams)->threads()[0].name != first_name;
      },
      std::chrono::seconds(60)));
  EXPECT_THAT((*streams)->threads()[0].name, ::testing::EndsWith("-StreamThread-2"));
  (*streams)->Close();
}

TEST(KafkaStreams, ExactlyOnceRunsTheTransactionalProtocol) {
  // The embedded broker runs the transaction protocol but cannot prove exactly-once
  // (docs/broker.md): this checks the flow commits and delivers, nothing more.
  CreateTopics({"eos-in", "eos-out"}, 2);
  AppConfig config = Config("eos", 1);
  config.processing_guarantee = ProcessingGuarantee::kExactlyOnceV2;
  auto streams = KafkaStreams::Create(PassThrough("eos-in", "eos-out"), config, EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  ASSERT_TRUE(Started(**streams));
  Produce("eos-in", 0, 1'000);
  ASSERT_TRUE(WaitFor([&] { return EndOffsets("eos-out", 2) >= 1'000; }, std::chrono::seconds(60)));
  ASSERT_TRUE(
      WaitFor([&] { return (*streams)->threads()[0].commits > 0; }, std::chrono::seconds(60)));
  EXPECT_TRUE((*streams)->CheckThreads().ok());
  (*streams)->Close();
  EXPECT_EQ((*streams)->threads()[0].state, ThreadState::kStopped);
}

// An existing internal topic whose partition count is not the input's would put a task's state
// on another task's partition: the start is refused, naming the topic, as in Kafka Streams.
TEST(KafkaStreams, AnInternalTopicWithAnotherPartitionCountIsRefusedNamingIt) {
  CreateTopics({"mismatch-in", "mismatch-out"}, 4);
  CreateTopics({"mismatch-counts-changelog"}, 2);
  auto streams = KafkaStreams::Create(Counting("mismatch-in", "mismatch-out", "counts"),
                                      Config("mismatch", 1), EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  const absl::Status status = (*streams)->Start();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("internal topic 'mismatch-counts-changelog' has 2 "
                                          "partitions but this application needs 4"));
}

TEST(KafkaStreams, MissingInputTopicIsNamed) {
  auto streams = KafkaStreams::Create(PassThrough("no-such-topic", "x"), Config("missing", 1),
                                      EmbeddedOptions());
  ASSERT_TRUE(streams.ok());
  const absl::Status status = (*streams)->Start();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(status.ToString(), HasSubstr("input topic 'no-such-topic' does not exist"));
}

}  // namespace
}  // namespace weir
