#include "engine/runtime/app_config.h"

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_admin.h"
#include "engine/processor/topic_name.h"

namespace weir {
namespace {

absl::Status CheckApplicationId(const AppConfig& config, const config::Provenance& provenance) {
  const std::string& id = config.application_id;
  // Empty is allowed here; commands that run a topology require it. Internal topics append
  // "-<store>-changelog", so leave room for the suffix.
  if (id.empty() || (IsLegalTopicName(id) && id.size() <= 200)) return absl::OkStatus();
  return config::KeyError(provenance, "application.id", "defaults",
                          absl::StrCat("expected 1-200 letters, digits, '.', '_' or '-' (it "
                                       "prefixes topic names), got '",
                                       id, "'"));
}

absl::Status CheckBrokerTopics(const AppConfig& config, const config::Provenance& provenance) {
  for (const std::string& spec : config.broker_topics) {
    absl::StatusOr<TopicSpec> topic = ParseTopicSpec(spec);
    if (!topic.ok()) {
      return config::KeyError(provenance, "broker.topics", "defaults", topic.status().message());
    }
  }
  return absl::OkStatus();
}

// Every passthrough property must be one librdkafka knows, with a value it accepts.
absl::Status CheckClientProperties(const AppConfig& config, const config::Provenance& provenance) {
  const std::pair<absl::string_view, const std::map<std::string, std::string>*> groups[] = {
      {"kafka.", &config.kafka},
      {"consumer.", &config.consumer},
      {"producer.", &config.producer},
      {"admin.", &config.admin}};
  for (const auto& [prefix, properties] : groups) {
    for (const auto& [property, value] : *properties) {
      KafkaConf scratch(rd_kafka_conf_new());
      absl::Status status = SetKafkaProperty(scratch.get(), property, value);
      if (status.ok()) continue;
      return config::KeyError(provenance, absl::StrCat(prefix, property), "defaults",
                              status.message());
    }
  }
  return absl::OkStatus();
}

}  // namespace

const config::Schema<AppConfig>& AppConfigSchema() {
  using C = AppConfig;
  static const auto* schema =
      &(*new config::Schema<AppConfig>())
           .String("application.id", &C::application_id,
                   "Consumer group id and prefix of internal topics "
                   "(`<application.id>-<store>-changelog`); letters, digits, `.`, `_`, `-`. "
                   "Required by commands that run a topology.")
           .String("bootstrap.servers", &C::bootstrap_servers,
                   "Kafka brokers, `host:port[,host:port]`. Empty starts the embedded broker "
                   "(librdkafka's mock cluster; see docs/broker.md).")
           .Int("num.stream.threads", &C::num_stream_threads, 0, 256,
                "Stream threads per instance; 0 means one per CPU core.")
           .Int("commit.interval.ms", &C::commit_interval_ms, 1, 86'400'000,
                "How often tasks commit. When not set and `processing.guarantee` is "
                "`exactly_once_v2`, 100 (as in Kafka Streams).")
           .Path("state.dir", &C::state_dir,
                 "Root of local state: `<state.dir>/<application.id>/<task>/`.")
           .Bytes("state.dir.min.free.bytes", &C::state_dir_min_free_bytes, 0, int64_t{1} << 50,
                  "Free space to keep on state.dir's filesystem: below it the stream threads "
                  "stop consuming (partitions paused, group membership kept, /readyz 503 saying "
                  "why) until a quarter more (at most 64 MiB more) is free; RocksDB never gets "
                  "to fill the volume. 0: never stop.")
           .Int("state.cleanup.delay.ms", &C::state_cleanup_delay_ms, 0, int64_t{1} << 40,
                "How long a task directory under `state.dir` that no thread of this instance "
                "owns (and no other process holds) may stay before it is deleted (Kafka "
                "Streams' default, 10 minutes).")
           .String("application.server", &C::application_server,
                   "`host:port` where other instances and `weir status` reach this instance's "
                   "HTTP listener (`/tasks`, `/metrics`); advertised on the membership topic "
                   "`<application.id>-instances`. Empty: `metrics.host:metrics.port`, with this "
                   "machine's host name when `metrics.host` is `0.0.0.0`.")
           .Int("replication.factor", &C::replication_factor, -1, 32,
                "Replicas of each internal topic weir creates (changelogs, which are compacted, "
                "repartition topics and the membership topic); -1 takes the brokers' "
                "`default.replication.factor` (Kafka Streams' default). Existing internal topics "
                "are checked, not changed. The embedded broker replicates to min(3, brokers).")
           .Int("windowstore.changelog.additional.retention.ms",
                &C::windowstore_changelog_additional_retention_ms, 0, int64_t{1} << 50,
                "A window store's changelog is compacted and also deleted past the store's "
                "retention plus this, by record timestamp (event time), as in Kafka Streams. "
                "Replaying old events, raise it above their age, or the brokers delete the "
                "changelog records as they arrive.")
           .Int("num.standby.replicas", &C::num_standby_replicas, 0, 16,
                "Warm copies of each stateful task's state kept on other instances of the "
                "application, updated from the changelogs, so that a task moving there after a "
                "failure restores little (docs/standby.md). Kafka Streams' default, 0.")
           .Bool("static.membership", &C::static_membership,
                 "Each stream thread joins the group with a `group.instance.id` "
                 "(`<application.id>-<instance id>-<thread>`, KIP-345), the instance id kept in "
                 "`<state.dir>/<application.id>/instance.id`: an instance restarted within "
                 "`session.timeout.ms` (after a crash, a deploy) gets its tasks back without a "
                 "rebalance. The price: its threads do not leave the group when it stops, so the "
                 "others take over its tasks only after the session timeout. Kafka Streams' "
                 "`group.instance.id`. The embedded broker ignores it.")
           .Int("acceptable.recovery.lag", &C::acceptable_recovery_lag, 0, int64_t{1} << 50,
                "Changelog records a standby may trail the changelog's end by and still count "
                "as caught up (`/tasks`, `weir status`). Kafka Streams' default, 10000.")
           .Enum("default.dsl.store", &C::default_dsl_store,
                 {{"rocksDB", DslStore::kRocksDb}, {"in_memory", DslStore::kInMemory}},
                 "Where stores keep state: `rocksDB` (one RocksDB instance per task under "
                 "`state.dir`, committed atomically with the input offsets it reflects) or "
                 "`in_memory` (lost with the process).")
           .Bytes("statestore.cache.max.bytes", &C::statestore_cache_max_bytes, 0, int64_t{1} << 40,
                  "Record cache per stream thread, shared by its tasks' stores; 0 = "
                  "write-through.")
           .Bytes("statestore.uncommitted.max.bytes", &C::statestore_uncommitted_max_bytes, 0,
                  int64_t{1} << 40,
                  "Uncommitted state writes a stream thread may hold (KIP-892); past it the "
                  "thread commits early. 0 = no bound.")
           .Bytes("memory.limit.bytes", &C::memory_limit_bytes, 0, int64_t{1} << 50,
                  "Container memory limit the instance must fit in; `weir run` refuses to start, "
                  "showing the arithmetic of `weir plan memory`, when its plan exceeds it. "
                  "0 = unchecked.")
           .String("audit.log", &C::audit_log,
                   "Where `weir run` appends its audit trail, one JSON object per line (start and "
                   "stop, configuration and card-token-key fingerprints, dead-letter counts; "
                   "docs/runbook.md): a file, `-` for stderr (the journal under systemd), or "
                   "empty for `<state.dir>/audit.jsonl`.")
           .Enum("processing.guarantee", &C::processing_guarantee,
                 {{ProcessingGuaranteeName(ProcessingGuarantee::kAtLeastOnce),
                   ProcessingGuarantee::kAtLeastOnce},
                  {ProcessingGuaranteeName(ProcessingGuarantee::kExactlyOnceV2),
                   ProcessingGuarantee::kExactlyOnceV2}},
                 "Delivery guarantee. The embedded broker cannot prove exactly-once "
                 "(docs/broker.md).")
           .Int("metrics.port", &C::metrics_port, 0, 65535,
                "Port of the HTTP listener for `/metrics`, `/healthz`, `/readyz`; 0 picks a "
                "free port.")
           .String("metrics.host", &C::metrics_host,
                   "Address the HTTP listener binds; `0.0.0.0` = every interface, "
                   "`127.0.0.1` = this machine only.")
           .String("http.auth.token.env", &C::http_auth_token_env,
                   "Environment variable holding a bearer token (at least 16 characters) that "
                   "`/tasks` and `/state` (interactive queries, docs/queries.md) then require "
                   "as `Authorization: Bearer <token>`; every instance of the application needs "
                   "the same one. Empty: no token.")
           .Enum("metrics.recording.level", &C::metrics_recording_level,
                 {{"info", RecordingLevel::kInfo}, {"debug", RecordingLevel::kDebug}},
                 "Kafka Streams' recording level: `debug` adds task process rates, record cache "
                 "hit ratios and state store operation rates and latencies (docs/metrics.md).")
           .Path("rocksdb.options", &C::rocksdb_options,
                 "RocksDB option-set file (`config/rocksdb/{default,tuned,bounded}.yaml`); "
                 "empty: Kafka Streams' defaults, as `default.yaml` spells them out.")
           .Path("topology.config", &C::topology_config,
                 "The topology's own settings (windows, grace, rule thresholds).")
           .Int("poll.ms", &C::poll_ms, 1, 60'000,
                "Longest time a stream thread blocks waiting for records.")
           .Int("max.poll.records", &C::max_poll_records, 1, 1'000'000,
                "Most records a stream thread takes from its consumer per loop iteration.")
           .Enum("default.deserialization.exception.handler", &C::deserialization_exception_handler,
                 {{"log_and_continue", DeserializationHandler::kLogAndContinue},
                  {"log_and_fail", DeserializationHandler::kLogAndFail}},
                 "A record whose key or value does not deserialize: log, count and send it to "
                 "`errors.dead.letter.queue.topic.name` (when set) and go on, or stop the thread.")
           .String("errors.dead.letter.queue.topic.name", &C::dead_letter_queue_topic,
                   "Dead-letter topic (KIP-1034): failed records with `__streams.errors.*` "
                   "headers naming the error and the source topic, partition and offset. Empty = "
                   "none.")
           .Enum("misplaced.records", &C::misplaced_records,
                 {{"process", MisplacedRecords::kProcess},
                  {"dead-letter", MisplacedRecords::kDeadLetter},
                  {"ignore", MisplacedRecords::kIgnore}},
                 "A keyed input record in another partition than murmur2 of its key gives (a "
                 "producer with another partitioner): count it, log it once a minute, and "
                 "process it where it is, or send it to the dead-letter topic (reason "
                 "MisplacedKey); ignore skips the check.")
           .Enum("default.production.exception.handler", &C::production_exception_handler,
                 {{"fail", ProductionHandler::kFail}, {"continue", ProductionHandler::kContinue}},
                 "A record the producer rejects or cannot deliver after its retries (any sink "
                 "record: alerts, dead letters): stop the thread, or log, count and go on. A "
                 "changelog record always stops it (restoration would lose it). Dead letters "
                 "are first cut to the producer's `message.max.bytes`.")
           .Enum("stream.thread.error.policy", &C::thread_error_policy,
                 {{"shutdown_client", ThreadErrorPolicy::kShutdownClient},
                  {"replace_thread", ThreadErrorPolicy::kReplaceThread}},
                 "When a stream thread dies of an error: shut the instance down (exit non-zero), "
                 "or start a new thread in its place.")
           .Int("broker.brokers", &C::broker_brokers, 1, 16,
                "Embedded broker only: number of brokers in the mock cluster.")
           .StringList("broker.topics", &C::broker_topics,
                       "Embedded broker only: topics to create, as `NAME:PARTITIONS`.")
           .Prefix("kafka.", &C::kafka,
                   "Any librdkafka property, for every client (e.g. "
                   "`kafka.security.protocol: SASL_SSL`). `${VAR}` reads the environment.")
           .Prefix("consumer.", &C::consumer, "A librdkafka property for consumers only.")
           .Prefix("producer.", &C::producer, "A librdkafka property for producers only.")
           .Prefix("admin.", &C::admin, "A librdkafka property for admin clients only.");
  return *schema;
}

absl::StatusOr<AppConfig> LoadAppConfig(const std::string& path,
                                        const std::vector<std::string>& overrides,
                                        config::Provenance* provenance_out) {
  AppConfig config;
  config::Provenance provenance;
  const config::Schema<AppConfig>& schema = AppConfigSchema();
  if (!path.empty()) WEIR_RETURN_IF_ERROR(schema.LoadFile(path, config, &provenance));
  for (const std::string& assignment : overrides) {
    WEIR_RETURN_IF_ERROR(schema.Set(assignment, config, &provenance));
  }
  if (config.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2 &&
      !provenance.contains("commit.interval.ms")) {
    config.commit_interval_ms = 100;
  }
  WEIR_RETURN_IF_ERROR(CheckApplicationId(config, provenance));
  WEIR_RETURN_IF_ERROR(CheckBrokerTopics(config, provenance));
  if (!config.dead_letter_queue_topic.empty() &&
      !IsLegalTopicName(config.dead_letter_queue_topic)) {
    return config::KeyError(provenance, "errors.dead.letter.queue.topic.name", "defaults",
                            absl::StrCat("expected a topic name (1-249 letters, digits, '.', "
                                         "'_', '-'), got '",
                                         config.dead_letter_queue_topic, "'"));
  }
  if (config.misplaced_records == MisplacedRecords::kDeadLetter &&
      config.dead_letter_queue_topic.empty()) {
    return config::KeyError(provenance, "misplaced.records", "defaults",
                            "dead-letter needs errors.dead.letter.queue.topic.name, which is "
                            "empty: set it, or take process");
  }
  WEIR_RETURN_IF_ERROR(CheckClientProperties(config, provenance));
  if (provenance_out != nullptr) *provenance_out = std::move(provenance);
  return config;
}

const char* WeirVersion() { return WEIR_VERSION; }

int64_t ConsumerPropertyMs(const AppConfig& config, const std::string& key, int64_t fallback) {
  for (const auto* properties : {&config.consumer, &config.kafka}) {
    if (auto it = properties->find(key); it != properties->end()) {
      return std::strtoll(it->second.c_str(), nullptr, 10);
    }
  }
  return fallback;
}

absl::StatusOr<std::string> HttpAuthToken(const AppConfig& config) {
  if (config.http_auth_token_env.empty()) return "";
  const char* token = std::getenv(config.http_auth_token_env.c_str());
  if (token == nullptr || std::strlen(token) < 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http.auth.token.env: environment variable ", config.http_auth_token_env,
        token == nullptr ? " is not set" : " holds fewer than 16 characters",
        " (the bearer token /tasks and /state require)"));
  }
  return std::string(token);
}

}  // namespace weir
