#include "engine/kafka/topic_admin.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/processor/topic_name.h"

namespace weir {
namespace {

constexpr int32_t kMaxPartitions = 1000;

struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};

struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* options) const {
    rd_kafka_AdminOptions_destroy(options);
  }
};

// Runs one admin request: `send(queue, options)` issues it, and its result event is returned
// (request-level errors turned into a status naming `what`).
template <typename Send>
absl::StatusOr<Event> Request(rd_kafka_t* client, int timeout_ms, const std::string& what,
                              Send send) {
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(client));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(
      rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ANY));
  char error[512];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, error, sizeof(error));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, error, sizeof(error));
  send(queue.get(), options.get());
  Event event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1'000));
  if (event == nullptr) {
    return absl::UnavailableError(
        absl::StrCat(what, ": no answer from the cluster within ", timeout_ms, " ms"));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaStatus(rd_kafka_event_error(event.get()),
                       absl::StrCat(what, " (", rd_kafka_event_error_string(event.get()), ")"));
  }
  return event;
}

// The first error among per-topic results, ignoring `tolerated`.
absl::Status TopicResults(const rd_kafka_topic_result_t** results, size_t count,
                          const std::string& verb, rd_kafka_resp_err_t tolerated) {
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == tolerated) continue;
    const char* message = rd_kafka_topic_result_error_string(results[i]);
    return KafkaStatus(
        err, absl::StrCat(verb, " topic '", rd_kafka_topic_result_name(results[i]), "'",
                          message != nullptr ? ": " : "", message != nullptr ? message : ""));
  }
  return absl::OkStatus();
}

// Polls the cluster's metadata until every topic of `topics` is listed (`present`) or none is.
absl::Status AwaitTopics(rd_kafka_t* client, const std::vector<std::string>& topics, bool present,
                         int timeout_ms);

}  // namespace

absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view text) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected NAME:PARTITIONS such as 'payments:12', got '", text, "': ", why));
  };
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("no ':PARTITIONS'");
  const absl::string_view name = text.substr(0, colon);
  const absl::string_view count = text.substr(colon + 1);
  if (!IsLegalTopicName(name)) {
    return invalid("a topic name is 1-249 letters, digits, '.', '_' or '-'");
  }
  int32_t partitions = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), partitions);
  if (ec != std::errc() || end != count.data() + count.size() || partitions < 1 ||
      partitions > kMaxPartitions) {
    return invalid(absl::StrCat("partitions must be a whole number in [1, ", kMaxPartitions, "]"));
  }
  return TopicSpec{.name = std::string(name), .partitions = partitions};
}

absl::StatusOr<std::map<std::string, int32_t>> PartitionCounts(rd_kafka_t* client, int timeout_ms) {
  const rd_kafka_metadata_t* metadata = nullptr;
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_metadata(client, 1, nullptr, &metadata, timeout_ms),
                                   "reading the cluster's topics (is bootstrap.servers right?)"));
  std::map<std::string, int32_t> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      counts[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

absl::Status CreateTopics(rd_kafka_t* client, const std::vector<TopicSpec>& topics,
                          int replication_factor, int timeout_ms) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_NewTopic_t*> requests;
  absl::Status status;
  char error[512];
  for (const TopicSpec& topic : topics) {
    rd_kafka_NewTopic_t* request = rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions,
                                                         replication_factor, error, sizeof(error));
    if (request == nullptr) {
      status = absl::InvalidArgumentError(absl::StrCat("topic '", topic.name, "': ", error));
      break;
    }
    requests.push_back(request);
    for (const auto& [key, value] : topic.config) {
      if (rd_kafka_NewTopic_set_config(request, key.c_str(), value.c_str()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = absl::InvalidArgumentError(
            absl::StrCat("topic '", topic.name, "': cannot set ", key, "=", value));
      }
    }
  }
  if (status.ok()) {
    std::vector<std::string> names;
    for (const TopicSpec& topic : topics) names.push_back(topic.name);
    absl::StatusOr<Event> event =
        Request(client, timeout_ms, absl::StrCat("creating ", absl::StrJoin(names, ", ")),
                [&](rd_kafka_queue_t* queue, rd_kafka_AdminOptions_t* options) {
                  rd_kafka_CreateTopics(client, requests.data(), requests.size(), options, queue);
                });
    if (!event.ok()) {
      status = event.status();
    } else {
      size_t count = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
          rd_kafka_event_CreateTopics_result(event->get()), &count);
      status = TopicResults(results, count, "creating", RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    }
    // The controller has created them; brokers learn of them a moment later, and a client
    // asking before that would not find them.
    if (status.ok()) status = AwaitTopics(client, names, /*present=*/true, timeout_ms);
  }
  for (rd_kafka_NewTopic_t* request : requests) rd_kafka_NewTopic_destroy(request);
  return status;
}

absl::Status DeleteTopics(rd_kafka_t* client, const std::vector<std::string>& topics,
                          int timeout_ms) {
  if (topics.empty()) return absl::OkStatus();
  std::vector<rd_kafka_DeleteTopic_t*> requests;
  for (const std::string& topic : topics) {
    requests.push_back(rd_kafka_DeleteTopic_new(topic.c_str()));
  }
  absl::StatusOr<Event> event =
      Request(client, timeout_ms, absl::StrCat("deleting ", absl::StrJoin(topics, ", ")),
              [&](rd_kafka_queue_t* queue, rd_kafka_AdminOptions_t* options) {
                rd_kafka_DeleteTopics(client, requests.data(), requests.size(), options, queue);
              });
  rd_kafka_DeleteTopic_destroy_array(requests.data(), requests.size());
  WEIR_RETURN_IF_ERROR(event.status());
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event->get()), &count);
  WEIR_RETURN_IF_ERROR(
      TopicResults(results, count, "deleting", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  // Deletion completes asynchronously on the brokers: wait until metadata no longer has them.
  return AwaitTopics(client, topics, /*present=*/false, timeout_ms);
}

namespace {

absl::Status AwaitTopics(rd_kafka_t* client, const std::vector<std::string>& topics, bool present,
                         int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    WEIR_ASSIGN_OR_RETURN(auto counts, PartitionCounts(client, timeout_ms));
    std::vector<std::string> waiting;
    for (const std::string& topic : topics) {
      if (counts.contains(topic) != present) waiting.push_back(topic);
    }
    if (waiting.empty()) return absl::OkStatus();
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(present ? "created topics not yet listed" : "deleted topics still listed",
                       " after ", timeout_ms, " ms: ", absl::StrJoin(waiting, ", ")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the metadata
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListGroups(rd_kafka_t* client, int timeout_ms) {
  WEIR_ASSIGN_OR_RETURN(Event event,
                        Request(client, timeout_ms, "listing consumer groups",
                                [&](rd_kafka_queue_t* queue, rd_kafka_AdminOptions_t* options) {
                                  rd_kafka_ListConsumerGroups(client, options, queue);
                                }));
  const rd_kafka_ListConsumerGroups_result_t* result =
      rd_kafka_event_ListConsumerGroups_result(event.get());
  size_t error_count = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(result, &error_count);
  if (error_count > 0) {
    return KafkaStatus(rd_kafka_error_code(errors[0]),
                       absl::StrCat("listing consumer groups: ", rd_kafka_error_string(errors[0])));
  }
  size_t count = 0;
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(result, &count);
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    names.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  }
  return names;
}

absl::Status DeleteGroups(rd_kafka_t* client, const std::vector<std::string>& groups,
                          int timeout_ms) {
  if (groups.empty()) return absl::OkStatus();
  std::vector<rd_kafka_DeleteGroup_t*> requests;
  for (const std::string& group : groups)
    requests.push_back(rd_kafka_DeleteGroup_new(group.c_str()));
  absl::StatusOr<Event> event =
      Request(client, timeout_ms, absl::StrCat("deleting groups ", absl::StrJoin(groups, ", ")),
              [&](rd_kafka_queue_t* queue, rd_kafka_AdminOptions_t* options) {
                rd_kafka_DeleteGroups(client, requests.data(), requests.size(), options, queue);
              });
  rd_kafka_DeleteGroup_destroy_array(requests.data(), requests.size());
  WEIR_RETURN_IF_ERROR(event.status());
  size_t count = 0;
  const rd_kafka_group_result_t** results =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_error_t* error = rd_kafka_group_result_error(results[i]);
    if (error == nullptr || rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
      continue;
    }
    return KafkaStatus(rd_kafka_error_code(error),
                       absl::StrCat("deleting group '", rd_kafka_group_result_name(results[i]),
                                    "': ", rd_kafka_error_string(error)));
  }
  return absl::OkStatus();
}

absl::Status QueryWatermarks(rd_kafka_t* client, const std::string& topic, int32_t partition,
                             int64_t* low, int64_t* high, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        client, topic.c_str(), partition, low, high, static_cast<int>(std::max<int64_t>(left, 1)));
    const bool leader_moving = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                               err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                               err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                               err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!leader_moving ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= deadline) {
      return KafkaStatus(err, absl::StrCat("reading the offsets of ", topic, "-", partition));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the leader is moving
  }
}

absl::Status DeleteRecordsBefore(rd_kafka_t* client, const std::string& topic, int32_t partition,
                                 int64_t offset, int timeout_ms) {
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = offset;
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  const std::string what =
      absl::StrCat("deleting records of ", topic, "-", partition, " before offset ", offset);
  absl::StatusOr<Event> event = Request(
      client, timeout_ms, what, [&](rd_kafka_queue_t* queue, rd_kafka_AdminOptions_t* options) {
        rd_kafka_DeleteRecords(client, &request, 1, options, queue);
      });
  rd_kafka_DeleteRecords_destroy(request);
  WEIR_RETURN_IF_ERROR(event.status());
  const rd_kafka_topic_partition_list_t* result =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event->get()));
  for (int i = 0; result != nullptr && i < result->cnt; ++i) {
    WEIR_RETURN_IF_ERROR(KafkaStatus(result->elems[i].err, what));
  }
  return absl::OkStatus();
}

}  // namespace weir
