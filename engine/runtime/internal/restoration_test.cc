// Restoration on real tasks. The changelog applier without Kafka: a writer task's commits go to
// an in-memory collector, whose changelog records are then fed to a fresh task in the orders a
// reader may see them; only whole commits - those every store's changelog holds up to their
// marker - may reach the state, and the marker's offsets and sequence number come with them.
// The state updater with the embedded broker, in process: a stream thread's hand-over (Restore,
// the wake, TakeRestored) and taking a task back unfinished (Cancel).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/subprocess.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/processor/topic_name.h"
#include "engine/processor/topology.h"
#include "engine/runtime/internal/changelog_reader.h"
#include "engine/runtime/internal/state_updater.h"
#include "stores/key_value_store.h"

namespace weir::internal {
namespace {

using Str = std::string;
constexpr char kApp[] = "app";

// Writes each record's value under its key into both stores.
class WriteBoth : public Processor<Str, Str, Str, Str> {
 public:
  void Init(ProcessorContext<Str, Str>& context) override {
    a_ = context.GetStateStore<KeyValueBytesStore>("a");
    b_ = context.GetStateStore<KeyValueBytesStore>("b");
  }
  void Process(const Record<Str, Str>& record) override {
    a_->Put(record.key, record.value);
    b_->Put(record.key, record.value + "!");
  }

 private:
  KeyValueBytesStore* a_ = nullptr;
  KeyValueBytesStore* b_ = nullptr;
};

Topology TwoStores() {
  Topology topology;
  topology.AddSource<Str, Str>("in", {"input"}, serdes::String(), serdes::String())
      .AddProcessor<Str, Str, Str, Str>("write", [] { return std::make_unique<WriteBoth>(); },
                                        {"in"})
      .AddKeyValueStore("a", {"write"})
      .AddKeyValueStore("b", {"write"});
  EXPECT_TRUE(topology.status().ok()) << topology.status();
  return topology;
}

// Keeps what a task sends, as Kafka would: per topic, in order, every record delivered.
class MemoryCollector : public RecordCollector {
 public:
  struct Sent {
    RawRecord record;
    int64_t offset = 0;
  };
  void Send(const std::string& topic, RawRecord record) override {
    SendToPartition(topic, 0, std::move(record));
  }
  const int64_t* SendToPartition(const std::string& topic, int32_t, RawRecord record) override {
    std::vector<Sent>& log = topics_[topic];
    log.push_back({std::move(record), static_cast<int64_t>(log.size())});
    ends_[topic] = static_cast<int64_t>(log.size());
    return &ends_[topic];
  }
  const std::vector<Sent>& log(const std::string& topic) { return topics_[topic]; }

 private:
  std::map<std::string, std::vector<Sent>> topics_;
  std::map<std::string, int64_t> ends_;  // stable addresses: the slots the task reads
};

class ChangelogApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::path(::testing::TempDir()) /
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<Task> NewTask(const std::string& dir, RecordCollector* collector) {
    absl::StatusOr<std::unique_ptr<TaskDb>> db = TaskDb::Open((root_ / dir).string(), {});
    EXPECT_TRUE(db.ok()) << db.status();
    absl::StatusOr<std::unique_ptr<Task>> task = Task::Create(
        topology_, topology_.Subtopologies()[0], {0, 0}, kApp, [] { return 0; }, collector,
        *std::move(db));
    EXPECT_TRUE(task.ok()) << task.status();
    return *std::move(task);
  }

  // The writer processes `records` (key=value), then commits with input offset `offset`.
  void WriteAndCommit(Task& writer, const std::map<Str, Str>& records, int64_t offset) {
    for (const auto& [key, value] : records) {
      ASSERT_TRUE(writer
                      .Process({.key = key, .value = value, .timestamp = offset},
                               {.topic = "input", .partition = 0, .offset = offset}, 0)
                      .ok());
    }
    const TaskDb::Offsets offsets = {{{"input", 0}, offset + 1}};
    writer.PrepareCommit(offsets);
    writer.SealCommit();
    ASSERT_TRUE(writer.Commit(offsets).ok());
  }

  // Feeds `store`'s changelog records [from, to) to `applier`.
  void Feed(ChangelogApplier& applier, const std::string& store, size_t from, size_t to) {
    const std::vector<MemoryCollector::Sent>& log = collector_.log(ChangelogTopic(kApp, store));
    ASSERT_LE(to, log.size());
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE(applier.Add(store, log[i].record, log[i].offset).ok());
    }
  }

  static std::optional<Str> Get(Task& task, const std::string& store, const Str& key) {
    auto* kv = static_cast<KeyValueBytesStore*>(task.store(store));
    std::optional<absl::string_view> value = kv->Get(key);
    return value ? std::optional<Str>(Str(*value)) : std::nullopt;
  }

  std::filesystem::path root_;
  const Topology topology_ = TwoStores();
  MemoryCollector collector_;
};

TEST_F(ChangelogApplierTest, AppliesACommitOnlyOnceEveryStoresChangelogHoldsItsMarker) {
  std::unique_ptr<Task> writer = NewTask("writer", &collector_);
  WriteAndCommit(*writer, {{"k1", "one"}}, 10);                 // commit 1
  WriteAndCommit(*writer, {{"k1", "uno"}, {"k2", "two"}}, 11);  // commit 2
  // Each changelog: k1, marker 1, k1, k2, marker 2.
  ASSERT_EQ(collector_.log(ChangelogTopic(kApp, "a")).size(), 5u);
  ASSERT_EQ(collector_.log(ChangelogTopic(kApp, "b")).size(), 5u);

  std::unique_ptr<Task> restored = NewTask("restored", nullptr);
  ChangelogApplier applier(*restored);
  Feed(applier, "a", 0, 5);  // all of a's
  Feed(applier, "b", 0, 4);  // b's second marker not read yet
  absl::StatusOr<int64_t> applied = applier.Apply(/*batch_records=*/100);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2) << "commit 1 only, in both stores";
  EXPECT_EQ(restored->commit_seq(), 1);
  EXPECT_EQ(Get(*restored, "a", "k1"), "one");
  EXPECT_EQ(Get(*restored, "b", "k1"), "one!");
  EXPECT_EQ(Get(*restored, "a", "k2"), std::nullopt) << "commit 2 is not whole yet";
  EXPECT_EQ(applier.buffered(), 4) << "commit 2's records wait in both logs";
  EXPECT_EQ((restored->StoredOffsets()), (TaskDb::Offsets{{{"input", 0}, 11}}))
      << "the state takes the input offsets of the marker it reached";
  EXPECT_EQ(restored->ChangelogOffset("a"), 2) << "after commit 1's marker";

  Feed(applier, "b", 4, 5);
  applied = applier.Apply(100);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 4);
  EXPECT_EQ(restored->commit_seq(), 2);
  EXPECT_EQ(Get(*restored, "a", "k1"), "uno");
  EXPECT_EQ(Get(*restored, "b", "k2"), "two!");
  EXPECT_EQ(applier.buffered(), 0);
  EXPECT_EQ((restored->StoredOffsets()), (TaskDb::Offsets{{{"input", 0}, 12}}));
  EXPECT_EQ(restored->ChangelogOffset("b"), 5);
}

TEST_F(ChangelogApplierTest, RecordsAfterTheLastMarkerAreNeverApplied) {
  std::unique_ptr<Task> writer = NewTask("writer", &collector_);
  WriteAndCommit(*writer, {{"k1", "one"}}, 10);
  WriteAndCommit(*writer, {{"k1", "uno"}}, 11);
  std::unique_ptr<Task> restored = NewTask("restored", nullptr);
  ChangelogApplier applier(*restored);
  // Both changelogs up to commit 2's data, without its markers: a crash between the data and
  // the markers leaves a changelog just so.
  Feed(applier, "a", 0, 3);
  Feed(applier, "b", 0, 3);
  ASSERT_TRUE(applier.Apply(100).ok());
  EXPECT_EQ(Get(*restored, "a", "k1"), "one");
  EXPECT_EQ(Get(*restored, "b", "k1"), "one!");
  EXPECT_EQ(applier.buffered(), 2);
  EXPECT_EQ(restored->commit_seq(), 1);
}

TEST_F(ChangelogApplierTest, WritesInBatchesAndReportsEachWrite) {
  std::unique_ptr<Task> writer = NewTask("writer", &collector_);
  for (int64_t i = 0; i < 5; ++i) WriteAndCommit(*writer, {{absl::StrCat("k", i), "v"}}, i);
  std::unique_ptr<Task> restored = NewTask("restored", nullptr);
  ChangelogApplier applier(*restored);
  Feed(applier, "a", 0, 10);
  Feed(applier, "b", 0, 10);
  std::vector<int64_t> writes;
  absl::StatusOr<int64_t> applied =
      applier.Apply(/*batch_records=*/4, [&](int64_t records) { writes.push_back(records); });
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 10);
  EXPECT_THAT(writes, ::testing::ElementsAre(4, 4, 2)) << "every 4 records, and after the last";
  EXPECT_EQ(restored->commit_seq(), 5);
}

// A member paused past its session timeout (the zombie) wakes and commits after the group gave
// its task to a new owner, which restored the zombie's last commit and numbered its own commits
// on from it. Both write the same changelogs.
class ReplacedWriterTest : public ChangelogApplierTest {
 protected:
  void SetUp() override {
    ChangelogApplierTest::SetUp();
    zombie_ = NewTask("zombie", &collector_);
    WriteAndCommit(*zombie_, {{"k1", "one"}}, 10);  // logs 0-1
    owner_ = NewTask("owner", &collector_);
    ChangelogApplier restore(*owner_);
    Feed(restore, "a", 0, 2);
    Feed(restore, "b", 0, 2);
    ASSERT_TRUE(restore.Apply(100).ok());
    WriteAndCommit(*owner_, {{"k1", "uno"}, {"k2", "two"}}, 11);  // logs 2-4, commit 2
    WriteAndCommit(*zombie_, {{"k1", "zombie"}, {"k3", "z"}}, 11);  // logs 5-7, commit 2
    WriteAndCommit(*owner_, {{"k2", "deux"}}, 12);                  // logs 8-9, commit 3
    ASSERT_GT(owner_->commit_epoch(), zombie_->commit_epoch());
  }

  // Feeds both stores' changelog records at `indices`, in that order, to a fresh task's
  // applier and applies them.
  std::unique_ptr<Task> Restore(const std::vector<size_t>& indices, int64_t* stale) {
    std::unique_ptr<Task> restored = NewTask("restored", nullptr);
    ChangelogApplier applier(*restored);
    for (const char* store : {"a", "b"}) {
      for (size_t i : indices) Feed(applier, store, i, i + 1);
    }
    absl::StatusOr<int64_t> applied = applier.Apply(100);
    EXPECT_TRUE(applied.ok()) << applied.status();
    *stale = applier.stale();
    return restored;
  }

  std::unique_ptr<Task> zombie_;
  std::unique_ptr<Task> owner_;
};

TEST_F(ReplacedWriterTest, ItsRecordsAmongTheNewOwnersAreDropped) {
  int64_t stale = 0;
  // The zombie's commit lands in the middle of the owner's first one.
  std::unique_ptr<Task> restored = Restore({0, 1, 2, 5, 6, 7, 3, 4, 8, 9}, &stale);
  EXPECT_EQ(Get(*restored, "a", "k1"), "uno") << "not the zombie's value";
  EXPECT_EQ(Get(*restored, "b", "k2"), "deux!");
  EXPECT_EQ(Get(*restored, "a", "k3"), std::nullopt) << "a key only the zombie wrote";
  EXPECT_EQ(stale, 6) << "the zombie's two records and marker, in each of two changelogs";
  EXPECT_EQ(restored->commit_seq(), 3);
  EXPECT_EQ(restored->commit_epoch(), owner_->commit_epoch());
  EXPECT_EQ((restored->StoredOffsets()), (TaskDb::Offsets{{{"input", 0}, 13}}));
}

TEST_F(ReplacedWriterTest, ItsCommitBeforeTheNewOwnersFirstIsOverwrittenNotMistakenForIt) {
  int64_t stale = 0;
  // The zombie wrote before the owner's first commit: the same sequence number comes twice,
  // and the owner's, in a higher epoch, must not be taken for one already applied.
  std::unique_ptr<Task> restored = Restore({0, 1, 5, 6, 7, 2, 3, 4, 8, 9}, &stale);
  EXPECT_EQ(Get(*restored, "a", "k1"), "uno");
  EXPECT_EQ(Get(*restored, "a", "k2"), "deux");
  EXPECT_EQ(stale, 0) << "nothing of a higher epoch was read before the zombie's records";
  EXPECT_EQ(restored->commit_seq(), 3);
  EXPECT_EQ(restored->commit_epoch(), owner_->commit_epoch());
}

TEST_F(ReplacedWriterTest, TheEpochSurvivesAReopen) {
  const int64_t epoch = owner_->commit_epoch();
  owner_.reset();
  std::unique_ptr<Task> reopened = NewTask("owner", nullptr);
  EXPECT_EQ(reopened->commit_epoch(), epoch);
  EXPECT_EQ(reopened->commit_seq(), 3);
}

TEST_F(ChangelogApplierTest, AMarkerThatIsNotOneIsDataLoss) {
  std::unique_ptr<Task> restored = NewTask("restored", nullptr);
  ChangelogApplier applier(*restored);
  const absl::Status status =
      applier.Add("a", {.key = std::string(ChangelogMarker::kKey), .value = "garbage"}, 0);
  EXPECT_TRUE(absl::IsDataLoss(status)) << status;
  EXPECT_FALSE(applier.Add("nope", {.key = "k", .value = "v"}, 0).ok()) << "no such store";
}

// The state updater over the embedded broker, holding the changelogs a writer task made.
class StateUpdaterTest : public ChangelogApplierTest {
 protected:
  void SetUp() override {
    ChangelogApplierTest::SetUp();
    absl::StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    config_.application_id = kApp;
    config_.bootstrap_servers = broker_->bootstrap_servers();
    absl::StatusOr<std::unique_ptr<StateUpdater>> updater = StateUpdater::Create(
        config_, std::make_shared<const Topology>(TwoStores()),
        {.open_task_db = [](TaskId) { return absl::UnimplementedError("no standbys here"); },
         .wall_clock = [] { return int64_t{0}; }});
    ASSERT_TRUE(updater.ok()) << updater.status();
    updater_ = *std::move(updater);
    updater_->Start();
  }
  void TearDown() override {
    updater_->Stop();
    ChangelogApplierTest::TearDown();
  }

  // Writes `commits` commits of `keys` keys each through a writer task, and produces its
  // changelogs to the broker.
  void WriteChangelogs(int commits, int keys) {
    std::unique_ptr<Task> writer = NewTask("writer", &collector_);
    for (int c = 0; c < commits; ++c) {
      std::map<Str, Str> records;
      for (int k = 0; k < keys; ++k) records[absl::StrCat("k", k)] = absl::StrCat("v", c);
      WriteAndCommit(*writer, records, c);
    }
    absl::StatusOr<KafkaConf> conf =
        BuildKafkaConf({.bootstrap_servers = broker_->bootstrap_servers()}, ClientKind::kProducer);
    ASSERT_TRUE(conf.ok());
    absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
    ASSERT_TRUE(producer.ok());
    for (const char* store : {"a", "b"}) {
      const std::string topic = ChangelogTopic(kApp, store);
      ASSERT_TRUE(broker_->CreateTopic({.name = topic, .partitions = 1}).ok());
      for (const MemoryCollector::Sent& sent : collector_.log(topic)) {
        ASSERT_EQ(rd_kafka_producev(
                      producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_KEY(sent.record.key->data(), sent.record.key->size()),
                      RD_KAFKA_V_VALUE(const_cast<char*>(sent.record.value->data()),
                                       sent.record.value->size()),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
      }
    }
    ASSERT_EQ(rd_kafka_flush(producer->get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // A fresh task checked against its changelogs, as a stream thread checks it before handing
  // it over.
  std::pair<std::unique_ptr<Task>, std::vector<ChangelogTail>> CheckedTask(const std::string& dir) {
    std::unique_ptr<Task> task = NewTask(dir, nullptr);
    absl::StatusOr<ChangelogCheck> check =
        CheckChangelogs(*task, updater_->offsets_client(), kApp, "test");
    EXPECT_TRUE(check.ok()) << check.status();
    EXPECT_TRUE(check->usable);
    return {std::move(task), check->tails};
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  AppConfig config_;
  std::unique_ptr<StateUpdater> updater_;
};

TEST_F(StateUpdaterTest, HandsARestoredTaskBackAndWakesItsThread) {
  WriteChangelogs(/*commits=*/20, /*keys=*/5);
  auto [task, tails] = CheckedTask("restored");
  ASSERT_EQ(tails.size(), 2u);
  EXPECT_EQ(tails[0].high, 120) << "20 commits of 5 records and a marker";
  absl::Mutex mutex;
  bool woken = false;
  updater_->Restore(std::move(task), tails, [&] {
    absl::MutexLock lock(&mutex);
    woken = true;
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::MutexLock lock(&mutex);
        return woken;
      },
      std::chrono::seconds(30)))
      << "the updater wakes the thread once the task can be taken back";
  EXPECT_THAT(updater_->TakeRestored({{0, 1}}), ::testing::IsEmpty()) << "another task";
  std::vector<StateUpdater::Returned> returned = updater_->TakeRestored({{0, 0}});
  ASSERT_EQ(returned.size(), 1u);
  ASSERT_TRUE(returned[0].status.ok()) << returned[0].status;
  EXPECT_EQ(returned[0].records_restored, 200) << "every data record of both changelogs";
  Task& restored = *returned[0].task;
  EXPECT_EQ(restored.commit_seq(), 20);
  EXPECT_EQ(Get(restored, "a", "k4"), "v19");
  EXPECT_EQ(Get(restored, "b", "k0"), "v19!");
  EXPECT_EQ((restored.StoredOffsets()), (TaskDb::Offsets{{{"input", 0}, 20}}));
  EXPECT_THAT(updater_->TakeRestored({{0, 0}}), ::testing::IsEmpty()) << "handed back once";
  EXPECT_EQ(updater_->Cancel({0, 0}).task, nullptr);
}

TEST_F(StateUpdaterTest, CancelTakesATaskBackWhateverItsProgress) {
  WriteChangelogs(/*commits=*/5, /*keys=*/2);
  auto [task, tails] = CheckedTask("restored");
  updater_->Restore(std::move(task), tails, [] {});
  StateUpdater::Returned back = updater_->Cancel({0, 0});
  ASSERT_NE(back.task, nullptr) << "the stream thread gets its task back (partitions revoked)";
  EXPECT_LE(back.task->commit_seq(), 5) << "at a whole commit";
  EXPECT_EQ(updater_->Cancel({0, 0}).task, nullptr) << "taken back already";
  EXPECT_THAT(updater_->TakeRestored({{0, 0}}), ::testing::IsEmpty());
}

}  // namespace
}  // namespace weir::internal
