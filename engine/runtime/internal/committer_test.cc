// The committer of each guarantee against the embedded broker, in process: the output is durable
// before the state is written, and the offsets are committed after the output and before the
// state (at least once) or with the output in one transaction (exactly once).
#include "engine/runtime/internal/committer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "engine/kafka/client_config.h"
#include "engine/kafka/embedded_broker.h"

namespace weir::internal {
namespace {

constexpr char kGroup[] = "committer-test";

class CommitterTest : public ::testing::TestWithParam<ProcessingGuarantee> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EmbeddedBroker>> broker = EmbeddedBroker::Start(1);
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    for (const char* topic : {"input", "output"}) {
      ASSERT_TRUE(broker_->CreateTopic({.name = topic, .partitions = 1}).ok());
    }
    consumer_ =
        NewClient(ClientKind::kConsumer, {{"group.id", kGroup}, {"enable.auto.commit", "false"}});
    std::map<std::string, std::string> producer = {{"linger.ms", "1000"}};  // held back
    if (GetParam() == ProcessingGuarantee::kExactlyOnceV2) {
      producer["transactional.id"] = "committer-test-producer";
    }
    producer_ = NewClient(ClientKind::kProducer, producer);
    committer_ = Committer::Create(GetParam(), consumer_.get(), producer_.get(), nullptr);
    ASSERT_TRUE(committer_->Init().ok());
    offsets_.reset(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(offsets_.get(), "input", 0)->offset = 5;
  }

  KafkaHandle NewClient(ClientKind kind, std::map<std::string, std::string> specific) {
    absl::StatusOr<KafkaConf> conf = BuildKafkaConf(
        {.bootstrap_servers = broker_->bootstrap_servers(), .specific = std::move(specific)}, kind);
    EXPECT_TRUE(conf.ok()) << conf.status();
    if (kind == ClientKind::kProducer) {
      rd_kafka_conf_set_opaque(conf->get(), &delivered_);
      rd_kafka_conf_set_dr_msg_cb(conf->get(),
                                  [](rd_kafka_t*, const rd_kafka_message_t* m, void* delivered) {
                                    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                                      ++*static_cast<std::atomic<int>*>(delivered);
                                  });
    }
    absl::StatusOr<KafkaHandle> client = NewKafkaClient(*std::move(conf), kind);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  void Produce(int records) {
    for (int i = 0; i < records; ++i) {
      ASSERT_TRUE(committer_->BeforeProduce().ok());
      ASSERT_EQ(rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC("output"),
                                  RD_KAFKA_V_VALUE(const_cast<char*>("v"), 1),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }

  // Commits `offsets` with every delivery reported good; `seal` counts the seals.
  absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets,
                      const std::function<absl::Status()>& write_state) {
    return committer_->Commit(offsets, {.delivered = [] { return absl::OkStatus(); },
                                        .seal = [this] { ++seals_; },
                                        .write_state = write_state});
  }
  int seals_ = 0;

  // The group's committed offset of input-0 (RD_KAFKA_OFFSET_INVALID: none).
  int64_t Committed() {
    std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> list(
        rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), "input", 0);
    EXPECT_EQ(rd_kafka_committed(consumer_.get(), list.get(), 10'000), RD_KAFKA_RESP_ERR_NO_ERROR);
    return list->elems[0].offset;
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  std::atomic<int> delivered_{0};
  KafkaHandle consumer_;
  KafkaHandle producer_;
  std::unique_ptr<Committer> committer_;
  std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter> offsets_;
};

TEST_P(CommitterTest, TheStateIsWrittenOnceTheOutputIsDelivered) {
  Produce(3);
  int delivered_at_write = -1;
  int writes = 0;
  const absl::Status committed = Commit(*offsets_, [&] {
    ++writes;
    rd_kafka_poll(producer_.get(), 0);  // serve the delivery reports
    delivered_at_write = delivered_.load();
    return absl::OkStatus();
  });
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(seals_, 1);
  EXPECT_EQ(delivered_at_write, 3) << "every record delivered before the state is written";
}

TEST_P(CommitterTest, AFailedStateWriteFailsTheCommit) {
  Produce(1);
  const absl::Status committed =
      Commit(*offsets_, [] { return absl::DataLossError("disk gone"); });
  EXPECT_TRUE(absl::IsDataLoss(committed)) << committed;
}

TEST_P(CommitterTest, ATransactionAbortedAfterAFailureLeavesTheNextCommitWhole) {
  Produce(2);
  committer_->Abort();
  Produce(1);
  int writes = 0;
  const absl::Status committed = Commit(*offsets_, [&] {
    ++writes;
    return absl::OkStatus();
  });
  ASSERT_TRUE(committed.ok()) << committed;
  EXPECT_EQ(writes, 1);
}

INSTANTIATE_TEST_SUITE_P(Guarantees, CommitterTest,
                         ::testing::Values(ProcessingGuarantee::kAtLeastOnce,
                                           ProcessingGuarantee::kExactlyOnceV2),
                         [](const ::testing::TestParamInfo<ProcessingGuarantee>& info) {
                           return std::string(ProcessingGuaranteeName(info.param));
                         });

using AtLeastOnceCommitter = CommitterTest;

// At least once, the commit markers (sealing) go out only once every earlier record is
// delivered: a marker ahead of an undelivered alert would let a restore skip its record.
TEST_P(AtLeastOnceCommitter, SealsOnlyOnceTheOutputIsDelivered) {
  Produce(3);
  int delivered_at_seal = -1;
  ASSERT_TRUE(committer_
                  ->Commit(*offsets_, {.delivered = [] { return absl::OkStatus(); },
                                       .seal =
                                           [&] {
                                             rd_kafka_poll(producer_.get(), 0);
                                             delivered_at_seal = delivered_.load();
                                           },
                                       .write_state = [] { return absl::OkStatus(); }})
                  .ok());
  EXPECT_EQ(delivered_at_seal, 3);
}

// At least once: offsets go to the group once the output is delivered, and before the state
// (a member the group replaced then keeps none of its rejected commit).
TEST_P(AtLeastOnceCommitter, CommitsTheOffsetsAfterTheOutputAndBeforeTheState) {
  Produce(1);
  int64_t committed_at_write = 0;
  ASSERT_TRUE(Commit(*offsets_, [&] {
                committed_at_write = Committed();
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(committed_at_write, 5);
  // Nothing to commit: the state is still written (a flush of what the tasks hold).
  rd_kafka_topic_partition_list_t* none = rd_kafka_topic_partition_list_new(0);
  int writes = 0;
  EXPECT_TRUE(Commit(*none, [&] { return ++writes, absl::OkStatus(); }).ok());
  rd_kafka_topic_partition_list_destroy(none);
  EXPECT_EQ(writes, 1);
}

// A record that was not delivered: neither the offsets nor the state may move past it.
TEST_P(AtLeastOnceCommitter, AFailedDeliveryCommitsNeitherOffsetsNorState) {
  Produce(1);
  int writes = 0;
  int seals = 0;
  const absl::Status committed = committer_->Commit(
      *offsets_, {.delivered = [] { return absl::UnavailableError("delivery failed"); },
                  .seal = [&] { ++seals; },
                  .write_state = [&] { return ++writes, absl::OkStatus(); }});
  EXPECT_TRUE(absl::IsUnavailable(committed)) << committed;
  EXPECT_EQ(seals, 0) << "no commit marker may follow output that was not delivered";
  EXPECT_EQ(writes, 0);
  EXPECT_EQ(Committed(), RD_KAFKA_OFFSET_INVALID);
}

INSTANTIATE_TEST_SUITE_P(AtLeastOnce, AtLeastOnceCommitter,
                         ::testing::Values(ProcessingGuarantee::kAtLeastOnce));

using ExactlyOnceCommitter = CommitterTest;

// Exactly once: with no transaction open and no offsets there is nothing to commit, not even
// state (nothing was processed since the last commit).
TEST_P(ExactlyOnceCommitter, CommitsNothingWhenNothingWasProcessed) {
  rd_kafka_topic_partition_list_t* none = rd_kafka_topic_partition_list_new(0);
  int writes = 0;
  EXPECT_TRUE(Commit(*none, [&] { return ++writes, absl::OkStatus(); }).ok());
  rd_kafka_topic_partition_list_destroy(none);
  EXPECT_EQ(writes, 0);
  // One transaction per commit: after a commit the next record opens a new one.
  for (int round = 0; round < 2; ++round) {
    Produce(1);
    ASSERT_TRUE(Commit(*offsets_, [] { return absl::OkStatus(); }).ok()) << round;
  }
}

INSTANTIATE_TEST_SUITE_P(ExactlyOnce, ExactlyOnceCommitter,
                         ::testing::Values(ProcessingGuarantee::kExactlyOnceV2));

}  // namespace
}  // namespace weir::internal
