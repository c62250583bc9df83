// Tells a stream thread when its group consumer is between joining the group and being given
// its assignment, so that it holds its offset commits until then (the Java consumer refuses
// commitSync in that state with RebalanceInProgressException; Kafka Streams retries later).
//
// Why. A broker answers the requests of one connection in order, and a JoinGroup is answered
// only when the group's join completes. An OffsetCommit sent after this member's JoinGroup is
// therefore answered after the join, when the generation it carries is already the old one:
// ILLEGAL_GENERATION. librdkafka before 2.10.0 (its #4908; Debian 12 ships 2.0.2) then declares
// the member's whole assignment lost in the middle of a cooperative rebalance: every task is
// closed dirty, and the member joins with no owned partitions, so the sticky assignor cannot keep
// them where they were. Holding commits while a join is pending avoids it on every version.
//
// How it knows. librdkafka exposes no join state, so an on_request_sent interceptor sees the
// JoinGroup leave (Kafka API key 11) and the rebalance callbacks mark the end:
//  - a JoinGroup sent, a commit rejected with REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION, or a
//    revocation (a cooperative one is always followed by a rejoin) opens the pending state;
//  - the assignment callback closes it, unless a rejoin follows it (the cooperative "assign
//    after revoke": no JoinGroup was sent since the revocation) or a new JoinGroup left while
//    the callback ran.
// One gap stays: a commit issued in the instant between librdkafka learning of a rebalance from
// a heartbeat and its JoinGroup leaving is still sent after it. And a join that never completes
// cannot hold commits forever: after `max_pending_ms` (the consumer's max.poll.interval.ms, the
// longest a join may legitimately take) the watch lets them through and says so.
//
// Thread-safety: the interceptor runs on librdkafka's broker threads; everything else is called
// by the stream thread that owns the consumer.
#ifndef WEIR_ENGINE_RUNTIME_REBALANCE_WATCH_H_
#define WEIR_ENGINE_RUNTIME_REBALANCE_WATCH_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace weir {

class RebalanceWatch {
 public:
  // `steady_ms` is a monotonic clock in milliseconds (tests pass their own).
  RebalanceWatch(std::string name, int64_t max_pending_ms, std::function<int64_t()> steady_ms);

  // Adds the JoinGroup interceptor to a consumer's configuration before the consumer is made.
  // The watch must outlive the consumer.
  void Intercept(rd_kafka_conf_t* conf);

  // The rebalance callback's events, in the stream thread. OnRevoke comes before the partitions
  // are given up (librdkafka may rejoin as soon as they are); `cooperative`: the incremental
  // protocol's.
  void OnRevoke(bool cooperative);
  void BeforeAssign();
  void AfterAssign();
  // A commit was answered REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION: a join is coming.
  void OnCommitRejected();
  // What the interceptor records when this member's JoinGroup leaves.
  void OnJoinGroupSent();

  // True while commits should wait for the rebalance to complete.
  bool HoldsCommits();

 private:
  static rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* conf, void* self,
                                   char* errstr, size_t errstr_size);
  static rd_kafka_resp_err_t OnRequestSent(rd_kafka_t* rk, int sockfd, const char* brokername,
                                           int32_t brokerid, int16_t api_key, int16_t api_version,
                                           int32_t corr_id, size_t size, void* self);
  void Open();

  const std::string name_;
  const int64_t max_pending_ms_;
  const std::function<int64_t()> steady_ms_;
  std::atomic<int64_t> joins_sent_{0};
  std::atomic<int64_t> pending_since_ms_{-1};  // -1: no rebalance pending
  // Stream thread only.
  bool revoked_ = false;  // a cooperative revocation since the last assignment callback
  int64_t joins_at_revoke_ = 0;
  int64_t joins_at_assign_ = 0;
  bool rejoin_follows_assign_ = false;  // the assignment being called is the "assign after revoke"
  bool overdue_warned_ = false;
};

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_REBALANCE_WATCH_H_
