// Where a payment's alert spends its time: `weir bench load` times every alert hop by hop with
// librdkafka interceptors (rdkafka.h, "Interceptors") on every client on the path.
//
//   due ──produce──▶ payment acked ──fetch──▶ instance polled it ──process──▶ alert sent
//       ──alert produce──▶ alert acked ──alert fetch──▶ alert read
//
// `due` is the payment's timestamp, the moment the generator scheduled it (the load test sends
// on schedule). The payment producer's on_acknowledgement marks it acked; the instance's
// consumer's on_consume marks it polled (the stream thread has it); the instance's producer's
// on_send and on_acknowledgement mark the alert sent (the sink produced it) and acked; the alert
// reader marks it read. Every clock is this host's wall clock (CLOCK_REALTIME, microseconds), so
// the hops of one alert add up to its end-to-end latency. Payments are matched by txn_id and
// timestamp, alerts by alert_id; an alert is timed when every mark of it and of its triggering
// payment is present.
//
// Thread-safe: interceptors run on librdkafka's broker threads and the stream threads.
#ifndef WEIR_BENCH_HOP_CLOCK_H_
#define WEIR_BENCH_HOP_CLOCK_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace weir::bench {

class HopClock {
 public:
  static constexpr const char* kHops[] = {"produce", "fetch", "process", "alert produce",
                                          "alert fetch"};
  static constexpr int kHopCount = 5;
  struct Alert {
    int64_t due_ms = 0;
    double hops_ms[kHopCount] = {};  // in kHops order
    double total_ms = 0;             // due to read
  };

  HopClock(std::string payments_topic, std::string alerts_topic);
  HopClock(const HopClock&) = delete;
  HopClock& operator=(const HopClock&) = delete;

  // Adds the interceptors to a client's configuration before the client is made. The clock
  // must outlive the client.
  void Intercept(rd_kafka_conf_t* conf);
  // The alert reader read an alert (the alert's JSON fields).
  void AlertRead(absl::string_view alert_id, absl::string_view txn_id, int64_t ts);
  // Every alert read so far with all its marks.
  std::vector<Alert> Alerts() const;

 private:
  struct PaymentMarks {
    int64_t acked_us = 0, polled_us = 0;
  };
  struct AlertMarks {
    int64_t sent_us = 0, acked_us = 0, read_us = 0;
    std::string payment;  // txn_id@ts
    int64_t due_ms = 0;
  };
  static rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t*, void* self, char*,
                                   size_t);
  static rd_kafka_resp_err_t OnSend(rd_kafka_t*, rd_kafka_message_t* message, void* self);
  static rd_kafka_resp_err_t OnAcknowledgement(rd_kafka_t*, rd_kafka_message_t* message,
                                               void* self);
  static rd_kafka_resp_err_t OnConsume(rd_kafka_t*, rd_kafka_message_t* message, void* self);

  const std::string payments_topic_, alerts_topic_;
  mutable absl::Mutex mutex_;
  absl::flat_hash_map<std::string, PaymentMarks> payments_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, AlertMarks> alerts_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace weir::bench

#endif  // WEIR_BENCH_HOP_CLOCK_H_
