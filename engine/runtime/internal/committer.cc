#include "engine/runtime/internal/committer.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"

namespace weir::internal {
namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kCommitTimeoutMs = 60'000;

class AtLeastOnce final : public Committer {
 public:
  AtLeastOnce(rd_kafka_t* consumer, rd_kafka_t* producer, RebalanceWatch* watch)
      : consumer_(consumer), producer_(producer), watch_(watch) {}

  absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets,
                      const std::function<absl::Status()>& write_state) override {
    WEIR_RETURN_IF_ERROR(
        KafkaStatus(rd_kafka_flush(producer_, kFlushTimeoutMs), "flushing the producer"));
    WEIR_RETURN_IF_ERROR(write_state());  // fails first if a delivery failed
    if (offsets.cnt == 0) return absl::OkStatus();
    rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, &offsets, 0);
    // The group coordinator moved or is loading its offsets (a broker stopped or restarted):
    // retriable, as Kafka's clients treat it, until the commit timeout.
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kCommitTimeoutMs);
    while ((err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
            err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
            err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry backoff
      err = rd_kafka_commit(consumer_, &offsets, 0);
    }
    if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
        err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION || err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
      watch_->OnCommitRejected();
      // The group moved on: these offsets can no longer be committed by this member. Whoever
      // owns the partitions next resumes from the last commit (at-least-once duplicates).
      return absl::AbortedError(
          absl::StrCat("commit rejected by a rebalance: ", rd_kafka_err2str(err)));
    }
    return KafkaStatus(err, "committing offsets");
  }

 private:
  rd_kafka_t* const consumer_;
  rd_kafka_t* const producer_;
  RebalanceWatch* const watch_;
};

class ExactlyOnce final : public Committer {
 public:
  ExactlyOnce(rd_kafka_t* consumer, rd_kafka_t* producer)
      : consumer_(consumer), producer_(producer) {}

  absl::Status Init() override {
    return KafkaStatus(rd_kafka_init_transactions(producer_, kCommitTimeoutMs),
                       "initialising transactions");
  }

  absl::Status BeforeProduce() override {
    if (in_transaction_) return absl::OkStatus();
    WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_begin_transaction(producer_), "beginning"));
    in_transaction_ = true;
    return absl::OkStatus();
  }

  absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets,
                      const std::function<absl::Status()>& write_state) override {
    if (!in_transaction_ && offsets.cnt == 0) return absl::OkStatus();
    WEIR_RETURN_IF_ERROR(BeforeProduce());
    if (offsets.cnt > 0) {
      rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
      absl::Status sent = KafkaStatus(
          rd_kafka_send_offsets_to_transaction(producer_, &offsets, group, kCommitTimeoutMs),
          "sending offsets to the transaction");
      rd_kafka_consumer_group_metadata_destroy(group);
      WEIR_RETURN_IF_ERROR(sent);
    }
    WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_commit_transaction(producer_, kCommitTimeoutMs),
                                     "committing the transaction"));
    in_transaction_ = false;
    return write_state();
  }

  void Abort() override {
    if (!in_transaction_) return;
    KafkaStatus(rd_kafka_abort_transaction(producer_, kCommitTimeoutMs), "aborting")
        .IgnoreError();
    in_transaction_ = false;
  }

 private:
  rd_kafka_t* const consumer_;
  rd_kafka_t* const producer_;
  bool in_transaction_ = false;
};

}  // namespace

std::unique_ptr<Committer> Committer::Create(ProcessingGuarantee guarantee, rd_kafka_t* consumer,
                                             rd_kafka_t* producer, RebalanceWatch* watch) {
  if (guarantee == ProcessingGuarantee::kExactlyOnceV2) {
    return std::make_unique<ExactlyOnce>(consumer, producer);
  }
  return std::make_unique<AtLeastOnce>(consumer, producer, watch);
}

}  // namespace weir::internal
