// Builds librdkafka configurations from the application config.
//
// Every client gets `bootstrap.servers`, then the `kafka.` properties, then the properties of
// its own kind (`consumer.`, `producer.`, `admin.`), later ones winning, exactly as Kafka Streams
// layers its client prefixes. Secrets belong in the environment: a value written as `${NAME}` is
// replaced by the environment variable NAME, and an unset variable is an error.
#ifndef WEIR_ENGINE_KAFKA_CLIENT_CONFIG_H_
#define WEIR_ENGINE_KAFKA_CLIENT_CONFIG_H_

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/processor/record.h"

namespace weir {

enum class ClientKind { kConsumer, kProducer, kAdmin };

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// Properties for one client, before they reach librdkafka.
struct ClientProperties {
  std::string bootstrap_servers;
  std::map<std::string, std::string> common;    // the `kafka.` properties
  std::map<std::string, std::string> specific;  // `consumer.`/`producer.`/`admin.` properties
};

// Sets one librdkafka property on `conf`, expanding `${NAME}`; InvalidArgument says why
// librdkafka (or the environment) refused it, without naming the key.
absl::Status SetKafkaProperty(rd_kafka_conf_t* conf, const std::string& property,
                              const std::string& value);

// Returns a librdkafka conf with every property set, or InvalidArgument naming the property
// (with its prefix, e.g. 'consumer.fetch.min.bytes') and librdkafka's complaint.
absl::StatusOr<KafkaConf> BuildKafkaConf(const ClientProperties& properties, ClientKind kind);

// Creates a client of `kind` from `conf` (which it takes over).
absl::StatusOr<KafkaHandle> NewKafkaClient(KafkaConf conf, ClientKind kind);

// The last login a broker refused this process's clients (SASL authentication or the TLS
// handshake), as librdkafka logged it; librdkafka reports the requests that then cannot be sent
// only as transport failures or timeouts.
std::optional<std::string> LastLoginFailure();

// `status` with the last refused login appended, when there was one: why a request failed.
// With SCRAM on librdkafka before 2.6.1, also why (Kafka 4.x refuses its logins).
absl::Status ExplainLoginFailure(absl::Status status);

// A copy of the record in `message`: key, value, timestamp and headers.
RawRecord ToRawRecord(const rd_kafka_message_t& message);

// Fills `batch` (as many messages as it has room for) from a consumer's `queue`, waiting up to
// `timeout_ms` for the first message and not for a full batch: rd_kafka_consume_batch_queue
// alone returns only when the batch is full or the time is up, so at any rate below a batch
// per timeout every message would wait out the timeout. Like Kafka's poll(), it then takes what
// has already arrived. The count, or -1 on error.
ssize_t ConsumeBatch(rd_kafka_queue_t* queue, int timeout_ms,
                     std::vector<rd_kafka_message_t*>& batch);

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_CLIENT_CONFIG_H_
