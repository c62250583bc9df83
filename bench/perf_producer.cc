#include "bench/perf_producer.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "bench/measure.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"

namespace weir::bench {

using Clock = std::chrono::steady_clock;

void PerfStats::Sent(size_t bytes) {
  ++sent_;
  bytes_ += static_cast<int64_t>(bytes);
  ++window_sent_;
  window_bytes_ += static_cast<int64_t>(bytes);
}

void PerfStats::Acknowledged(double latency_ms) {
  latencies_.push_back(static_cast<float>(latency_ms));
  window_latency_sum_ += latency_ms;
  window_latency_max_ = std::max(window_latency_max_, latency_ms);
  ++window_acknowledged_;
}

void PerfStats::PrintWindow(double seconds) {
  std::fprintf(stderr,
               "%lld records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms "
               "max latency.\n",
               static_cast<long long>(window_sent_), window_sent_ / seconds,
               window_bytes_ / seconds / (1024.0 * 1024.0),
               window_acknowledged_ > 0 ? window_latency_sum_ / window_acknowledged_ : 0.0,
               window_latency_max_);
  window_sent_ = window_bytes_ = window_acknowledged_ = 0;
  window_latency_sum_ = window_latency_max_ = 0;
}

PerfStats::Totals PerfStats::Total(double seconds) {
  std::sort(latencies_.begin(), latencies_.end());
  auto at = [&](double q) { return latencies_.empty() ? 0.0 : PercentileOfSorted(latencies_, q); };
  double sum = 0;
  for (float l : latencies_) sum += l;
  return {.records = sent_,
          .records_per_s = sent_ / seconds,
          .mb_per_s = bytes_ / seconds / (1024.0 * 1024.0),
          .avg_ms = latencies_.empty() ? 0.0 : sum / static_cast<double>(latencies_.size()),
          .max_ms = latencies_.empty() ? 0.0 : latencies_.back(),
          .p50_ms = at(0.5),
          .p95_ms = at(0.95),
          .p99_ms = at(0.99),
          .p999_ms = at(0.999)};
}

void PerfStats::PrintTotal(double seconds) {
  const Totals t = Total(seconds);
  std::fprintf(stderr,
               "%lld records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms "
               "max latency, %.0f ms 50th, %.0f ms 95th, %.0f ms 99th, %.0f ms 99.9th.\n",
               static_cast<long long>(t.records), t.records_per_s, t.mb_per_s, t.avg_ms, t.max_ms,
               t.p50_ms, t.p95_ms, t.p99_ms, t.p999_ms);
}

void PerfStats::PrintWritten(double seconds) const {
  std::fprintf(stderr, "%lld records written, %.1f records/sec (%.2f MB/sec).\n",
               static_cast<long long>(sent_), sent_ / seconds,
               bytes_ / seconds / (1024.0 * 1024.0));
}

PerfProducer::PerfProducer(std::string topic, PerfStats* stats)
    : topic_(std::move(topic)), stats_(stats) {}

absl::StatusOr<std::unique_ptr<PerfProducer>> PerfProducer::Create(
    const ClientProperties& properties, std::string topic, PerfStats* stats,
    const std::function<void(rd_kafka_conf_t*)>& configure) {
  auto producer = std::unique_ptr<PerfProducer>(new PerfProducer(std::move(topic), stats));
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kProducer));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &PerfProducer::OnDelivery);
  rd_kafka_conf_set_opaque(conf.get(), producer.get());
  if (configure) configure(conf.get());
  WEIR_ASSIGN_OR_RETURN(producer->producer_,
                        NewKafkaClient(std::move(conf), ClientKind::kProducer));
  return producer;
}

void PerfProducer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<PerfProducer*>(opaque);
  const auto sent_at =
      Clock::time_point(Clock::duration(reinterpret_cast<intptr_t>(message->_private)));
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(message->err);
    return;
  }
  self->stats_->Acknowledged(
      std::chrono::duration<double, std::milli>(Clock::now() - sent_at).count());
}

absl::Status PerfProducer::Failed() const {
  if (failed_ == 0) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat(failed_, " records to ", topic_, " failed: ", first_error_));
}

absl::Status PerfProducer::Send(const std::string& key, const std::string& value,
                                int64_t timestamp_ms) {
  for (;;) {
    const auto opaque =
        reinterpret_cast<void*>(static_cast<intptr_t>(Clock::now().time_since_epoch().count()));
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),  // "": no key
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return KafkaStatus(err, absl::StrCat("producing to ", topic_));
    }
    rd_kafka_poll(producer_.get(), 10);  // the queue drains as deliveries are reported
  }
  stats_->Sent(key.size() + value.size());
  return Failed();
}

void PerfProducer::Poll(std::chrono::milliseconds timeout) {
  rd_kafka_poll(producer_.get(), static_cast<int>(timeout.count()));
}

absl::Status PerfProducer::Flush() {
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_flush(producer_.get(), 60'000),
                                   absl::StrCat("flushing the records to ", topic_)));
  return Failed();
}

}  // namespace weir::bench
