#include "engine/runtime/internal/changelog_reader.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"
#include "engine/processor/topic_name.h"

namespace weir::internal {
namespace {

constexpr int kWatermarkTimeoutMs = 60'000;

}  // namespace

absl::StatusOr<ChangelogCheck> CheckChangelogs(Task& task, rd_kafka_t* offsets,
                                               const std::string& application_id,
                                               const std::string& who) {
  ChangelogCheck check;
  const int32_t partition = task.id().partition;
  for (const std::string& store : task.logged_stores()) {
    ChangelogTail tail{.store = store,
                       .topic = ChangelogTopic(application_id, store),
                       .partition = partition,
                       .from = task.ChangelogOffset(store)};
    int64_t low = 0;
    WEIR_RETURN_IF_ERROR(
        QueryWatermarks(offsets, tail.topic, partition, &low, &tail.high, kWatermarkTimeoutMs));
    if (tail.from > tail.high) {
      spdlog::error(
          "{}: task {}: the local state has applied changelog {}-{} up to offset {}, but it ends "
          "at {}: the state belongs to another log; wiping it and restoring from the changelog",
          who, task.id().ToString(), tail.topic, partition, tail.from, tail.high);
      check.usable = false;
      return check;
    }
    if (tail.from < low) {
      if (task.commit_seq() > 0) {
        spdlog::error(
            "{}: task {}: changelog {}-{} starts at offset {} but the local state needs it from "
            "{}: wiping the local state and restoring what the changelog still holds",
            who, task.id().ToString(), tail.topic, partition, low, tail.from);
        check.usable = false;
        return check;
      }
      spdlog::warn(
          "{}: task {}: changelog {}-{} starts at offset {}, not 0: broker retention deleted the "
          "records before it; restoring from there, then judging whether they were still live",
          who, task.id().ToString(), tail.topic, partition, low);
      check.truncated = true;
      tail.from = low;
    }
    check.tails.push_back(std::move(tail));
  }
  return check;
}

namespace {

absl::StatusOr<KafkaHandle> NewAssignOnlyConsumer(const AppConfig& config,
                                                  const std::string& client_id,
                                                  bool read_committed) {
  ClientProperties properties{.bootstrap_servers = config.bootstrap_servers};
  // A group id librdkafka needs for assign(); this consumer never joins or commits.
  properties.common = {{"group.id", absl::StrCat(config.application_id, "-restore")},
                       {"client.id", client_id},
                       {"enable.auto.commit", "false"},
                       {"enable.partition.eof", "true"},
                       {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
                       // Restores and the global bootstrap read whole logs of small records:
                       // librdkafka stops prefetching a partition at queued.min.messages
                       // (100,000 by default), which left a 1M-record log waiting on the broker
                       // for each refill (kcat over 3 partitions: 3.6 s, 1.0 s with 1M). Memory
                       // stays bounded by queued.max.messages.kbytes.
                       {"queued.min.messages", "1000000"}};
  for (const auto& [key, value] : config.kafka) properties.common[key] = value;
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kConsumer));
  return NewKafkaClient(std::move(conf), ClientKind::kConsumer);
}

}  // namespace

absl::StatusOr<KafkaHandle> NewChangelogConsumer(const AppConfig& config,
                                                 const std::string& client_id) {
  return NewAssignOnlyConsumer(
      config, client_id, config.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2);
}

absl::StatusOr<KafkaHandle> NewOffsetsClient(const AppConfig& config,
                                             const std::string& client_id) {
  return NewAssignOnlyConsumer(config, client_id, /*read_committed=*/false);
}

ChangelogApplier::ChangelogApplier(Task& task) : task_(task) {
  for (const std::string& store : task.logged_stores()) logs_[store];
}

absl::Status ChangelogApplier::Add(const std::string& store, RawRecord record, int64_t offset) {
  auto log = logs_.find(store);
  if (log == logs_.end()) {
    return absl::InternalError(
        absl::StrCat("task ", task_.id().ToString(), " has no logged store ", store));
  }
  StoreLog& in = log->second;
  // A writer the group replaced (changelog_marker.h): its records are stale, marker or not.
  const int64_t epoch = ChangelogMarker::EpochOf(record.headers);
  in.epoch = std::max(in.epoch, task_.commit_epoch());
  if (epoch < in.epoch) {
    ++stale_;
    return absl::OkStatus();
  }
  in.epoch = epoch;
  if (!ChangelogMarker::IsMarker(record.key)) {
    in.open.push_back(std::move(record));
    ++buffered_;
    return absl::OkStatus();
  }
  WEIR_ASSIGN_OR_RETURN(ChangelogMarker marker, ChangelogMarker::Decode(record.value.value_or("")));
  marker.epoch = epoch;
  in.commits.push_back(Commit{.marker = std::move(marker),
                              .records = std::exchange(in.open, {}),
                              .next_offset = offset + 1});
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ChangelogApplier::Apply(int64_t batch_records,
                                                const std::function<void(int64_t)>& on_write) {
  // Commits in (writer epoch, sequence number) order: a new owner numbers its commits on from
  // the last one it restored, in a higher epoch.
  using Order = std::pair<int64_t, int64_t>;
  const auto order = [](const Commit& c) { return Order{c.marker.epoch, c.marker.seq}; };
  const Order done{task_.commit_epoch(), task_.commit_seq()};
  // The last commit every store's changelog holds in full (a store with nothing read stands at
  // the state's own commit).
  Order last_common{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()};
  for (auto& [store, log] : logs_) {
    while (!log.commits.empty() && order(log.commits.front()) <= done) {
      buffered_ -= static_cast<int64_t>(log.commits.front().records.size());  // applied before
      log.commits.pop_front();
    }
    last_common = std::min(
        last_common, log.commits.empty() ? done : std::max(done, order(log.commits.back())));
  }
  int64_t applied = 0;
  int64_t since_write = 0;
  std::map<std::string, int64_t> ends;
  std::optional<ChangelogMarker> last_marker;
  // A compacted changelog keeps only the latest of the markers compaction reached, so sequence
  // numbers may jump: go from one held commit to the next.
  const auto next_held = [&](const Order& after) {
    Order next{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()};
    for (const auto& [store, log] : logs_) {
      if (!log.commits.empty() && order(log.commits.front()) > after) {
        next = std::min(next, order(log.commits.front()));
      }
    }
    return next;
  };
  for (Order at = next_held(done); at <= last_common; at = next_held(at)) {
    for (auto& [store, log] : logs_) {
      // A store whose changelog was read from a later start has no entry for early commits.
      if (log.commits.empty() || order(log.commits.front()) != at) continue;
      Commit& commit = log.commits.front();
      for (const RawRecord& r : commit.records) {
        WEIR_RETURN_IF_ERROR(task_.ApplyChangelogRecord(store, *r.key, r.value));
      }
      const auto count = static_cast<int64_t>(commit.records.size());
      since_write += count;
      buffered_ -= count;
      ends[store] = commit.next_offset;
      last_marker = std::move(commit.marker);
      log.commits.pop_front();
    }
    if (last_marker.has_value() && (since_write >= batch_records || at == last_common)) {
      WEIR_RETURN_IF_ERROR(task_.CommitRestored(*last_marker, ends));
      applied += since_write;
      if (on_write) on_write(since_write);
      since_write = 0;
      ends.clear();
      last_marker.reset();
    }
  }
  return applied;
}

}  // namespace weir::internal
