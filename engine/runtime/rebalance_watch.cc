#include "engine/runtime/rebalance_watch.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace weir {
namespace {

constexpr char kName[] = "weir-rebalance-watch";
constexpr int16_t kJoinGroupApiKey = 11;  // Kafka protocol: JoinGroup

}  // namespace

RebalanceWatch::RebalanceWatch(std::string name, int64_t max_pending_ms,
                               std::function<int64_t()> steady_ms)
    : name_(std::move(name)), max_pending_ms_(max_pending_ms), steady_ms_(std::move(steady_ms)) {}

void RebalanceWatch::Intercept(rd_kafka_conf_t* conf) {
  rd_kafka_conf_interceptor_add_on_new(conf, kName, &RebalanceWatch::OnNew, this);
}

rd_kafka_resp_err_t RebalanceWatch::OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* self,
                                          char*, size_t) {
  return rd_kafka_interceptor_add_on_request_sent(rk, kName, &RebalanceWatch::OnRequestSent,
                                                  self);
}

rd_kafka_resp_err_t RebalanceWatch::OnRequestSent(rd_kafka_t*, int, const char*, int32_t,
                                                  int16_t api_key, int16_t, int32_t, size_t,
                                                  void* self) {
  if (api_key == kJoinGroupApiKey) static_cast<RebalanceWatch*>(self)->OnJoinGroupSent();
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void RebalanceWatch::Open() {
  int64_t none = -1;
  pending_since_ms_.compare_exchange_strong(none, steady_ms_());
}

void RebalanceWatch::OnJoinGroupSent() {
  ++joins_sent_;
  Open();
}

void RebalanceWatch::OnCommitRejected() { Open(); }

void RebalanceWatch::OnRevoke(bool cooperative) {
  revoked_ = cooperative;
  joins_at_revoke_ = joins_sent_;
  Open();
}

void RebalanceWatch::BeforeAssign() {
  // librdkafka follows a cooperative revocation with an assignment (perhaps empty) and only then
  // rejoins; after an eager one, or a cooperative one of everything (a lost assignment), it
  // rejoins first, which the JoinGroup count shows.
  rejoin_follows_assign_ = std::exchange(revoked_, false) && joins_sent_ == joins_at_revoke_;
  joins_at_assign_ = joins_sent_;
}

void RebalanceWatch::AfterAssign() {
  if (rejoin_follows_assign_ || joins_sent_ != joins_at_assign_) return;
  pending_since_ms_ = -1;
  overdue_warned_ = false;
}

bool RebalanceWatch::HoldsCommits() {
  const int64_t since = pending_since_ms_;
  if (since < 0) return false;
  const int64_t pending_ms = steady_ms_() - since;
  if (pending_ms < max_pending_ms_) return true;
  if (!overdue_warned_) {
    overdue_warned_ = true;
    spdlog::warn(
        "{}: the group's rebalance has not completed after {} ms (max.poll.interval.ms); "
        "committing anyway",
        name_, pending_ms);
  }
  return false;
}

}  // namespace weir
