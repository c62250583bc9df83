#include "engine/runtime/kafka_streams.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"
#include "engine/processor/topic_name.h"
#include "engine/runtime/internal/global_thread.h"
#include "engine/runtime/internal/state_updater.h"
#include "engine/runtime/internal/stream_thread.h"
#include "engine/runtime/memory_plan.h"
#include "stores/rocksdb_option_set.h"
#include "stores/task_db.h"

namespace weir {
namespace {

constexpr int kMetadataTimeoutMs = 10'000;

std::string RandomProcessId() {
  std::random_device random;
  return absl::StrFormat("%08x", random());
}

// This instance's stable id: the content of `<dir>/instance.id`, created (8 random hex
// characters) on first use, so the same state directory means the same group members.
absl::StatusOr<std::string> ReadOrCreateInstanceId(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "instance.id";
  std::string id;
  if (std::ifstream in(path); in >> id && !id.empty()) return id;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  id = RandomProcessId();
  const std::filesystem::path temporary = dir / "instance.id.tmp";
  std::ofstream(temporary) << id << "\n";
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot write the instance id to ", path.string(), ": ", error.message()));
  }
  return id;
}

// Whether `client` talks to librdkafka's mock cluster (weir's embedded broker), whose cluster id
// is "mockCluster<hex>".
bool IsMockCluster(rd_kafka_t* client) {
  char* id = rd_kafka_clusterid(client, kMetadataTimeoutMs);
  const bool mock = id != nullptr && absl::StartsWith(id, "mockCluster");
  if (id != nullptr) rd_kafka_mem_free(client, id);
  return mock;
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
  if (!options.wall_clock) options.wall_clock = &WallClockMs;
  RocksDbOptionSet rocksdb_options;
  if (config.default_dsl_store == DslStore::kRocksDb && !topology.stores().empty()) {
    WEIR_ASSIGN_OR_RETURN(rocksdb_options, LoadRocksDbOptionSet(config.rocksdb_options));
  }
  std::unique_ptr<KafkaStreams> streams(
      new KafkaStreams(std::make_shared<const Topology>(std::move(topology)), std::move(config),
                       std::move(options)));
  streams->rocksdb_shared_ =
      std::make_unique<const SharedResources>(MakeSharedResources(rocksdb_options));
  streams->rocksdb_options_ = std::make_unique<const RocksDbOptionSet>(std::move(rocksdb_options));
  return streams;
}

KafkaStreams::KafkaStreams(std::shared_ptr<const Topology> topology, AppConfig config,
                           KafkaStreamsOptions options)
    : topology_(std::move(topology)),
      config_(std::move(config)),
      options_(std::move(options)),
      process_id_(RandomProcessId()),
      session_timeout_ms_(SessionTimeoutMs(config_)) {}

KafkaStreams::~KafkaStreams() { Close(); }

namespace {

using PartitionCountMap = std::map<std::string, int32_t>;

// The sub-topology reading each source topic (an internal one under its full name).
std::map<std::string, int> SubtopologyOfSourceTopic(const Topology& topology,
                                                    const std::string& application_id) {
  std::map<std::string, int> subtopology_of_topic;
  for (const Topology::Subtopology& sub : topology.Subtopologies()) {
    for (int index : sub.nodes) {
      const Topology::NodeSpec& node = topology.nodes()[index];
      if (node.kind != Topology::NodeKind::kSource) continue;
      for (const std::string& topic : node.topics) {
        subtopology_of_topic[node.internal_topics ? InternalTopic(application_id, topic)
                                                  : topic] = sub.id;
      }
    }
  }
  return subtopology_of_topic;
}

std::set<int> StatefulSubtopologies(const Topology& topology) {
  std::set<int> stateful;
  for (const Topology::Subtopology& sub : topology.Subtopologies()) {
    if (!sub.stores.empty()) stateful.insert(sub.id);
  }
  return stateful;
}

// The most partitions of an input topic: every internal topic gets as many. NotFound for an
// input topic the cluster does not have (weir creates internal topics only).
absl::StatusOr<int32_t> InputPartitions(const Topology& topology, const PartitionCountMap& counts,
                                        const std::string& bootstrap_servers) {
  int32_t partitions = 0;
  for (const Topology::NodeSpec& node : topology.nodes()) {
    if (node.kind != Topology::NodeKind::kSource || node.internal_topics) continue;
    for (const std::string& topic : node.topics) {
      auto it = counts.find(topic);
      if (it == counts.end()) {
        return absl::NotFoundError(
            absl::StrCat("input topic '", topic, "' does not exist at ", bootstrap_servers,
                         " (create it first; weir does not auto-create input topics)"));
      }
      partitions = std::max(partitions, it->second);
    }
  }
  return partitions;
}

// FailedPrecondition naming two input topics a join reads with different partition counts: a
// key's records would be in different tasks, and the join would miss them.
absl::Status CheckCoPartitioned(const Topology& topology, const PartitionCountMap& counts) {
  for (const std::vector<std::string>& group : topology.copartition_groups()) {
    std::string first;
    int32_t first_count = 0;
    for (const std::string& node : group) {
      for (const std::string& topic : topology.InputTopicsOf(topology.FindNode(node))) {
        auto count = counts.find(topic);
        if (count == counts.end()) continue;  // InputPartitions names it
        if (first.empty()) {
          first = topic;
          first_count = count->second;
        } else if (count->second != first_count) {
          return absl::FailedPreconditionError(absl::StrCat(
              "topics '", first, "' (", first_count, " partitions) and '", topic, "' (",
              count->second, " partitions) are joined (", absl::StrJoin(group, " and "),
              ") but not co-partitioned: give them as many partitions, or repartition one"));
        }
      }
    }
  }
  return absl::OkStatus();
}

// Every internal topic the application needs: the membership topic (one partition), the
// topology's internal topics and the stores' changelogs, with the input's partition count (a
// task's changelog partition is its own partition number). Changelogs are compacted as Kafka
// Streams' are: a key-value store's by key; a window store's, and a key-value store's with a
// retention, also deleted past that retention plus windowstore.changelog.additional.retention.ms
// (a window store's keys carry the window start, so compaction alone would keep every window
// ever written; an expiring key-value store's records carry the stream time they were written
// at).
std::vector<TopicSpec> InternalTopicSpecs(const Topology& topology, const AppConfig& config,
                                          int32_t partitions) {
  std::vector<TopicSpec> wanted = {
      {.name = MembershipTopic(config.application_id), .partitions = 1}};
  std::set<std::string> repartition;
  for (const Topology::NodeSpec& node : topology.nodes()) {
    if (node.kind != Topology::NodeKind::kSource || !node.internal_topics) continue;
    for (const std::string& topic : node.topics) {
      repartition.insert(InternalTopic(config.application_id, topic));
    }
  }
  for (const std::string& topic : repartition) {
    wanted.push_back({.name = topic, .partitions = partitions});
  }
  if (config.default_dsl_store != DslStore::kRocksDb) return wanted;
  for (const Topology::StoreSpec& store : topology.stores()) {
    const int64_t retention_ms = store.kind == Topology::StoreKind::kWindow
                                     ? store.window.retention_ms
                                     : store.keyvalue.retention_ms;
    TopicSpec& changelog = wanted.emplace_back(TopicSpec{
        .name = ChangelogTopic(config.application_id, store.name), .partitions = partitions});
    changelog.config = {{"cleanup.policy", "compact"}};
    if (retention_ms > 0) {
      changelog.config = {
          {"cleanup.policy", "compact,delete"},
          {"retention.ms",
           std::to_string(retention_ms + config.windowstore_changelog_additional_retention_ms)}};
    }
  }
  return wanted;
}

// The topics of `wanted` the cluster lacks. FailedPrecondition for one it has with another
// partition count: it would put a task's state or records on another task's partition.
absl::StatusOr<std::vector<TopicSpec>> MissingTopics(const std::vector<TopicSpec>& wanted,
                                                     const PartitionCountMap& counts) {
  std::vector<TopicSpec> missing;
  for (const TopicSpec& spec : wanted) {
    auto existing = counts.find(spec.name);
    if (existing == counts.end()) {
      missing.push_back(spec);
    } else if (existing->second != spec.partitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "internal topic '", spec.name, "' has ", existing->second, " partition",
          existing->second == 1 ? "" : "s", " but this application needs ", spec.partitions,
          " (the input topics' count): it was created for another topology or the input was "
          "repartitioned. Delete it (kafka-topics.sh --delete, or the admin API) or use another "
          "application.id"));
    }
  }
  return missing;
}

// An embedded broker in another process (`weir broker`, librdkafka's mock cluster) has no
// CreateTopics: an admin request would wait for a broker that can answer it, in vain.
absl::Status EmbeddedBrokerLacks(const std::vector<TopicSpec>& missing,
                                 const std::string& bootstrap_servers) {
  std::vector<std::string> flags;
  for (const TopicSpec& spec : missing) {
    flags.push_back(absl::StrCat("--topic ", spec.name, ":", spec.partitions));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "the cluster at ", bootstrap_servers,
      " is an embedded broker (librdkafka's mock cluster), which cannot create topics on "
      "request, and this application's internal topics are not there. Start `weir broker` "
      "with them beside your own topics (",
      absl::StrJoin(flags, " "),
      "), or leave bootstrap.servers empty and `weir run` starts its own broker"));
}

}  // namespace

absl::Status KafkaStreams::PrepareCluster() {
  ClientProperties properties{.bootstrap_servers = config_.bootstrap_servers,
                              .common = config_.kafka,
                              .specific = config_.admin};
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle admin, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(const PartitionCountMap counts, PartitionCounts(admin.get()));
  WEIR_ASSIGN_OR_RETURN(const int32_t partitions,
                        InputPartitions(*topology_, counts, config_.bootstrap_servers));
  WEIR_RETURN_IF_ERROR(CheckCoPartitioned(*topology_, counts));
  source_topics_.clear();
  for (const auto& [topic, sub] : SubtopologyOfSourceTopic(*topology_, config_.application_id)) {
    auto count = counts.find(topic);
    source_topics_.push_back({.name = topic,
                              .partitions = count != counts.end() ? count->second : partitions,
                              .subtopology = sub});
  }
  on_embedded_broker_ = IsMockCluster(admin.get());

  WEIR_ASSIGN_OR_RETURN(
      const std::vector<TopicSpec> missing,
      MissingTopics(InternalTopicSpecs(*topology_, config_, partitions), counts));
  if (missing.empty()) return absl::OkStatus();
  if (!options_.create_topic && on_embedded_broker_) {
    return EmbeddedBrokerLacks(missing, config_.bootstrap_servers);
  }
  for (const TopicSpec& spec : missing) {
    spdlog::info("creating internal topic {} ({} partition{}, replication factor {})", spec.name,
                 spec.partitions, spec.partitions == 1 ? "" : "s",
                 config_.replication_factor < 0 ? std::string("of the brokers' default")
                                                : std::to_string(config_.replication_factor));
    if (options_.create_topic) WEIR_RETURN_IF_ERROR(options_.create_topic(spec));
  }
  if (options_.create_topic) return absl::OkStatus();
  return CreateTopics(admin.get(), missing, static_cast<int>(config_.replication_factor));
}

void KafkaStreams::UseEmbeddedBrokerSettings() {
  // The embedded broker (librdkafka's mock cluster) holds a rebalance for session.timeout.ms
  // - 1 s when a member joins a settled group, and waits for a killed member's session to
  // expire, several rounds over (docs/broker.md): with Kafka's 45 s a restart after kill -9
  // waited 133 s for its tasks, with 6 s 16-20 s, with 3 s about 6 s. It has no minimum
  // session, and heartbeats come from librdkafka's own thread, so a short one is safe here.
  // It also answers a fetch that finds no new records only after fetch.wait.max.ms, never
  // sooner when records arrive meanwhile (rdkafka_mock_handlers.c), so librdkafka's 500 ms
  // wait put up to half a second on a payment's way to its alert; a real broker answers a
  // waiting fetch as soon as records arrive.
  for (const auto& [key, value] :
       {std::pair{"session.timeout.ms", "3000"}, std::pair{"heartbeat.interval.ms", "1000"},
        std::pair{"fetch.wait.max.ms", "10"}}) {
    if (config_.consumer.contains(key) || config_.kafka.contains(key)) continue;
    config_.consumer[key] = value;
    spdlog::info("embedded broker: consumer {} {} (set it to override)", key, value);
  }
  session_timeout_ms_ = SessionTimeoutMs(config_);
}

absl::StatusOr<std::unique_ptr<internal::StreamThread>> KafkaStreams::NewThread() {
  const int64_t index = next_thread_index_++;
  const std::string name =
      absl::StrCat(config_.application_id, "-", process_id_, "-StreamThread-", index);
  internal::StreamThreadHooks hooks{.configure_client = options_.configure_client,
                                    .global_stores = GlobalStores()};
  for (const SourceTopic& topic : source_topics_) {
    hooks.source_partitions[topic.name] = topic.partitions;
  }
  if (state_updater_ != nullptr) {
    hooks.open_task_db = [this](TaskId id) { return OpenTaskDb(id); };
    hooks.state_updater = state_updater_.get();
  }
  if (config_.static_membership) {
    hooks.group_instance_id = absl::StrCat(config_.application_id, "-", instance_id_, "-", index);
  }
  if (config_.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2) {
    hooks.transactional_id = absl::StrCat(config_.application_id, "-", instance_id_, "-", index);
  }
  return internal::StreamThread::Create(config_, topology_, name, options_.wall_clock,
                                       std::move(hooks));
}

absl::StatusOr<std::unique_ptr<TaskDb>> KafkaStreams::OpenTaskDb(TaskId id) const {
  WEIR_ASSIGN_OR_RETURN(rocksdb::Options options,
                        BuildRocksDbOptions(*rocksdb_options_, *rocksdb_shared_));
  const std::string dir =
      (std::filesystem::path(config_.state_dir) / config_.application_id / id.ToString()).string();
  return TaskDb::Open(dir, options);
}

absl::Status KafkaStreams::Start() {
  stateful_subtopologies_ = StatefulSubtopologies(*topology_);
  WEIR_RETURN_IF_ERROR(PrepareCluster());
  if (on_embedded_broker_) UseEmbeddedBrokerSettings();
  // The instance's stable id names its static group members and its transactional producers: a
  // restart after kill -9 then fences the dead instance's producers at once, aborting their open
  // transactions, instead of leaving them open (holding read_committed readers back) until
  // transaction.timeout.ms.
  if (config_.static_membership ||
      config_.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2) {
    WEIR_ASSIGN_OR_RETURN(
        instance_id_,
        ReadOrCreateInstanceId(std::filesystem::path(config_.state_dir) / config_.application_id));
  }
  if (config_.static_membership) {
    spdlog::info("static membership: instance id {} (group.instance.id {}-{}-<thread>)",
                 instance_id_, config_.application_id, instance_id_);
  }
  {
    absl::MutexLock lock(&mutex_);
    if (endpoint_.empty()) endpoint_ = config_.application_server;
  }
  if (!topology_->global_stores().empty()) {
    // Every global store holds its topic to the end before any stream thread processes.
    std::function<absl::StatusOr<std::unique_ptr<TaskDb>>()> open_db;
    if (config_.default_dsl_store == DslStore::kRocksDb) {
      open_db = [this]() -> absl::StatusOr<std::unique_ptr<TaskDb>> {
        WEIR_ASSIGN_OR_RETURN(rocksdb::Options options,
                              BuildRocksDbOptions(*rocksdb_options_, *rocksdb_shared_));
        return TaskDb::Open((std::filesystem::path(config_.state_dir) / config_.application_id /
                             "global")
                                .string(),
                            options);
      };
    }
    WEIR_ASSIGN_OR_RETURN(global_thread_,
                          internal::GlobalStreamThread::Create(config_, topology_, open_db));
    bootstrapping_ = true;
    const absl::Status bootstrapped = global_thread_->Bootstrap();
    bootstrapping_ = false;
    WEIR_RETURN_IF_ERROR(bootstrapped);
    global_thread_->Start();
  }
  if (config_.default_dsl_store == DslStore::kRocksDb && !stateful_subtopologies_.empty()) {
    WEIR_ASSIGN_OR_RETURN(
        state_updater_,
        internal::StateUpdater::Create(
            config_, topology_,
            {.open_task_db = [this](TaskId id) { return OpenTaskDb(id); },
             .wall_clock = options_.wall_clock,
             .on_restore_start = options_.on_restore_start,
             .global_stores = GlobalStores()}));
    state_updater_->Start();
  }
  WEIR_ASSIGN_OR_RETURN(
      membership_,
      Membership::Create(
          config_, [this] { return LocalView(); },
          [this](const std::vector<InstanceView>& view) { OnView(view); }, options_.wall_clock));
  // From here the HTTP listener's threads may read what Start() set (views, standbys).
  started_.store(true, std::memory_order_release);
  membership_->Start();
  absl::MutexLock lock(&mutex_);
  for (int64_t i = 0; i < config_.num_stream_threads; ++i) {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<internal::StreamThread> thread, NewThread());
    threads_.push_back(std::move(thread));
  }
  for (auto& thread : threads_) thread->Start();
  spdlog::info("{} stream threads started (process {})", threads_.size(), process_id_);
  return absl::OkStatus();
}

GlobalStoreFinder KafkaStreams::GlobalStores() const {
  if (global_thread_ == nullptr) return {};
  internal::GlobalStreamThread* thread = global_thread_.get();
  return [thread](absl::string_view name) { return thread->Find(name); };
}

absl::Status KafkaStreams::CheckThreads() {
  if (global_thread_ != nullptr) {
    if (absl::Status error = global_thread_->snapshot().error; !error.ok()) {
      return absl::Status(error.code(), absl::StrCat("the global thread died: ", error.message()));
    }
  }
  absl::MutexLock lock(&mutex_);
  for (auto& thread : threads_) {
    if (thread->state() != ThreadState::kDead) continue;
    if (counted_dead_.insert(thread->name()).second) ++failed_threads_;
    const absl::Status error = thread->error();
    if (config_.thread_error_policy == ThreadErrorPolicy::kShutdownClient) {
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
  for (const StandbyTaskView& standby : standbys()) owned.insert(standby.id.ToString());
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
  {
    absl::MutexLock lock(&mutex_);
    closing_ = true;
    // Every live thread commits before any leaves the group (see LeaveBarrier).
    int live = 0;
    for (auto& thread : threads_) live += thread->state() == ThreadState::kRunning ? 1 : 0;
    auto barrier = std::make_shared<internal::LeaveBarrier>(live);
    for (auto& thread : threads_) {
      thread->RequestStop(thread->state() == ThreadState::kRunning ? barrier : nullptr);
    }
  }
  // Joined without the lock: the membership thread reads threads() meanwhile. Only this
  // (controlling) thread changes threads_.
  for (auto& thread : threads_) thread->Join();
  if (state_updater_ != nullptr) state_updater_->Stop();
  if (global_thread_ != nullptr) global_thread_->Stop();
  if (membership_ != nullptr) membership_->Stop();  // the last heartbeat says `leaving`
}

void KafkaStreams::SetEndpoint(std::string endpoint) {
  absl::MutexLock lock(&mutex_);
  endpoint_ = std::move(endpoint);
}

InstanceView KafkaStreams::LocalView() const {
  std::string endpoint;
  {
    absl::MutexLock lock(&mutex_);
    endpoint = endpoint_;
  }
  InstanceView view{.instance = process_id_,
                    .endpoint = std::move(endpoint),
                    .heartbeat_ms = options_.wall_clock(),
                    .expiry_ms = session_timeout_ms_};
  if (!started_.load(std::memory_order_acquire)) return view;
  for (const ThreadSnapshot& thread : threads()) {
    view.records_restored += thread.records_restored;
    if (!thread.member_id.empty() && thread.state == ThreadState::kRunning) {
      view.member_ids.push_back(thread.member_id);
    }
    for (const TaskMetrics& task : thread.metrics.tasks) {
      ActiveTaskView active{.id = task.id,
                            .thread = thread.name,
                            .restored = task.records_restored,
                            .restore_remaining = task.restore_remaining,
                            .created_ms = task.created_ms,
                            .first_processed_ms = task.first_processed_ms,
                            .from_standby = task.from_standby};
      for (const SourceTopic& topic : source_topics_) {
        if (topic.subtopology != task.id.subtopology) continue;
        auto lag = thread.metrics.consumer.records_lag.find({topic.name, task.id.partition});
        if (lag == thread.metrics.consumer.records_lag.end()) continue;
        active.input_lag = std::max<int64_t>(active.input_lag, 0) + lag->second;
      }
      view.active.push_back(std::move(active));
    }
  }
  view.standby = standbys();
  return view;
}

std::vector<InstanceView> KafkaStreams::ApplicationView() const {
  if (!started_.load(std::memory_order_acquire)) return {};
  return membership_ != nullptr ? membership_->View() : std::vector<InstanceView>{};
}

std::vector<StandbyTaskView> KafkaStreams::standbys() const {
  if (!started_.load(std::memory_order_acquire)) return {};
  return state_updater_ != nullptr ? state_updater_->standbys() : std::vector<StandbyTaskView>{};
}

std::optional<GlobalThreadStatus> KafkaStreams::global_thread() const {
  if (global_thread_ == nullptr) return std::nullopt;
  const internal::GlobalStreamThread::Snapshot s = global_thread_->snapshot();
  return GlobalThreadStatus{.bootstrapped = s.bootstrapped,
                            .records_applied = s.records_applied,
                            .bootstrap_records = s.bootstrap_records,
                            .bootstrap_seconds = s.bootstrap_seconds,
                            .records_skipped = s.records_skipped,
                            .lag = s.lag};
}

int64_t KafkaStreams::standby_records_applied() const {
  if (!started_.load(std::memory_order_acquire)) return 0;
  return state_updater_ != nullptr ? state_updater_->standby_records_applied() : 0;
}

void KafkaStreams::OnView(const std::vector<InstanceView>& view) {
  std::vector<GroupMember> members;
  std::map<TaskId, std::string> actual;
  for (const InstanceView& instance : view) {
    for (const std::string& id : instance.member_ids) {
      members.push_back({.member_id = id, .instance = instance.instance});
    }
    for (const ActiveTaskView& task : instance.active) actual[task.id] = instance.instance;
  }
  int64_t mismatches = 0;
  for (const auto& [task, owner] : PredictRangeAssignment(members, source_topics_)) {
    auto it = actual.find(task);
    if (it == actual.end() || it->second != owner) ++mismatches;
  }
  placement_mismatches_ = mismatches;
  if (state_updater_ == nullptr || config_.num_standby_replicas == 0) return;
  std::set<TaskId> targets;
  for (const auto& [task, hosts] : PlaceStandbys(members, source_topics_, stateful_subtopologies_,
                                                 static_cast<int>(config_.num_standby_replicas))) {
    if (std::find(hosts.begin(), hosts.end(), process_id_) != hosts.end()) targets.insert(task);
  }
  state_updater_->SetTargets(std::move(targets));
}

absl::StatusOr<KafkaStreams::LocalReading> KafkaStreams::ReadLocal(
    TaskId id, const QueryableStore& view, const StateQuery& query,
    absl::Duration timeout) const {
  if (!started_.load(std::memory_order_acquire)) return absl::UnavailableError("not started");
  const internal::StoreRead read = [&view, query](StateStore& store) {
    return view.read(store, query);
  };
  absl::Status active = absl::UnavailableError(
      absl::StrCat("task ", id.ToString(), " is not active on this instance"));
  // Answered on the owner's thread; shared with it, since a late answer outlives this wait.
  auto answer = std::make_shared<std::promise<absl::StatusOr<StoreReading>>>();
  std::future<absl::StatusOr<StoreReading>> future = answer->get_future();
  std::string owner;
  {
    // Queued with the lock held: CheckThreads may replace (destroy) a dead thread.
    absl::MutexLock lock(&mutex_);
    for (const auto& thread : threads_) {
      if (!thread->HoldsTask(id)) continue;
      owner = thread->name();
      thread->Query(id, view.store, read, [answer](absl::StatusOr<StoreReading> reading) {
        answer->set_value(std::move(reading));
      });
      break;
    }
  }
  if (!owner.empty()) {
    if (future.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
      return absl::DeadlineExceededError(
          absl::StrCat(owner, " did not answer within ", absl::FormatDuration(timeout)));
    }
    absl::StatusOr<StoreReading> reading = future.get();
    if (reading.ok()) return LocalReading{.reading = *std::move(reading)};
    active = reading.status();
    if (!absl::IsUnavailable(active)) return active;
  }
  if (!query.allow_stale || state_updater_ == nullptr) return active;
  absl::StatusOr<std::pair<StoreReading, int64_t>> standby =
      state_updater_->QueryStandby(id, view.store, read);
  if (absl::IsUnavailable(standby.status())) {
    return absl::UnavailableError(absl::StrCat(active.message(), "; ", standby.status().message()));
  }
  if (!standby.ok()) return standby.status();
  return LocalReading{.reading = std::move(standby->first), .standby = true,
                      .lag = standby->second};
}

int32_t KafkaStreams::PartitionsOf(int subtopology) const {
  if (!started_.load(std::memory_order_acquire)) return 0;
  for (const SourceTopic& topic : source_topics_) {
    if (topic.subtopology == subtopology) return topic.partitions;
  }
  return 0;
}

std::string KafkaStreams::endpoint() const {
  absl::MutexLock lock(&mutex_);
  return endpoint_;
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

std::string KafkaStreams::NotReadyReason() const {
  if (bootstrapping_) {
    return "the global thread is reading the global stores' topics to their end (bootstrap)";
  }
  if (global_thread_ != nullptr && !global_thread_->snapshot().error.ok()) {
    return "the global thread died (see the log)";
  }
  {
    absl::MutexLock lock(&mutex_);
    if (threads_.empty()) return "not started";
    if (closing_) return "shutting down";
  }
  if (!Healthy()) return "a stream thread is not running (see /healthz and the log)";
  const int64_t stale_after_ms = 3 * StatisticsIntervalMs(config_);
  for (const ThreadSnapshot& thread : threads()) {
    if (!thread.assigned) {
      return absl::StrCat(thread.name, " waits for the group to assign it partitions");
    }
    if (thread.restoring) {
      return absl::StrCat(thread.name, " has a task restoring its state from the changelogs");
    }
    if (thread.paused_for_disk) {
      return absl::StrCat(thread.name, " stopped consuming: ", config_.state_dir, " has ",
                          FormatBytes(thread.state_dir_free_bytes),
                          " free, under state.dir.min.free.bytes (",
                          FormatBytes(config_.state_dir_min_free_bytes), ")");
    }
    // A thread cut off from every broker processes nothing: not ready until one answers again.
    if (thread.metrics.brokers_unreachable()) {
      return absl::StrCat(thread.name, " reaches no broker");
    }
    // Statistics come only with the thread's poll: three intervals without one, and the last
    // report (however "UP") no longer tells. A thread blocked on a vanished broker ends here.
    const int64_t age_ms = thread.metrics.consumer_statistics_age_ms(options_.wall_clock());
    if (stale_after_ms > 0 && age_ms > stale_after_ms) {
      return absl::StrCat(thread.name, " reaches no broker, or is blocked: its consumer has ",
                          "delivered no statistics for ", age_ms / 1000, " s (3 x ",
                          "statistics.interval.ms)");
    }
  }
  return "";
}

const char* KafkaStreams::StateName(State state) {
  switch (state) {
    case State::kCreated:
      return "CREATED";
    case State::kRebalancing:
      return "REBALANCING";
    case State::kRunning:
      return "RUNNING";
    case State::kNotRunning:
      return "NOT_RUNNING";
    case State::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

KafkaStreams::State KafkaStreams::state() const {
  {
    absl::MutexLock lock(&mutex_);
    if (threads_.empty()) return State::kCreated;
    if (closing_) return State::kNotRunning;
    for (const auto& thread : threads_) {
      if (thread->state() == ThreadState::kDead) return State::kError;
    }
  }
  return Ready() ? State::kRunning : State::kRebalancing;
}

int64_t KafkaStreams::failed_threads() const {
  absl::MutexLock lock(&mutex_);
  return failed_threads_;
}

}  // namespace weir
