// What the examples share: their flags, running against a Kafka cluster until a signal, and
// running on an embedded broker in their own process (no Kafka to install) over given input.
#ifndef WEIR_EXAMPLES_RUN_H_
#define WEIR_EXAMPLES_RUN_H_

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/runtime/kafka_streams.h"

namespace examples {

// --bootstrap-servers HOST:PORT, --application-id ID, --state-dir DIR into `config`; false (and
// the usage printed) for anything else.
inline bool ParseFlags(int argc, char** argv, weir::AppConfig& config) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    std::string* into = flag == "--bootstrap-servers" ? &config.bootstrap_servers
                        : flag == "--application-id"  ? &config.application_id
                        : flag == "--state-dir"       ? &config.state_dir
                                                      : nullptr;
    if (into == nullptr || i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: %s --bootstrap-servers HOST:PORT [--application-id ID] "
                   "[--state-dir DIR]\n       %s < input   (on an embedded broker)\n",
                   argv[0], argv[0]);
      return false;
    }
    *into = argv[++i];
  }
  return true;
}

// Runs `topology` against config.bootstrap_servers until SIGTERM or SIGINT (blocked in every
// thread, taken here), then closes it. 1 when it cannot start or a thread fails.
inline int RunUntilSignalled(weir::Topology topology, const weir::AppConfig& config) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto streams = weir::KafkaStreams::Create(std::move(topology), config);
  if (!streams.ok()) return std::fprintf(stderr, "%s\n", streams.status().ToString().c_str()), 1;
  if (absl::Status started = (*streams)->Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "running as %s against %s; Ctrl-C stops\n",
               config.application_id.c_str(), config.bootstrap_servers.c_str());
  while (true) {
    timespec second{.tv_sec = 1, .tv_nsec = 0};
    if (sigtimedwait(&stop, nullptr, &second) > 0) break;
    if (absl::Status running = (*streams)->CheckThreads(); !running.ok()) {
      std::fprintf(stderr, "%s\n", running.ToString().c_str());
      (*streams)->Close();
      return 1;
    }
  }
  (*streams)->Close();
  return 0;
}

struct Input {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  // The records it makes the application process: itself, and what it leads to through
  // repartition topics (a line's words); a global table's record counts for its update.
  int64_t records = 1;
};

// Starts a one-broker embedded cluster with `topics` (2 partitions each), starts `topology` as
// application `application_id`, then produces `inputs` one at a time (timestamps 1, 2, ...),
// each once the application has processed everything before it - so a table's update and an
// order see each other in the order given, as in a test driver - and closes the application
// (flushing the record cache) once it has processed them all.
inline absl::Status RunOnEmbeddedBroker(weir::Topology topology,
                                        const std::string& application_id,
                                        const std::vector<std::string>& topics,
                                        const std::vector<Input>& inputs) {
  auto broker = weir::EmbeddedBroker::Start(1);
  if (!broker.ok()) return broker.status();
  for (const std::string& topic : topics) {
    if (absl::Status created = (*broker)->CreateTopic({.name = topic, .partitions = 2});
        !created.ok()) {
      return created;
    }
  }
  auto conf = weir::BuildKafkaConf(
      {.bootstrap_servers = (*broker)->bootstrap_servers(),
       .common = {{"partitioner", "murmur2_random"}}},  // Kafka's, as Kafka Streams expects
      weir::ClientKind::kProducer);
  if (!conf.ok()) return conf.status();
  auto producer = weir::NewKafkaClient(*std::move(conf), weir::ClientKind::kProducer);
  if (!producer.ok()) return producer.status();

  const std::filesystem::path state = std::filesystem::temp_directory_path() /
                                      absl::StrCat(application_id, "-", ::getpid());
  weir::AppConfig config;
  config.application_id = application_id;
  config.bootstrap_servers = (*broker)->bootstrap_servers();
  config.state_dir = state.string();
  config.commit_interval_ms = 100;
  auto streams = weir::KafkaStreams::Create(
      std::move(topology), config,
      {.create_topic = [&](const weir::TopicSpec& topic) {
        return (*broker)->CreateTopic(topic);
      }});
  if (!streams.ok()) return streams.status();
  if (absl::Status started = (*streams)->Start(); !started.ok()) return started;
  const auto processed = [&] {
    int64_t total = 0;
    for (const weir::ThreadSnapshot& thread : (*streams)->threads()) total += thread.processed;
    if (auto global = (*streams)->global_thread(); global.has_value()) {
      total += global->records_applied;
    }
    return total;
  };
  absl::Status status;
  int64_t expected = 0;
  int64_t timestamp = 0;
  for (const Input& input : inputs) {
    const std::string key = input.key.value_or("");
    const char* key_data = input.key.has_value() ? key.data() : nullptr;  // null: no key
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer->get(), RD_KAFKA_V_TOPIC(input.topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(input.value.data()), input.value.size()),
        RD_KAFKA_V_TIMESTAMP(++timestamp), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = rd_kafka_flush(producer->get(), 30'000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat("producing to ", input.topic, ": ",
                                                   rd_kafka_err2str(err)));
      break;
    }
    expected += input.records;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (processed() < expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (processed() < expected) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "only ", processed(), " of ", expected, " records processed in 60 s"));
      break;
    }
  }
  (*streams)->Close();
  std::filesystem::remove_all(state);
  return status;
}

}  // namespace examples

#endif  // WEIR_EXAMPLES_RUN_H_
