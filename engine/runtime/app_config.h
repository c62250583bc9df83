// The application configuration of one weir instance (config/weir.yaml).
//
// Keys follow Kafka Streams' names where Kafka Streams has the setting. The schema below is the
// single declaration: the loader, validation, `--set` overrides, `weir config docs` and
// docs/configuration.md all come from it (a test keeps the doc in step).
//
// Loading order: built-in defaults, then the file, then each `--set key=value` in order. After
// that, cross-key rules apply (see LoadAppConfig). Every error names the file or flag, the line,
// the key and what was expected.
#ifndef WEIR_ENGINE_RUNTIME_APP_CONFIG_H_
#define WEIR_ENGINE_RUNTIME_APP_CONFIG_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config_schema.h"

namespace weir {

// Values of the enumerated keys, parsed once at load (the names are the schema's).
enum class DslStore { kRocksDb, kInMemory };
enum class ProcessingGuarantee { kAtLeastOnce, kExactlyOnceV2 };

// Its name in config/weir.yaml (`processing.guarantee`), as Kafka Streams spells it.
constexpr const char* ProcessingGuaranteeName(ProcessingGuarantee guarantee) {
  return guarantee == ProcessingGuarantee::kExactlyOnceV2 ? "exactly_once_v2" : "at_least_once";
}
enum class RecordingLevel { kInfo, kDebug };
enum class DeserializationHandler { kLogAndContinue, kLogAndFail };
enum class ProductionHandler { kFail, kContinue };
enum class ThreadErrorPolicy { kShutdownClient, kReplaceThread };
enum class MisplacedRecords { kProcess, kDeadLetter, kIgnore };

struct AppConfig {
  // Identifies the application: consumer group id, and prefix of internal topic names
  // (`<application.id>-<store>-changelog`). Required by commands that run a topology.
  std::string application_id;
  // Kafka bootstrap servers, "host:port[,host:port...]". Empty runs the embedded broker.
  std::string bootstrap_servers;
  // Stream threads per instance; 0 means one per CPU core.
  int64_t num_stream_threads = 0;
  // How often tasks commit (flush caches and producer, write state and offsets).
  // Default 30000, or 100 under exactly_once_v2 when not set explicitly (as in Kafka Streams).
  int64_t commit_interval_ms = 30000;
  // Root of local state: `<state.dir>/<application.id>/<task>/`.
  std::string state_dir = "/tmp/weir";
  // How long a task directory this instance does not own may stay before it is deleted.
  int64_t state_cleanup_delay_ms = 600'000;
  // Free space `state.dir`'s filesystem must keep: below it the stream threads stop consuming
  // (their partitions paused, group membership kept, not ready) until StateDirResumeBytes is
  // free. 0: never stop.
  int64_t state_dir_min_free_bytes = int64_t{256} << 20;
  // `host:port` other instances and `weir status` reach this instance's HTTP listener at;
  // empty: metrics.host:metrics.port, with the host name when metrics.host is 0.0.0.0.
  std::string application_server;
  // Replicas of the internal topics weir creates (changelogs, repartition, membership);
  // -1 = the brokers' default.replication.factor (Kafka Streams' default since 2.4).
  int64_t replication_factor = -1;
  // Window stores' changelogs are compacted and deleted past the store's retention plus this
  // (Kafka Streams' windowstore.changelog.additional.retention.ms).
  int64_t windowstore_changelog_additional_retention_ms = 86'400'000;
  // Warm copies of each stateful task kept on other instances (Kafka Streams' default 0).
  int64_t num_standby_replicas = 0;
  // Static group membership (KIP-345): see app_config.cc's schema for the trade-off.
  bool static_membership = false;
  // Changelog records a standby may trail the changelog end by and still count as caught up.
  int64_t acceptable_recovery_lag = 10'000;
  // Where DSL and Processor API stores keep their state: rocksDB (one RocksDB instance per task
  // under state.dir, durable with the offsets it reflects) or in_memory (lost with the process).
  DslStore default_dsl_store = DslStore::kRocksDb;
  // Record cache per stream thread, shared by its tasks and stores; 0 = write-through.
  int64_t statestore_cache_max_bytes = int64_t{10} << 20;
  // Uncommitted writes a stream thread's tasks may hold (KIP-892's name): past it the thread
  // commits early, so state waiting for the next commit stays bounded; 0 = no bound.
  int64_t statestore_uncommitted_max_bytes = int64_t{64} << 20;
  // The container memory limit the instance must fit in; 0 = unchecked. `weir run` refuses to
  // start when the memory plan (`weir plan memory`) exceeds it.
  int64_t memory_limit_bytes = 0;
  // Where `weir run` appends its audit trail (JSON lines): a file, "-" for stderr, or empty for
  // `<state.dir>/audit.jsonl`.
  std::string audit_log;
  // at_least_once or exactly_once_v2.
  ProcessingGuarantee processing_guarantee = ProcessingGuarantee::kAtLeastOnce;
  // Port of the HTTP listener (/metrics, /healthz, /readyz); 0 picks a free port.
  int64_t metrics_port = 9464;
  // Address the HTTP listener binds (0.0.0.0: every interface, for a scraper elsewhere).
  std::string metrics_host = "0.0.0.0";
  // Environment variable with the bearer token /tasks and /state require; empty: none.
  std::string http_auth_token_env;
  // Kafka Streams' metrics.recording.level: info, or debug (adds task process rates, record
  // cache hit ratios and store operation latencies).
  RecordingLevel metrics_recording_level = RecordingLevel::kInfo;
  // RocksDB option-set file; empty: Kafka Streams' defaults (config/rocksdb/default.yaml spells
  // them out), so a program linking the engine needs no file beside it.
  std::string rocksdb_options;
  // The topology's own config file (the fraud topology's rules and windows).
  std::string topology_config = "config/fraud.yaml";
  // Longest time a stream thread blocks waiting for records.
  int64_t poll_ms = 100;
  // Most records a stream thread takes from its consumer per loop iteration.
  int64_t max_poll_records = 1000;
  // A record whose key or value does not deserialize: log_and_continue (send it to the
  // dead-letter topic when one is set, count it, go on) or log_and_fail (stop the thread).
  DeserializationHandler deserialization_exception_handler =
      DeserializationHandler::kLogAndContinue;
  // Dead-letter topic for records that could not be processed; "" = none (logged and counted).
  std::string dead_letter_queue_topic;
  // A keyed input record in another partition than Kafka's default partitioner (murmur2) puts
  // its key: process it where it is, send it to the dead-letter topic, or do not check. Either
  // of the first two counts it and logs it (at most once a minute per thread).
  MisplacedRecords misplaced_records = MisplacedRecords::kProcess;
  // A record the producer could not deliver after its retries: fail (stop the thread) or
  // continue (log, count, go on).
  ProductionHandler production_exception_handler = ProductionHandler::kFail;
  // When a stream thread dies of an error: replace_thread or shutdown_client.
  ThreadErrorPolicy thread_error_policy = ThreadErrorPolicy::kShutdownClient;
  // Embedded broker: number of brokers, and topics to create as NAME:PARTITIONS.
  int64_t broker_brokers = 3;
  std::vector<std::string> broker_topics;
  // librdkafka properties for every client (`kafka.`) or one kind of client.
  std::map<std::string, std::string> kafka;
  std::map<std::string, std::string> consumer;
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> admin;
};

// The declaration of every key of AppConfig.
const config::Schema<AppConfig>& AppConfigSchema();

// weir's version (the CMake project's), as `weir_client_version_info` and the audit log show it.
const char* WeirVersion();

// The bearer token `http.auth.token.env` names, read from the environment: "" when the key is
// empty; InvalidArgument naming the variable when it is unset or shorter than 16 characters.
absl::StatusOr<std::string> HttpAuthToken(const AppConfig& config);

// The free space on state.dir at which stream threads that stopped for state.dir.min.free.bytes
// consume again: a quarter more, at most 64 MiB more (compactions free and take space in bursts).
inline int64_t StateDirResumeBytes(const AppConfig& config) {
  return config.state_dir_min_free_bytes +
         std::min(config.state_dir_min_free_bytes / 4, int64_t{64} << 20);
}

// A consumer's librdkafka property as a number: `consumer.KEY`, else `kafka.KEY`, else
// `fallback` (the value weir or librdkafka uses when neither is set).
int64_t ConsumerPropertyMs(const AppConfig& config, const std::string& key, int64_t fallback);

// The group's session timeout (librdkafka's default 45 s).
inline int64_t SessionTimeoutMs(const AppConfig& config) {
  return ConsumerPropertyMs(config, "session.timeout.ms", 45'000);
}

// How often a stream thread's clients report statistics (weir's default 5 s; 0: never).
inline int64_t StatisticsIntervalMs(const AppConfig& config) {
  return ConsumerPropertyMs(config, "statistics.interval.ms", 5'000);
}

// Loads `path` (skipped when empty) over the defaults, applies `overrides` ("key=value"), then
// checks cross-key rules: application.id usable in topic names, broker topics of the
// form NAME:PARTITIONS, every librdkafka property known to librdkafka. Returns InvalidArgument
// (or NotFound for a missing file) naming the file or flag, the key and the expectation.
// `provenance`, when given, receives where each key that is not a default was set.
absl::StatusOr<AppConfig> LoadAppConfig(const std::string& path,
                                        const std::vector<std::string>& overrides,
                                        config::Provenance* provenance = nullptr);

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_APP_CONFIG_H_
