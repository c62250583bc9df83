// The /state endpoints: interactive queries answered by whichever instance holds the key
// (docs/queries.md; the views are the topology's, engine/processor/state_query.h).
//
//   POST /state/<view>/windows   (or /key)   body: the view's query, e.g. {"card": "...",
//                                            "from": ms, "to": ms, "allow_stale": false}
//
// Routing (Kafka Streams' queryMetadataForKey): the view names the input key whose murmur2
// partition holds the store key; task <subtopology>_<partition> is read here when it is active
// here, else the query goes to the instance the membership view (engine/runtime/membership.h) shows
// running it, at its `application.server`, in an internal form carrying the store key, never the
// input key (the card number stays on the instance it was sent to). A query without a partition
// key (a card asked by token) asks every partition. With "allow_stale", a standby may answer
// (here first, then elsewhere) and the answer says so with its lag.
//
// Answers: 200 with the view's reading and where it came from; 400 for a body the view refuses
// (naming the field); 404 for an unknown view; 503 with Retry-After and the reason while the
// task is restoring, its thread rebalancing, or no instance runs it - never a partial answer.
//
// Concurrency: Handle() is called on the HTTP server's threads, concurrently.
#ifndef WEIR_ENGINE_HTTP_QUERY_SERVICE_H_
#define WEIR_ENGINE_HTTP_QUERY_SERVICE_H_

#include <map>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/sensor.h"
#include "engine/http/http_server.h"
#include "engine/runtime/kafka_streams.h"
#include "engine/runtime/test_driver.h"

namespace weir {

class QueryService {
 public:
  struct Options {
    // Sent on forwarded queries (the instances share one token); empty: none.
    std::string bearer_token;
    absl::Duration local_timeout = absl::Seconds(5);     // a stream thread's answer
    absl::Duration forward_timeout = absl::Seconds(10);  // another instance's
    int retry_after_s = 1;
  };

  // Queries a running instance; `streams` must outlive the service.
  QueryService(const KafkaStreams& streams, Options options);
  // Queries the tasks of a test driver running `topology` over `partitions` partitions
  // (`weir replay --query`): the same answers, read in process. Both must outlive the service.
  QueryService(const Topology& topology, const TopologyTestDriver& driver, int32_t partitions);

  HttpReply Handle(const HttpRequest& request) const;

  // What /metrics shows (weir_state_queries_total, weir_state_query_latency_*): requests by
  // view ("-" for none), status and who sent them ("client" or "instance", a forwarded one),
  // and the latency of those from clients. Thread-safe.
  struct Counted {
    std::string view;
    int status = 0;
    bool forwarded = false;
    auto operator<=>(const Counted&) const = default;
  };
  std::map<Counted, int64_t> counts() const ABSL_LOCKS_EXCLUDED(stats_mutex_);
  Sensor::Reading latency_ms(int64_t now_ms) const ABSL_LOCKS_EXCLUDED(stats_mutex_);

 private:
  struct Answer;
  // What a request's path names: a view, or the reply refusing it (404 naming the views).
  struct Routed {
    const QueryableStore* view = nullptr;
    std::optional<HttpReply> refusal;
  };
  Routed Route(const std::string& path) const;
  // Handle() without its accounting: the reply, and the view it was for ("-": none).
  struct Served {
    std::string view = "-";
    HttpReply reply;
  };
  Served Serve(const HttpRequest& request) const;
  // A query another instance forwarded (the store key and partition): answered here.
  HttpReply ServeForwarded(const QueryableStore& view, int subtopology, int32_t partitions,
                           const nlohmann::json& body) const;
  // A client's query: its partition (or every partition, for a token) asked here or forwarded.
  HttpReply ServeClient(const QueryableStore& view, int subtopology, int32_t partitions,
                        const nlohmann::json& body, const std::string& path) const;
  // Task `id` read for `query` here: from the test driver, or this instance's task or standby
  // (Unavailable, with the reason, when neither can answer).
  absl::StatusOr<Answer> AskHere(const QueryableStore& view, TaskId id,
                                 const StateQuery& query) const;
  // Task `id` read for `query`: here, or on the instance running it.
  absl::StatusOr<Answer> Ask(const QueryableStore& view, TaskId id, const StateQuery& query,
                             const std::string& path) const;
  absl::StatusOr<Answer> Forward(const std::string& endpoint, const std::string& path,
                                 TaskId id, const StateQuery& query) const;
  HttpReply Unavailable(const std::string& reason) const;

  const Topology& topology_;
  const KafkaStreams* const streams_ = nullptr;       // one of these two
  const TopologyTestDriver* const driver_ = nullptr;
  const int32_t driver_partitions_ = 0;
  const Options options_;
  const std::map<std::string, int> subtopology_of_store_;
  mutable absl::Mutex stats_mutex_;
  mutable std::map<Counted, int64_t> counts_ ABSL_GUARDED_BY(stats_mutex_);
  mutable Sensor latency_ ABSL_GUARDED_BY(stats_mutex_);  // one writer at a time: the mutex
};

}  // namespace weir

#endif  // WEIR_ENGINE_HTTP_QUERY_SERVICE_H_
