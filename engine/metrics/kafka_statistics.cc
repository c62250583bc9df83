#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "engine/metrics/thread_metrics.h"

namespace weir {

absl::StatusOr<KafkaClientStats> ParseKafkaStatistics(absl::string_view json) {
  const nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("librdkafka statistics are not a JSON object");
  }
  KafkaClientStats stats;
  stats.reported = true;
  stats.client_id = doc.value("client_id", "");
  stats.tx_bytes = doc.value("tx_bytes", int64_t{0});
  stats.rx_bytes = doc.value("rx_bytes", int64_t{0});
  stats.tx_requests = doc.value("tx", int64_t{0});
  stats.queued_messages = doc.value("msg_cnt", int64_t{0});
  stats.reply_queue = doc.value("replyq", int64_t{0});
  double rtt_sum = 0;
  int rtt_brokers = 0;
  if (auto brokers = doc.find("brokers"); brokers != doc.end() && brokers->is_object()) {
    for (const auto& [name, broker] : brokers->items()) {
      if (!broker.is_object() || broker.value("nodeid", -1) < 0) continue;  // bootstrap entries
      ++stats.brokers;
      if (broker.value("state", std::string()) == "UP") ++stats.brokers_up;
      const auto rtt = broker.find("rtt");
      if (rtt == broker.end() || rtt->value("cnt", 0) <= 0) continue;
      rtt_sum += rtt->value("avg", 0.0) / 1'000.0;  // µs -> ms
      ++rtt_brokers;
    }
  }
  if (rtt_brokers > 0) stats.request_latency_avg_ms = rtt_sum / rtt_brokers;
  if (auto topics = doc.find("topics"); topics != doc.end() && topics->is_object()) {
    for (const auto& [topic, t] : topics->items()) {
      const auto partitions = t.find("partitions");
      if (partitions == t.end() || !partitions->is_object()) continue;
      for (const auto& [id, p] : partitions->items()) {
        const int32_t partition = p.value("partition", -1);
        if (partition < 0 || !p.value("fetch_state", std::string()).starts_with("active")) continue;
        // Kafka's records-lag: high watermark - the consumer's position.
        const int64_t high = p.value("hi_offset", int64_t{-1});
        const int64_t position = p.value("app_offset", int64_t{-1});
        if (high < 0) continue;
        int64_t lag = p.value("consumer_lag", int64_t{-1});  // from the committed offset
        if (position >= 0) {
          lag = high - position;
        } else if (lag < 0) {
          lag = high - p.value("lo_offset", int64_t{0});  // nothing consumed or committed yet
        }
        stats.records_lag[{topic, partition}] = std::max<int64_t>(lag, 0);
      }
    }
  }
  return stats;
}

}  // namespace weir
