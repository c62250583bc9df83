#include "engine/kafka/client_config.h"

#include <cstdlib>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/status.h"

namespace weir {
namespace {

absl::string_view PrefixOf(ClientKind kind) {
  switch (kind) {
    case ClientKind::kConsumer:
      return "consumer.";
    case ClientKind::kProducer:
      return "producer.";
    case ClientKind::kAdmin:
      return "admin.";
  }
  return "";
}

// Replaces a whole-value `${NAME}` with the environment variable NAME.
absl::StatusOr<std::string> ExpandEnvironment(const std::string& value) {
  if (!absl::StartsWith(value, "${") || !absl::EndsWith(value, "}")) return value;
  const std::string name = value.substr(2, value.size() - 3);
  const char* env = std::getenv(name.c_str());
  if (env == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, " is not set (the value is ", value, ")"));
  }
  return std::string(env);
}

absl::Mutex login_failure_mutex;
std::optional<std::string>* last_login_failure ABSL_GUARDED_BY(login_failure_mutex) = nullptr;

// librdkafka's log callback (called on librdkafka's threads): syslog levels to spdlog, and a
// refused login (which librdkafka only logs) kept for LastLoginFailure().
void LogFromLibrdkafka(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  const absl::string_view message(text);
  // "Broker handle destroyed" is this client closing mid-handshake, not a refusal: keeping it
  // would hide the broker's own answer (seen once: SaslSsl.ScramSha512... lost its explanation).
  if (level <= 3 &&
      (absl::StrContains(message, "SASL authentication error") ||
       absl::StrContains(message, "SSL handshake failed")) &&
      !absl::StrContains(message, "Broker handle destroyed")) {
    absl::MutexLock lock(&login_failure_mutex);
    if (last_login_failure == nullptr) last_login_failure = new std::optional<std::string>;
    *last_login_failure = std::string(message);
  }
  spdlog::level::level_enum spd = spdlog::level::debug;
  if (level <= 3) {
    spd = spdlog::level::err;
  } else if (level == 4) {
    spd = spdlog::level::warn;
  } else if (level <= 6) {
    spd = spdlog::level::info;
  }
  spdlog::log(spd, "librdkafka {} {}: {}", rd_kafka_name(rk), facility, text);
}

absl::Status WithKey(const std::string& key, absl::Status status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("key '", key, "': ", status.message()));
}

}  // namespace

std::optional<std::string> LastLoginFailure() {
  absl::MutexLock lock(&login_failure_mutex);
  return last_login_failure != nullptr ? *last_login_failure : std::nullopt;
}

absl::Status ExplainLoginFailure(absl::Status status) {
  const std::optional<std::string> refused = LastLoginFailure();
  if (status.ok() || !refused.has_value() || absl::IsInvalidArgument(status)) return status;
  std::string hint;
  // librdkafka#4895, fixed in 2.6.1: the SCRAM client-final message repeats the client nonce,
  // which Kafka 4.x refuses.
  if (absl::StrContains(*refused, "SCRAM") && rd_kafka_version() < 0x020601ff) {
    hint = absl::StrCat(
        " (librdkafka ", rd_kafka_version_str(),
        " cannot log in with SCRAM to Kafka 4.x brokers, librdkafka#4895, fixed in 2.6.1: use "
        "sasl.mechanism PLAIN over SASL_SSL, OAUTHBEARER, or a newer librdkafka; docs/kafka.md)");
  }
  return absl::Status(status.code(), absl::StrCat(status.message(),
                                                  "; the brokers refused this "
                                                  "client's login: ",
                                                  *refused, hint));
}

absl::Status SetKafkaProperty(rd_kafka_conf_t* conf, const std::string& property,
                              const std::string& value) {
  WEIR_ASSIGN_OR_RETURN(const std::string expanded, ExpandEnvironment(value));
  char error[512];
  if (rd_kafka_conf_set(conf, property.c_str(), expanded.c_str(), error, sizeof(error)) !=
      RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("librdkafka rejects it: ", error));
  }
  return absl::OkStatus();
}

absl::StatusOr<KafkaConf> BuildKafkaConf(const ClientProperties& properties, ClientKind kind) {
  KafkaConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), &LogFromLibrdkafka);
  if (!properties.bootstrap_servers.empty()) {
    WEIR_RETURN_IF_ERROR(
        WithKey("bootstrap.servers",
                SetKafkaProperty(conf.get(), "bootstrap.servers", properties.bootstrap_servers)));
  }
  for (const auto& [property, value] : properties.common) {
    WEIR_RETURN_IF_ERROR(
        WithKey(absl::StrCat("kafka.", property), SetKafkaProperty(conf.get(), property, value)));
  }
  for (const auto& [property, value] : properties.specific) {
    WEIR_RETURN_IF_ERROR(WithKey(absl::StrCat(PrefixOf(kind), property),
                                 SetKafkaProperty(conf.get(), property, value)));
  }
  return conf;
}

absl::StatusOr<KafkaHandle> NewKafkaClient(KafkaConf conf, ClientKind kind) {
  char error[512];
  const rd_kafka_type_t type =
      kind == ClientKind::kConsumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER;
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), error, sizeof(error));
  if (rk == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka client: ", error));
  }
  conf.release();  // rd_kafka_new took ownership
  return KafkaHandle(rk);
}

RawRecord ToRawRecord(const rd_kafka_message_t& message) {
  RawRecord raw;
  if (message.key != nullptr) {
    raw.key.emplace(static_cast<const char*>(message.key), message.key_len);
  }
  if (message.payload != nullptr) {
    raw.value.emplace(static_cast<const char*>(message.payload), message.len);
  }
  rd_kafka_timestamp_type_t type;
  raw.timestamp = rd_kafka_message_timestamp(&message, &type);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      raw.headers.push_back({name, value == nullptr ? std::nullopt
                                                    : std::optional<std::string>(std::string(
                                                          static_cast<const char*>(value), size))});
    }
  }
  return raw;
}

ssize_t ConsumeBatch(rd_kafka_queue_t* queue, int timeout_ms,
                     std::vector<rd_kafka_message_t*>& batch) {
  ssize_t count = rd_kafka_consume_batch_queue(queue, 0, batch.data(), batch.size());
  if (count != 0 || timeout_ms == 0) return count;
  count = rd_kafka_consume_batch_queue(queue, timeout_ms, batch.data(), 1);
  if (count != 1 || batch.size() == 1) return count;
  const ssize_t more =
      rd_kafka_consume_batch_queue(queue, 0, batch.data() + 1, batch.size() - 1);
  return more > 0 ? 1 + more : 1;
}

}  // namespace weir
