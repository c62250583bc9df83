#include "engine/http/query_service.h"

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/http_client.h"
#include "engine/kafka/partitioner.h"

namespace weir {
namespace {

HttpReply Error(int status, const std::string& message) {
  return {.status = status, .body = nlohmann::json{{"error", message}}.dump() + "\n"};
}

// The internal form a query is forwarded in: the store key, never the input key.
nlohmann::json ForwardedBody(TaskId id, const StateQuery& query) {
  return {{"key", query.key},
          {"partition", id.partition},
          {"from", query.from_ms},
          {"to", query.to_ms},
          {"allow_stale", query.allow_stale}};
}

std::map<std::string, int> SubtopologyOfStore(const Topology& topology) {
  std::map<std::string, int> subtopology_of;
  for (const Topology::Subtopology& sub : topology.Subtopologies()) {
    for (int store : sub.stores) subtopology_of[topology.stores()[store].name] = sub.id;
  }
  return subtopology_of;
}

}  // namespace

// One task's reading, and where it came from.
struct QueryService::Answer {
  bool found = false;
  nlohmann::json value;
  std::string task;
  std::string served_by;
  bool stale = false;
  int64_t lag = 0;

  nlohmann::json ToJson() const {
    return {{"found", found}, {"value", value},   {"task", task},
            {"served_by", served_by}, {"stale", stale}, {"lag", lag}};
  }
  static absl::StatusOr<Answer> FromJson(const std::string& body) {
    const nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    const absl::Status not_an_answer =
        absl::InternalError("the instance answered something that is not a query answer");
    if (!json.is_object() || !json.contains("found") || !json.contains("value")) {
      return not_an_answer;
    }
    try {
      return Answer{.found = json.value("found", false),
                    .value = json["value"],
                    .task = json.value("task", ""),
                    .served_by = json.value("served_by", ""),
                    .stale = json.value("stale", false),
                    .lag = json.value("lag", int64_t{0})};
    } catch (const nlohmann::json::exception&) {
      return not_an_answer;
    }
  }
};

QueryService::QueryService(const KafkaStreams& streams, Options options)
    : topology_(streams.topology()),
      streams_(&streams),
      options_(std::move(options)),
      subtopology_of_store_(SubtopologyOfStore(topology_)) {}

QueryService::QueryService(const Topology& topology, const TopologyTestDriver& driver,
                           int32_t partitions)
    : topology_(topology),
      driver_(&driver),
      driver_partitions_(partitions),
      subtopology_of_store_(SubtopologyOfStore(topology_)) {}

HttpReply QueryService::Unavailable(const std::string& reason) const {
  HttpReply reply = Error(503, reason);
  reply.retry_after_s = options_.retry_after_s;
  return reply;
}

HttpReply QueryService::Handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  Served served;
  try {
    served = Serve(request);
  } catch (const nlohmann::json::exception&) {
    // A field of the body with another type than the one read (e.g. "partition": "x").
    served.reply = Error(400, "a field of the body has the wrong type");
  }
  const HttpReply& reply = served.reply;
  const std::string& view = served.view;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const bool forwarded = !request.forwarded_by.empty();
  absl::MutexLock lock(&stats_mutex_);
  ++counts_[{view, reply.status, forwarded}];
  if (!forwarded) latency_.Record(ms, absl::ToUnixMillis(absl::Now()));
  return std::move(served.reply);
}

std::map<QueryService::Counted, int64_t> QueryService::counts() const {
  absl::MutexLock lock(&stats_mutex_);
  return counts_;
}

Sensor::Reading QueryService::latency_ms(int64_t now_ms) const {
  absl::MutexLock lock(&stats_mutex_);
  return latency_.Read(now_ms);
}

QueryService::Routed QueryService::Route(const std::string& path) const {
  // The endpoints: /state/<view>/<kind>, one per kind of view.
  static constexpr std::pair<absl::string_view, QueryableStore::Kind> kKinds[] = {
      {"windows", QueryableStore::Kind::kWindows}, {"key", QueryableStore::Kind::kKey}};
  // What a refusal names: the views there are (built only when refusing).
  const auto refuse = [this](absl::string_view why) {
    std::vector<std::string> views;
    for (const QueryableStore& view : topology_.queryable_stores()) {
      for (const auto& [name, kind] : kKinds) {
        if (view.kind == kind) views.push_back(absl::StrCat(view.name, "/", name));
      }
    }
    return Routed{.refusal = Error(
                      404, absl::StrCat(why, "; ",
                                        views.empty() ? "this topology has no queryable store"
                                                      : absl::StrCat("the queryable stores are ",
                                                                     absl::StrJoin(views, ", "))))};
  };
  const std::vector<std::string> parts = absl::StrSplit(path, '/');  // "", "state", view, kind
  for (const auto& [name, kind] : kKinds) {
    if (parts.size() != 4 || parts[1] != "state" || parts[3] != name) continue;
    const QueryableStore* view = topology_.FindQueryableStore(parts[2], kind);
    if (view == nullptr) return refuse(absl::StrCat("no queryable store ", parts[2], "/", name));
    return {.view = view};
  }
  return refuse("no such endpoint: use POST /state/<store>/windows or /state/<store>/key");
}

QueryService::Served QueryService::Serve(const HttpRequest& request) const {
  Routed routed = Route(request.path);
  if (routed.view == nullptr) return {.reply = std::move(*routed.refusal)};
  const QueryableStore& view = *routed.view;
  Served served{.view = view.name};
  if (request.method != "POST") {
    served.reply = Error(405, absl::StrCat(request.path, " takes POST with a JSON body"));
    return served;
  }
  const nlohmann::json body =
      nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  // The parser's message would quote the body, which may hold a card number: not echoed.
  if (!body.is_object()) {
    served.reply = Error(400, "the body is not a JSON object");
    return served;
  }
  const int subtopology = subtopology_of_store_.at(view.store);
  const int32_t partitions =
      streams_ != nullptr ? streams_->PartitionsOf(subtopology) : driver_partitions_;
  if (partitions <= 0) {
    served.reply = Unavailable("this instance has not started yet");
  } else if (!request.forwarded_by.empty() && streams_ != nullptr) {
    served.reply = ServeForwarded(view, subtopology, partitions, body);
  } else {
    served.reply = ServeClient(view, subtopology, partitions, body, request.path);
  }
  return served;
}

HttpReply QueryService::ServeForwarded(const QueryableStore& view, int subtopology,
                                       int32_t partitions, const nlohmann::json& body) const {
  // Another instance's: answered from here, never forwarded again.
  const int32_t partition = body.value("partition", -1);
  if (partition < 0 || partition >= partitions || !body.contains("key")) {
    return Error(400, "a forwarded query needs its key and a partition of the input");
  }
  const StateQuery query{.key = body.value("key", ""),
                         .from_ms = body.value("from", int64_t{0}),
                         .to_ms = body.value("to", std::numeric_limits<int64_t>::max()),
                         .allow_stale = body.value("allow_stale", false)};
  absl::StatusOr<Answer> answer = AskHere(view, {subtopology, partition}, query);
  if (absl::IsUnavailable(answer.status())) {
    return Unavailable(std::string(answer.status().message()));
  }
  if (!answer.ok()) return Error(500, std::string(answer.status().message()));
  return {.body = answer->ToJson().dump() + "\n"};
}

HttpReply QueryService::ServeClient(const QueryableStore& view, int subtopology,
                                    int32_t partitions, const nlohmann::json& body,
                                    const std::string& path) const {
  absl::StatusOr<StateQuery> parsed = view.parse(body);
  if (!parsed.ok()) return Error(400, std::string(parsed.status().message()));
  const StateQuery& query = *parsed;
  if (query.from_ms > query.to_ms) return Error(400, "\"from\" is after \"to\"");
  // The key's partition, or every partition when the query names no key (a token).
  std::vector<int32_t> asked;
  if (query.partition_key.has_value()) {
    asked.push_back(PartitionForKey(*query.partition_key, partitions));
  } else {
    for (int32_t p = 0; p < partitions; ++p) asked.push_back(p);
  }
  std::optional<Answer> answer;  // the one that found the key, else the first that answered
  std::vector<std::string> unavailable;
  for (int32_t partition : asked) {
    absl::StatusOr<Answer> asked_partition = Ask(view, {subtopology, partition}, query, path);
    if (!asked_partition.ok()) {
      if (!absl::IsUnavailable(asked_partition.status())) {
        return Error(500, std::string(asked_partition.status().message()));
      }
      unavailable.push_back(std::string(asked_partition.status().message()));
      continue;
    }
    if (asked_partition->found) {
      answer = std::move(*asked_partition);
      unavailable.clear();  // the key lives in one partition: this is the answer
      break;
    }
    if (!answer.has_value()) answer = std::move(*asked_partition);
  }
  // Not found in every partition asked: an empty answer only when every one of them answered.
  if (!unavailable.empty()) return Unavailable(absl::StrJoin(unavailable, "; "));
  nlohmann::json reply = {{"store", view.name}};
  reply.update(query.subject);
  reply["task"] = answer->task;
  reply["served_by"] = answer->served_by;
  reply["stale"] = answer->stale;
  if (answer->stale) reply["lag"] = answer->lag;
  reply["found"] = answer->found;
  if (answer->value.is_object()) reply.update(answer->value);
  return {.body = reply.dump() + "\n"};
}

absl::StatusOr<QueryService::Answer> QueryService::AskHere(const QueryableStore& view,
                                                           TaskId id,
                                                           const StateQuery& query) const {
  if (driver_ != nullptr) {
    StateStore* store = driver_->store(id, view.store);
    if (store == nullptr) {
      return absl::NotFoundError(absl::StrCat("task ", id.ToString(), " has no store ",
                                              view.store));
    }
    absl::StatusOr<StoreReading> reading = view.read(*store, query);
    if (!reading.ok()) return reading.status();
    return Answer{.found = reading->found,
                  .value = std::move(reading->value),
                  .task = id.ToString(),
                  .served_by = "weir replay"};
  }
  absl::StatusOr<KafkaStreams::LocalReading> local =
      streams_->ReadLocal(id, view, query, options_.local_timeout);
  if (local.ok()) {
    return Answer{.found = local->reading.found,
                  .value = std::move(local->reading.value),
                  .task = id.ToString(),
                  .served_by = streams_->endpoint(),
                  .stale = local->standby,
                  .lag = local->lag};
  }
  if (absl::IsDeadlineExceeded(local.status())) {  // a stream thread busy: answer 503 too
    return absl::UnavailableError(std::string(local.status().message()));
  }
  return local.status();
}

absl::StatusOr<QueryService::Answer> QueryService::Ask(const QueryableStore& view, TaskId id,
                                                       const StateQuery& query,
                                                       const std::string& path) const {
  absl::StatusOr<Answer> here = AskHere(view, id, query);
  if (driver_ != nullptr || !absl::IsUnavailable(here.status())) return here;
  std::vector<std::string> reasons = {std::string(here.status().message())};
  // Another instance: the one running the task, then (allow_stale) one keeping a standby.
  std::vector<std::string> active, standby;
  for (const InstanceView& instance : streams_->ApplicationView()) {
    if (instance.instance == streams_->process_id() || instance.leaving ||
        instance.endpoint.empty()) {
      continue;
    }
    for (const ActiveTaskView& task : instance.active) {
      if (task.id == id) active.push_back(instance.endpoint);
    }
    for (const StandbyTaskView& task : instance.standby) {
      if (task.id == id && query.allow_stale) standby.push_back(instance.endpoint);
    }
  }
  if (active.empty()) {
    reasons.push_back(absl::StrCat("no other instance runs task ", id.ToString(),
                                   " (a rebalance may be moving it)"));
  }
  std::vector<std::string> endpoints = std::move(active);
  endpoints.insert(endpoints.end(), standby.begin(), standby.end());
  for (const std::string& endpoint : endpoints) {
    absl::StatusOr<Answer> answer = Forward(endpoint, path, id, query);
    if (answer.ok() || !absl::IsUnavailable(answer.status())) return answer;
    reasons.push_back(std::string(answer.status().message()));
  }
  return absl::UnavailableError(absl::StrJoin(reasons, "; "));
}

absl::StatusOr<QueryService::Answer> QueryService::Forward(const std::string& endpoint,
                                                           const std::string& path, TaskId id,
                                                           const StateQuery& query) const {
  HttpCall call{.url = absl::StrCat("http://", endpoint, path),
                .body = ForwardedBody(id, query).dump(),
                .headers = {"Content-Type: application/json",
                            absl::StrCat("X-Weir-Forwarded-By: ", streams_->endpoint())},
                .timeout = absl::ToChronoMilliseconds(options_.forward_timeout)};
  if (!options_.bearer_token.empty()) {
    call.headers.push_back(absl::StrCat("Authorization: Bearer ", options_.bearer_token));
  }
  const HttpResponse response = HttpSend(call);
  if (response.status == 200) return Answer::FromJson(response.body);
  const nlohmann::json error =
      nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const std::string why = error.is_object() && error.contains("error") && error["error"].is_string()
                              ? error["error"].get<std::string>()
                              : response.body;
  if (response.status == 0) {
    return absl::UnavailableError(absl::StrCat("cannot reach ", endpoint, ": ", response.error));
  }
  if (response.status == 503) return absl::UnavailableError(absl::StrCat(endpoint, ": ", why));
  return absl::InternalError(
      absl::StrCat(endpoint, " answered the forwarded query with ", response.status, ": ", why));
}

}  // namespace weir
