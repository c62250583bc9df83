// The embedded Kafka-protocol broker: librdkafka's mock cluster, in process.
//
// Operation. Start() creates a mock cluster of N brokers listening on 127.0.0.1 at ephemeral
// ports; bootstrap_servers() names them for any Kafka client (weir's own, kcat, confluent-kafka).
// The cluster lives until the EmbeddedBroker is destroyed.
//
// Limitations (librdkafka 2.0.2, measured; docs/broker.md):
//  - data lives in memory only and at most 5 MiB or 100,000 messages per partition are kept:
//    older records vanish and the log start offset moves;
//  - no CreateTopics, DescribeGroups or ListGroups: create topics with CreateTopic() here;
//    unknown topics are auto-created on first use with 4 partitions;
//  - transactional offset commits are accepted but not stored and aborted records are visible to
//    read_committed consumers, so exactly-once cannot be proven against it;
//  - a consumer group join takes about 3 s.
//
// Concurrency: the cluster runs on librdkafka's own threads; the methods here are thread-safe.
#ifndef WEIR_ENGINE_KAFKA_EMBEDDED_BROKER_H_
#define WEIR_ENGINE_KAFKA_EMBEDDED_BROKER_H_

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_admin.h"

namespace weir {

class EmbeddedBroker {
 public:
  static constexpr int kMaxBrokers = 16;

  // Starts a cluster of `brokers` (1..kMaxBrokers) brokers. Fails with kInternal when
  // librdkafka cannot create it (e.g. no free port).
  static absl::StatusOr<std::unique_ptr<EmbeddedBroker>> Start(int brokers);

  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;
  ~EmbeddedBroker();

  // "127.0.0.1:port,..." for every broker.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  // The brokers' sockets (listeners and the connections they accepted), and how many of them
  // send with Nagle's algorithm on: Start() turns it off on the listeners, which the
  // connections inherit (a flush to several partitions would otherwise wait ~40 ms).
  struct SocketCount {
    int total = 0;
    int with_nagle = 0;
  };
  SocketCount Sockets() const;
  int brokers() const { return brokers_; }

  // Creates `topic` with replication factor min(3, brokers). Creating an existing topic with
  // the same partition count is OK; librdkafka's error otherwise.
  absl::Status CreateTopic(const TopicSpec& topic);

 private:
  EmbeddedBroker(KafkaHandle owner, rd_kafka_mock_cluster_t* cluster, int brokers);

  KafkaHandle owner_;  // the client handle the mock cluster lives in
  rd_kafka_mock_cluster_t* cluster_;
  int brokers_;
  std::string bootstrap_servers_;
};

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_EMBEDDED_BROKER_H_
