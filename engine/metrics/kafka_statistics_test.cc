#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/metrics/thread_metrics.h"

namespace weir {
namespace {

// A trimmed librdkafka statistics document (STATISTICS.md's fields).
constexpr char kConsumerStats[] = R"({
  "name": "app-StreamThread-1-consumer#consumer-1", "client_id": "app-StreamThread-1-consumer",
  "type": "consumer", "tx": 120, "tx_bytes": 9000, "rx_bytes": 64000, "msg_cnt": 0, "replyq": 3,
  "brokers": {
    "127.0.0.1:9092/1": {"nodeid": 1, "state": "UP", "rtt": {"avg": 2000, "cnt": 10}},
    "127.0.0.1:9093/2": {"nodeid": 2, "state": "UP", "rtt": {"avg": 4000, "cnt": 10}},
    "GroupCoordinator": {"nodeid": -1, "state": "UP", "rtt": {"avg": 900000, "cnt": 1}}
  },
  "topics": {"payments": {"partitions": {
    "0": {"partition": 0, "fetch_state": "active", "hi_offset": 1000, "app_offset": 900,
          "consumer_lag": 400, "lo_offset": 0},
    "1": {"partition": 1, "fetch_state": "active", "hi_offset": 500, "app_offset": -1001,
          "consumer_lag": 120, "lo_offset": 0},
    "2": {"partition": 2, "fetch_state": "none", "hi_offset": 700, "app_offset": -1001},
    "-1": {"partition": -1, "fetch_state": "none", "hi_offset": -1}
  }}}
})";

TEST(KafkaStatistics, ReadsBytesLatencyAndLagPerAssignedPartition) {
  absl::StatusOr<KafkaClientStats> stats = ParseKafkaStatistics(kConsumerStats);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->client_id, "app-StreamThread-1-consumer");
  EXPECT_EQ(stats->tx_bytes, 9000);
  EXPECT_EQ(stats->rx_bytes, 64000);
  EXPECT_EQ(stats->tx_requests, 120);
  EXPECT_EQ(stats->reply_queue, 3);
  EXPECT_DOUBLE_EQ(stats->request_latency_avg_ms, 3.0) << "µs to ms, real brokers only";
  using Lag = std::map<std::pair<std::string, int32_t>, int64_t>;
  EXPECT_EQ(stats->records_lag, (Lag{{{"payments", 0}, 100}, {{"payments", 1}, 120}}))
      << "position-based where the position is known, committed-based otherwise; unassigned "
         "partitions left out";
}

TEST(KafkaStatistics, CountsTheBrokersItReaches) {
  absl::StatusOr<KafkaClientStats> stats = ParseKafkaStatistics(kConsumerStats);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->brokers, 2) << "real brokers only, not the logical coordinator entry";
  EXPECT_EQ(stats->brokers_up, 2);
  ThreadMetrics metrics{.consumer = *stats};
  EXPECT_FALSE(metrics.brokers_unreachable());

  // Every broker gone: the connections retry (TRY_CONNECT, CONNECT, DOWN), none is UP.
  stats = ParseKafkaStatistics(R"({"brokers": {
    "127.0.0.1:9092/1": {"nodeid": 1, "state": "TRY_CONNECT"},
    "127.0.0.1:9093/2": {"nodeid": 2, "state": "DOWN"},
    "127.0.0.1:9092/bootstrap": {"nodeid": -1, "state": "UP"}}})");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->brokers, 2);
  EXPECT_EQ(stats->brokers_up, 0);
  metrics.consumer = *stats;
  EXPECT_TRUE(metrics.brokers_unreachable());
  EXPECT_FALSE(ThreadMetrics{}.brokers_unreachable()) << "no statistics yet: nothing known";
}

TEST(KafkaStatistics, RejectsWhatIsNotAStatisticsDocument) {
  EXPECT_FALSE(ParseKafkaStatistics("not json").ok());
  EXPECT_FALSE(ParseKafkaStatistics("[1, 2]").ok());
}

}  // namespace
}  // namespace weir
