#include "engine/runtime/internal/committer.h"

#include <chrono>
#include <thread>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"

namespace weir::internal {
namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kCommitTimeoutMs = 60'000;
constexpr char kTaskMigratedPayload[] = "weir.task-migrated";

class AtLeastOnce final : public Committer {
 public:
  AtLeastOnce(rd_kafka_t* consumer, rd_kafka_t* producer, RebalanceWatch* watch)
      : consumer_(consumer), producer_(producer), watch_(watch) {}

  absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets,
                      const Steps& steps) override {
    WEIR_RETURN_IF_ERROR(Flush(steps));
    steps.seal();
    WEIR_RETURN_IF_ERROR(Flush(steps));
    if (offsets.cnt > 0) WEIR_RETURN_IF_ERROR(CommitOffsets(offsets));
    return steps.write_state();
  }

 private:
  absl::Status Flush(const Steps& steps) {
    WEIR_RETURN_IF_ERROR(
        KafkaStatus(rd_kafka_flush(producer_, kFlushTimeoutMs), "flushing the producer"));
    return steps.delivered();
  }
  absl::Status CommitOffsets(const rd_kafka_topic_partition_list_t& offsets) {
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
                      const Steps& steps) override {
    if (!in_transaction_ && offsets.cnt == 0) return absl::OkStatus();
    WEIR_RETURN_IF_ERROR(BeforeProduce());
    steps.seal();  // in the transaction: visible with the rest, or not at all
    if (offsets.cnt > 0) {
      rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_);
      rd_kafka_error_t* error =
          rd_kafka_send_offsets_to_transaction(producer_, &offsets, group, kCommitTimeoutMs);
      rd_kafka_consumer_group_metadata_destroy(group);
      WEIR_RETURN_IF_ERROR(Check(error, "sending offsets to the transaction"));
    }
    WEIR_RETURN_IF_ERROR(Check(rd_kafka_commit_transaction(producer_, kCommitTimeoutMs),
                               "committing the transaction"));
    in_transaction_ = false;
    return steps.write_state();
  }

  void Abort() override {
    if (!in_transaction_) return;
    KafkaStatus(rd_kafka_abort_transaction(producer_, kCommitTimeoutMs), "aborting")
        .IgnoreError();
    in_transaction_ = false;
  }

 private:
  // `error` as a status; one the transaction must be aborted for (the offsets' generation is
  // stale: a rebalance went on without this member) or a fencing is a task migration.
  absl::Status Check(rd_kafka_error_t* error, const char* context) {
    if (error == nullptr) return absl::OkStatus();
    const bool abortable = rd_kafka_error_txn_requires_abort(error);
    absl::Status status = KafkaStatus(error, context);  // destroys `error`
    if (abortable) {
      Abort();
      return TaskMigratedError(status);
    }
    return ProducerFenced(producer_) ? TaskMigratedError(status) : status;
  }

  rd_kafka_t* const consumer_;
  rd_kafka_t* const producer_;
  bool in_transaction_ = false;
};

}  // namespace

absl::Status TaskMigratedError(const absl::Status& cause) {
  absl::Status status(cause.code(), cause.message());
  status.SetPayload(kTaskMigratedPayload, absl::Cord("1"));
  return status;
}

bool IsTaskMigrated(const absl::Status& status) {
  return status.GetPayload(kTaskMigratedPayload).has_value();
}

bool ProducerFenced(rd_kafka_t* producer) {
  char reason[512];
  switch (rd_kafka_fatal_error(producer, reason, sizeof(reason))) {
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
      return true;
    default:
      return false;
  }
}

std::unique_ptr<Committer> Committer::Create(ProcessingGuarantee guarantee, rd_kafka_t* consumer,
                                             rd_kafka_t* producer, RebalanceWatch* watch) {
  if (guarantee == ProcessingGuarantee::kExactlyOnceV2) {
    return std::make_unique<ExactlyOnce>(consumer, producer);
  }
  return std::make_unique<AtLeastOnce>(consumer, producer, watch);
}

}  // namespace weir::internal
