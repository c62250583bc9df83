#include "engine/runtime/membership.h"

#include <chrono>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"
#include "engine/runtime/internal/changelog_reader.h"
#include "nlohmann/json.hpp"

namespace weir {
namespace {

constexpr int kTimeoutMs = 10'000;
constexpr auto kHeartbeatInterval = std::chrono::seconds(1);

nlohmann::json TaskJson(const TaskId& id) { return id.ToString(); }

// "0_3" -> TaskId{0, 3}. (sscanf's %d would be undefined for numbers beyond int.)
absl::StatusOr<TaskId> ParseTask(const nlohmann::json& value) {
  const std::string text = value.get<std::string>();
  const std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('_', 1));
  TaskId id;
  if (!absl::SimpleAtoi(parts.first, &id.subtopology) ||
      !absl::SimpleAtoi(parts.second, &id.partition)) {
    return absl::InvalidArgumentError(
        absl::StrCat("task id '", text, "' is not <sub>_<partition>"));
  }
  return id;
}

}  // namespace

std::string MembershipTopic(const std::string& application_id) {
  return absl::StrCat(application_id, "-instances");
}

std::string InstanceView::ToJson() const {
  nlohmann::json json = {{"instance", instance},
                         {"endpoint", endpoint},
                         {"heartbeat_ms", heartbeat_ms},
                         {"expiry_ms", expiry_ms},
                         {"leaving", leaving},
                         {"member_ids", member_ids},
                         {"records_restored", records_restored},
                         {"active", nlohmann::json::array()},
                         {"standby", nlohmann::json::array()}};
  for (const ActiveTaskView& task : active) {
    json["active"].push_back({{"task", TaskJson(task.id)},
                              {"thread", task.thread},
                              {"input_lag", task.input_lag},
                              {"restored", task.restored},
                              {"restore_remaining", task.restore_remaining},
                              {"created_ms", task.created_ms},
                              {"first_processed_ms", task.first_processed_ms},
                              {"from_standby", task.from_standby}});
  }
  for (const StandbyTaskView& task : standby) {
    json["standby"].push_back({{"task", TaskJson(task.id)},
                               {"lag", task.lag},
                               {"applied", task.applied},
                               {"caught_up", task.caught_up}});
  }
  return json.dump();
}

namespace {

struct NotAnInteger {
  std::string field;
};

// `object[field]` as an int64_t. nlohmann reads an integer too large for 64 bits as a double, and
// converting that (or any non-integer) to int64_t is undefined: such a field is refused instead
// (a libFuzzer finding, tests/fuzz/corpus/membership/huge-expiry).
int64_t Integer(const nlohmann::json& object, const char* field) {
  const nlohmann::json& value = object.at(field);
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw NotAnInteger{field};
  }
  if (!value.is_number_integer()) throw NotAnInteger{field};
  return value.get<int64_t>();
}

}  // namespace

absl::StatusOr<InstanceView> InstanceView::FromJson(std::string_view text) {
  try {
    const nlohmann::json json = nlohmann::json::parse(text);
    InstanceView view;
    view.instance = json.at("instance").get<std::string>();
    view.endpoint = json.at("endpoint").get<std::string>();
    view.heartbeat_ms = Integer(json, "heartbeat_ms");
    view.expiry_ms = Integer(json, "expiry_ms");
    view.leaving = json.at("leaving").get<bool>();
    view.member_ids = json.at("member_ids").get<std::vector<std::string>>();
    view.records_restored = Integer(json, "records_restored");
    for (const nlohmann::json& task : json.at("active")) {
      WEIR_ASSIGN_OR_RETURN(TaskId id, ParseTask(task.at("task")));
      view.active.push_back({.id = id,
                             .thread = task.at("thread").get<std::string>(),
                             .input_lag = Integer(task, "input_lag"),
                             .restored = Integer(task, "restored"),
                             .restore_remaining = Integer(task, "restore_remaining"),
                             .created_ms = Integer(task, "created_ms"),
                             .first_processed_ms = Integer(task, "first_processed_ms"),
                             .from_standby = task.at("from_standby").get<bool>()});
    }
    for (const nlohmann::json& task : json.at("standby")) {
      WEIR_ASSIGN_OR_RETURN(TaskId id, ParseTask(task.at("task")));
      view.standby.push_back({.id = id,
                              .lag = Integer(task, "lag"),
                              .applied = Integer(task, "applied"),
                              .caught_up = task.at("caught_up").get<bool>()});
    }
    return view;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("membership heartbeat: ", e.what()));
  } catch (const NotAnInteger& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("membership heartbeat: field '", e.field, "' is not a 64-bit integer"));
  }
}

absl::StatusOr<std::unique_ptr<MembershipReader>> MembershipReader::Create(
    const AppConfig& config, const std::string& client_id, int64_t history, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const auto remaining_ms = [&deadline] {
    return static_cast<int>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now())
               .count()));
  };
  std::unique_ptr<MembershipReader> reader(new MembershipReader());
  WEIR_ASSIGN_OR_RETURN(reader->consumer_, internal::NewChangelogConsumer(config, client_id));
  const std::string topic = MembershipTopic(config.application_id);
  rd_kafka_topic_t* handle = rd_kafka_topic_new(reader->consumer_.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(reader->consumer_.get(), 0, handle, &metadata, remaining_ms());
  rd_kafka_topic_destroy(handle);
  WEIR_RETURN_IF_ERROR(KafkaStatus(err, absl::StrCat("reading the metadata of ", topic)));
  int32_t partitions = 0;
  if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    partitions = metadata->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);
  if (partitions == 0) {
    return absl::NotFoundError(
        absl::StrCat("membership topic ", topic, " does not exist at ", config.bootstrap_servers));
  }
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    WEIR_RETURN_IF_ERROR(
        QueryWatermarks(reader->consumer_.get(), topic, p, &low, &high, remaining_ms()));
    reader->ends_[p] = high;
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset =
        std::max(low, high - history);
  }
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_assign(reader->consumer_.get(), assignment.get()),
                                   absl::StrCat("reading ", topic)));
  return reader;
}

absl::Status MembershipReader::Poll(int timeout_ms) {
  for (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), timeout_ms); m != nullptr;
       m = rd_kafka_consumer_poll(consumer_.get(), 0)) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
      absl::StatusOr<InstanceView> view =
          InstanceView::FromJson(std::string_view(static_cast<const char*>(m->payload), m->len));
      if (view.ok()) {
        // Newest heartbeat wins (partitions may deliver out of order).
        auto& latest = latest_[view->instance];
        if (view->heartbeat_ms >= latest.heartbeat_ms) latest = *std::move(view);
      } else if (undecodable_++ == 0) {
        spdlog::warn("membership topic: skipping a record at offset {}: {}", m->offset,
                     view.status().message());
      }
      if (auto end = ends_.find(m->partition); end != ends_.end() && m->offset + 1 >= end->second) {
        ends_.erase(end);
      }
    } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ends_.erase(m->partition);
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("membership topic: {}", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  return absl::OkStatus();
}

absl::Status MembershipReader::CatchUp(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  // Partitions that are empty are caught up already.
  for (auto it = ends_.begin(); it != ends_.end();) it = it->second == 0 ? ends_.erase(it) : ++it;
  while (!ends_.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(
          "the membership topic did not deliver its records in time");
    }
    WEIR_RETURN_IF_ERROR(Poll(200));
  }
  return absl::OkStatus();
}

std::vector<InstanceView> MembershipReader::Live(int64_t now_ms) const {
  std::vector<InstanceView> live;
  for (const auto& [instance, view] : latest_) {
    if (!view.leaving && now_ms - view.heartbeat_ms <= view.expiry_ms) live.push_back(view);
  }
  return live;
}

absl::StatusOr<std::unique_ptr<Membership>> Membership::Create(
    const AppConfig& config, std::function<InstanceView()> self,
    std::function<void(const std::vector<InstanceView>&)> on_view,
    std::function<int64_t()> wall_clock) {
  std::unique_ptr<Membership> membership(new Membership());
  membership->topic_ = MembershipTopic(config.application_id);
  membership->self_ = std::move(self);
  membership->on_view_ = std::move(on_view);
  membership->wall_clock_ = std::move(wall_clock);
  membership->expiry_ms_ = SessionTimeoutMs(config);
  ClientProperties properties{.bootstrap_servers = config.bootstrap_servers,
                              .common = config.kafka};
  properties.specific = {{"client.id", MembershipTopic(config.application_id) + "-producer"},
                         {"linger.ms", "0"}};
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kProducer));
  WEIR_ASSIGN_OR_RETURN(membership->producer_,
                        NewKafkaClient(std::move(conf), ClientKind::kProducer));
  WEIR_ASSIGN_OR_RETURN(
      membership->reader_,
      MembershipReader::Create(config, MembershipTopic(config.application_id) + "-reader"));
  return membership;
}

Membership::~Membership() { Stop(); }

void Membership::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Membership::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  Heartbeat(/*leaving=*/true);
  rd_kafka_flush(producer_.get(), kTimeoutMs);
}

std::vector<InstanceView> Membership::View() const {
  absl::MutexLock lock(&mutex_);
  return view_;
}

void Membership::Heartbeat(bool leaving) {
  InstanceView view = self_();
  view.heartbeat_ms = wall_clock_();
  view.expiry_ms = expiry_ms_;
  view.leaving = leaving;
  const std::string json = view.ToJson();
  const rd_kafka_resp_err_t err =
      rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()),
                        RD_KAFKA_V_KEY(view.instance.data(), view.instance.size()),
                        RD_KAFKA_V_VALUE(const_cast<char*>(json.data()), json.size()),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("membership heartbeat to {}: {}", topic_, rd_kafka_err2str(err));
  }
  rd_kafka_poll(producer_.get(), 0);
}

void Membership::Run() {
  auto next = std::chrono::steady_clock::now();
  while (!stop_) {
    if (absl::Status polled = reader_->Poll(100); !polled.ok()) {
      spdlog::warn("membership topic: {}", polled.message());
    }
    if (std::chrono::steady_clock::now() < next) continue;
    // Once a round: heartbeat, then the view (placement is recomputed from it).
    Heartbeat(/*leaving=*/false);
    next = std::chrono::steady_clock::now() + kHeartbeatInterval;
    std::vector<InstanceView> live = reader_->Live(wall_clock_());
    {
      absl::MutexLock lock(&mutex_);
      view_ = live;
    }
    on_view_(live);
  }
}

}  // namespace weir
