#include "bench/hop_clock.h"

#include <time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace weir::bench {
namespace {

constexpr const char* kName = "weir-hop-clock";

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

absl::string_view Payload(const rd_kafka_message_t& m) {
  return m.payload == nullptr ? absl::string_view()
                              : absl::string_view(static_cast<const char*>(m.payload), m.len);
}

// The string value of `"field":"..."` in a flat JSON object; empty when absent.
absl::string_view Field(absl::string_view json, absl::string_view field) {
  const std::string needle = absl::StrCat("\"", field, "\":\"");
  const size_t at = json.find(needle);
  if (at == absl::string_view::npos) return {};
  const size_t start = at + needle.size();
  const size_t end = json.find('"', start);
  return end == absl::string_view::npos ? absl::string_view() : json.substr(start, end - start);
}

std::string PaymentKey(absl::string_view txn_id, int64_t ts) { return absl::StrCat(txn_id, "@", ts); }

// A payment's txn_id@ts, from its JSON: not from the record's timestamp, which a produce
// acknowledgement may replace with the broker's append time (the embedded broker's is 1234).
std::string PaymentKey(absl::string_view json) {
  int64_t ts = 0;
  const size_t at = json.find("\"ts\":");
  if (at != absl::string_view::npos) {
    absl::string_view digits = json.substr(at + 5);
    digits = digits.substr(0, digits.find_first_not_of("0123456789"));
    if (!absl::SimpleAtoi(digits, &ts)) ts = 0;
  }
  return PaymentKey(Field(json, "txn_id"), ts);
}

bool IsTopic(const rd_kafka_message_t& m, const std::string& topic) {
  return m.rkt != nullptr && topic == rd_kafka_topic_name(m.rkt);
}

}  // namespace

HopClock::HopClock(std::string payments_topic, std::string alerts_topic)
    : payments_topic_(std::move(payments_topic)), alerts_topic_(std::move(alerts_topic)) {}

void HopClock::Intercept(rd_kafka_conf_t* conf) {
  rd_kafka_conf_interceptor_add_on_new(conf, kName, &HopClock::OnNew, this);
}

rd_kafka_resp_err_t HopClock::OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* self, char*,
                                    size_t) {
  rd_kafka_interceptor_add_on_send(rk, kName, &HopClock::OnSend, self);
  rd_kafka_interceptor_add_on_acknowledgement(rk, kName, &HopClock::OnAcknowledgement, self);
  rd_kafka_interceptor_add_on_consume(rk, kName, &HopClock::OnConsume, self);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t HopClock::OnSend(rd_kafka_t*, rd_kafka_message_t* message, void* self) {
  auto* clock = static_cast<HopClock*>(self);
  if (!IsTopic(*message, clock->alerts_topic_)) return RD_KAFKA_RESP_ERR_NO_ERROR;
  const absl::string_view alert_id = Field(Payload(*message), "alert_id");
  if (alert_id.empty()) return RD_KAFKA_RESP_ERR_NO_ERROR;
  const int64_t now = NowUs();
  absl::MutexLock lock(&clock->mutex_);
  AlertMarks& marks = clock->alerts_[alert_id];
  if (marks.sent_us == 0) marks.sent_us = now;  // the first send; a retry keeps it
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t HopClock::OnAcknowledgement(rd_kafka_t*, rd_kafka_message_t* message,
                                                void* self) {
  auto* clock = static_cast<HopClock*>(self);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) return RD_KAFKA_RESP_ERR_NO_ERROR;
  const int64_t now = NowUs();
  if (IsTopic(*message, clock->payments_topic_)) {
    const std::string key = PaymentKey(Payload(*message));
    absl::MutexLock lock(&clock->mutex_);
    PaymentMarks& marks = clock->payments_[key];
    if (marks.acked_us == 0) marks.acked_us = now;
  } else if (IsTopic(*message, clock->alerts_topic_)) {
    const absl::string_view alert_id = Field(Payload(*message), "alert_id");
    absl::MutexLock lock(&clock->mutex_);
    AlertMarks& marks = clock->alerts_[alert_id];
    if (marks.acked_us == 0) marks.acked_us = now;
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t HopClock::OnConsume(rd_kafka_t*, rd_kafka_message_t* message, void* self) {
  auto* clock = static_cast<HopClock*>(self);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR || !IsTopic(*message, clock->payments_topic_)) {
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  const int64_t now = NowUs();
  const std::string key = PaymentKey(Payload(*message));
  absl::MutexLock lock(&clock->mutex_);
  PaymentMarks& marks = clock->payments_[key];
  if (marks.polled_us == 0) marks.polled_us = now;  // the first poll; a replay keeps it
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void HopClock::AlertRead(absl::string_view alert_id, absl::string_view txn_id, int64_t ts) {
  const int64_t now = NowUs();
  absl::MutexLock lock(&mutex_);
  AlertMarks& marks = alerts_[alert_id];
  if (marks.read_us != 0) return;
  marks.read_us = now;
  marks.payment = PaymentKey(txn_id, ts);
  marks.due_ms = ts;
}

std::vector<HopClock::Alert> HopClock::Alerts() const {
  absl::MutexLock lock(&mutex_);
  std::vector<Alert> out;
  // Alerts missing each mark, in path order: payment acked, polled, alert sent, acked, read.
  int64_t missing[5] = {};
  for (const auto& [id, a] : alerts_) {
    const auto payment = payments_.find(a.payment);
    const PaymentMarks p = payment == payments_.end() ? PaymentMarks{} : payment->second;
    const int64_t marks_present[] = {p.acked_us, p.polled_us, a.sent_us, a.acked_us, a.read_us};
    bool complete = true;
    for (int i = 0; i < 5; ++i) {
      if (marks_present[i] == 0) {
        ++missing[i];
        complete = false;
      }
    }
    if (!complete) continue;
    const int64_t marks[] = {a.due_ms * 1000, p.acked_us, p.polled_us, a.sent_us, a.acked_us,
                             a.read_us};
    Alert alert{.due_ms = a.due_ms};
    for (int i = 0; i < kHopCount; ++i) alert.hops_ms[i] = (marks[i + 1] - marks[i]) / 1000.0;
    alert.total_ms = (a.read_us - a.due_ms * 1000) / 1000.0;
    out.push_back(alert);
  }
  spdlog::info(
      "hop clock: {} of {} alerts timed; missing a mark: payment acked {}, polled {}, alert sent "
      "{}, acked {}, read {}",
      out.size(), alerts_.size(), missing[0], missing[1], missing[2], missing[3], missing[4]);
  return out;
}

}  // namespace weir::bench
