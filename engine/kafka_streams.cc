#include "engine/kafka_streams.h"

#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka_status.h"
#include "engine/topic_name.h"

namespace weir {
namespace {

constexpr int kMetadataTimeoutMs = 10'000;

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomProcessId() {
  std::random_device random;
  return absl::StrFormat("%08x", random());
}

// Partition counts of the cluster's topics.
absl::StatusOr<std::map<std::string, int32_t>> PartitionCounts(rd_kafka_t* client) {
  const rd_kafka_metadata_t* metadata = nullptr;
  WEIR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_metadata(client, 1, nullptr, &metadata, kMetadataTimeoutMs),
                  "reading cluster metadata"));
  std::map<std::string, int32_t> counts;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      counts[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

// Creates `topic` with the admin API (broker-default replication).
absl::Status CreateTopicWithAdmin(rd_kafka_t* client, const TopicSpec& topic) {
  char error[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.name.c_str(), topic.partitions, -1, error, sizeof(error));
  if (new_topic == nullptr) return absl::InvalidArgumentError(error);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client);
  rd_kafka_CreateTopics(client, &new_topic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kMetadataTimeoutMs * 3);
  absl::Status status = absl::UnavailableError(
      absl::StrCat("creating topic ", topic.name, ": no answer from the cluster"));
  if (event != nullptr) {
    status = KafkaStatus(rd_kafka_event_error(event), absl::StrCat("creating topic ", topic.name));
    if (status.ok()) {
      size_t count = 0;
      const rd_kafka_topic_result_t** results =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
      for (size_t i = 0; i < count; ++i) {
        const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
        if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          status = KafkaStatus(err, absl::StrCat("creating topic ", topic.name));
        }
      }
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(new_topic);
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaStreams>> KafkaStreams::Create(Topology topology,
                                                                   AppConfig config,
                                                                   KafkaStreamsOptions options) {
  WEIR_RETURN_IF_ERROR(topology.status());
  if (config.application_id.empty()) {
    return absl::InvalidArgumentError(
        "key 'application.id': required to run a topology (it names the consumer group and the "
        "internal topics)");
  }
  if (config.num_stream_threads == 0) {
    config.num_stream_threads = std::max(1u, std::thread::hardware_concurrency());
  }
  if (!options.wall_clock) options.wall_clock = &SystemClockMs;
  RocksDbOptionSet rocksdb_options;
  if (config.default_dsl_store == "rocksDB" && !topology.stores().empty()) {
    WEIR_ASSIGN_OR_RETURN(rocksdb_options, LoadRocksDbOptionSet(config.rocksdb_options));
  }
  std::unique_ptr<KafkaStreams> streams(
      new KafkaStreams(std::make_shared<const Topology>(std::move(topology)), std::move(config),
                       std::move(options)));
  streams->rocksdb_options_ = std::move(rocksdb_options);
  streams->rocksdb_shared_ = MakeSharedResources(streams->rocksdb_options_);
  return streams;
}

KafkaStreams::KafkaStreams(std::shared_ptr<const Topology> topology, AppConfig config,
                           KafkaStreamsOptions options)
    : topology_(std::move(topology)),
      config_(std::move(config)),
      options_(std::move(options)),
      process_id_(RandomProcessId()) {}

KafkaStreams::~KafkaStreams() { Close(); }

absl::Status KafkaStreams::CreateInternalTopics() {
  ClientProperties properties{.bootstrap_servers = config_.bootstrap_servers,
                              .common = config_.kafka,
                              .specific = config_.admin};
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle admin, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(auto counts, PartitionCounts(admin.get()));

  std::set<std::string> internal;
  int32_t partitions = 0;
  for (const Topology::NodeSpec& node : topology_->nodes()) {
    if (node.kind != Topology::NodeKind::kSource) continue;
    for (const std::string& topic : node.topics) {
      if (node.internal_topics) {
        internal.insert(absl::StrCat(config_.application_id, "-", topic));
        continue;
      }
      auto it = counts.find(topic);
      if (it == counts.end()) {
        return absl::NotFoundError(
            absl::StrCat("input topic '", topic, "' does not exist at ", config_.bootstrap_servers,
                         " (create it first; weir does not auto-create input topics)"));
      }
      partitions = std::max(partitions, it->second);
    }
  }
  // Changelogs: one per store, as many partitions as the input (a task's changelog partition
  // is its own partition number).
  if (config_.default_dsl_store == "rocksDB") {
    for (const Topology::StoreSpec& store : topology_->stores()) {
      internal.insert(ChangelogTopic(config_.application_id, store.name));
    }
  }
  for (const std::string& topic : internal) {
    if (counts.contains(topic)) continue;
    const TopicSpec spec{.name = topic, .partitions = partitions};
    spdlog::info("creating internal topic {} ({} partitions)", topic, partitions);
    WEIR_RETURN_IF_ERROR(options_.create_topic ? options_.create_topic(spec)
                                               : CreateTopicWithAdmin(admin.get(), spec));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<StreamThread>> KafkaStreams::NewThread() {
  const std::string name = absl::StrCat(config_.application_id, "-", process_id_, "-StreamThread-",
                                        next_thread_index_++);
  StreamThreadHooks hooks{.on_restore_start = options_.on_restore_start};
  if (config_.default_dsl_store == "rocksDB") {
    hooks.open_task_db = [this](TaskId id) { return OpenTaskDb(id); };
  }
  return StreamThread::Create(config_, topology_, name, options_.wall_clock, std::move(hooks));
}

absl::StatusOr<std::unique_ptr<TaskDb>> KafkaStreams::OpenTaskDb(TaskId id) const {
  WEIR_ASSIGN_OR_RETURN(rocksdb::Options options,
                        BuildRocksDbOptions(rocksdb_options_, rocksdb_shared_));
  const std::string dir =
      (std::filesystem::path(config_.state_dir) / config_.application_id / id.ToString()).string();
  return TaskDb::Open(dir, options);
}

absl::Status KafkaStreams::Start() {
  WEIR_RETURN_IF_ERROR(CreateInternalTopics());
  absl::MutexLock lock(&mutex_);
  for (int64_t i = 0; i < config_.num_stream_threads; ++i) {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<StreamThread> thread, NewThread());
    threads_.push_back(std::move(thread));
  }
  for (auto& thread : threads_) thread->Start();
  spdlog::info("{} stream threads started (process {})", threads_.size(), process_id_);
  return absl::OkStatus();
}

absl::Status KafkaStreams::CheckThreads() {
  absl::MutexLock lock(&mutex_);
  for (auto& thread : threads_) {
    if (thread->state() != ThreadState::kDead) continue;
    if (counted_dead_.insert(thread->name()).second) ++failed_threads_;
    const absl::Status error = thread->error();
    if (config_.thread_error_policy == "shutdown_client") {
      return absl::Status(error.code(), absl::StrCat(thread->name(), " died: ", error.message(),
                                                     " (stream.thread.error.policy: "
                                                     "shutdown_client)"));
    }
    thread->Join();
    spdlog::warn("replacing {} (stream.thread.error.policy: replace_thread)", thread->name());
    WEIR_ASSIGN_OR_RETURN(thread, NewThread());
    thread->Start();
  }
  return absl::OkStatus();
}

std::vector<std::string> KafkaStreams::CleanUpState() {
  std::vector<std::string> deleted;
  const std::filesystem::path root =
      std::filesystem::path(config_.state_dir) / config_.application_id;
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) return deleted;
  std::set<std::string> owned;
  for (const ThreadSnapshot& thread : threads()) {
    for (const TaskId& id : thread.tasks) owned.insert(id.ToString());
  }
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || owned.contains(name)) continue;
    const auto modified = std::filesystem::last_write_time(entry.path(), error);
    if (error || now - modified < std::chrono::milliseconds(config_.state_cleanup_delay_ms)) {
      continue;
    }
    absl::StatusOr<bool> removed = TaskDb::DeleteIfUnused(entry.path().string());
    if (!removed.ok()) {
      spdlog::warn("cannot delete the state of task {}: {}", name, removed.status().message());
      continue;
    }
    if (!*removed) continue;  // opened meanwhile, or held by another process
    spdlog::info("deleted the state of task {} ({}): not owned here for state.cleanup.delay.ms",
                 name, entry.path().string());
    deleted.push_back(entry.path().string());
  }
  return deleted;
}

void KafkaStreams::Close() {
  absl::MutexLock lock(&mutex_);
  closing_ = true;
  // Every live thread commits before any leaves the group (see LeaveBarrier).
  int live = 0;
  for (auto& thread : threads_) live += thread->state() == ThreadState::kRunning ? 1 : 0;
  auto barrier = std::make_shared<LeaveBarrier>(live);
  for (auto& thread : threads_) {
    thread->RequestStop(thread->state() == ThreadState::kRunning ? barrier : nullptr);
  }
  for (auto& thread : threads_) thread->Join();
}

std::vector<ThreadSnapshot> KafkaStreams::threads() const {
  absl::MutexLock lock(&mutex_);
  std::vector<ThreadSnapshot> snapshots;
  for (const auto& thread : threads_) snapshots.push_back(thread->snapshot());
  return snapshots;
}

bool KafkaStreams::Healthy() const {
  absl::MutexLock lock(&mutex_);
  if (threads_.empty() || closing_) return false;
  for (const auto& thread : threads_) {
    if (thread->state() != ThreadState::kRunning) return false;
  }
  return true;
}

bool KafkaStreams::Ready() const {
  if (!Healthy()) return false;
  for (const ThreadSnapshot& thread : threads()) {
    if (!thread.assigned || thread.restoring) return false;
  }
  return true;
}

std::string KafkaStreams::State() const {
  {
    absl::MutexLock lock(&mutex_);
    if (threads_.empty()) return "CREATED";
    if (closing_) return "NOT_RUNNING";
    for (const auto& thread : threads_) {
      if (thread->state() == ThreadState::kDead) return "ERROR";
    }
  }
  return Ready() ? "RUNNING" : "REBALANCING";
}

int64_t KafkaStreams::failed_threads() const {
  absl::MutexLock lock(&mutex_);
  return failed_threads_;
}

}  // namespace weir
