// word-count: Kafka Streams' WordCountDemo on weir (examples/README.md).
//
//   word-count --bootstrap-servers HOST:PORT [--application-id ID] [--state-dir DIR]
//       counts the words of topic streams-plaintext-input into streams-wordcount-output until
//       SIGTERM or Ctrl-C; both topics must exist
//   word-count < text.txt
//       the same on an embedded broker (in this process): stdin's lines in, then each word's
//       final count printed as "word count", sorted by word, and exit
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "engine/kafka/client_config.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/runtime/kafka_streams.h"
#include "examples/word-count/word_count.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

int Usage(const char* self) {
  std::fprintf(stderr,
               "usage: %s --bootstrap-servers HOST:PORT [--application-id ID] [--state-dir DIR]\n"
               "       %s < text.txt    (an embedded broker: counts stdin's words and exits)\n",
               self, self);
  return 2;
}

// Runs until SIGTERM or SIGINT (blocked in every thread, taken here).
int RunAgainst(weir::AppConfig config) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  absl::StatusOr<weir::Topology> topology = word_count::BuildTopology();
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  auto streams = weir::KafkaStreams::Create(*std::move(topology), config);
  if (!streams.ok()) return std::fprintf(stderr, "%s\n", streams.status().ToString().c_str()), 1;
  if (absl::Status started = (*streams)->Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "counting %s into %s; Ctrl-C stops\n", word_count::kInput,
               word_count::kOutput);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  (*streams)->Close();
  return 0;
}

// Stdin's lines through an embedded broker; prints the final counts.
int RunEmbedded() {
  auto broker = weir::EmbeddedBroker::Start(1);
  if (!broker.ok()) return std::fprintf(stderr, "%s\n", broker.status().ToString().c_str()), 1;
  for (const char* topic : {word_count::kInput, word_count::kOutput}) {
    if (absl::Status created = (*broker)->CreateTopic({.name = topic, .partitions = 2});
        !created.ok()) {
      std::fprintf(stderr, "%s\n", created.ToString().c_str());
      return 1;
    }
  }
  auto conf = weir::BuildKafkaConf({.bootstrap_servers = (*broker)->bootstrap_servers()},
                                   weir::ClientKind::kProducer);
  if (!conf.ok()) return std::fprintf(stderr, "%s\n", conf.status().ToString().c_str()), 1;
  auto producer = weir::NewKafkaClient(*std::move(conf), weir::ClientKind::kProducer);
  if (!producer.ok()) return std::fprintf(stderr, "%s\n", producer.status().ToString().c_str()), 1;
  // Every input line and every word it holds enter a task once (the words through the
  // repartition by word): the records to wait for.
  int64_t expected = 0;
  for (std::string line; std::getline(std::cin, line);) {
    expected += 1 + static_cast<int64_t>(word_count::Words(line).size());
    while (rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(word_count::kInput),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(line.data(), line.size()),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer->get(), 10);
    }
  }
  rd_kafka_flush(producer->get(), 30'000);

  std::mutex mutex;
  std::map<std::string, int64_t> last;
  absl::StatusOr<weir::Topology> topology =
      word_count::BuildTopology([&](const std::string& word, int64_t count) {
        std::lock_guard<std::mutex> lock(mutex);
        last[word] = count;
      });
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  const std::filesystem::path state =
      std::filesystem::temp_directory_path() / ("word-count-" + std::to_string(::getpid()));
  weir::AppConfig config;
  config.application_id = "word-count";
  config.bootstrap_servers = (*broker)->bootstrap_servers();
  config.state_dir = state.string();
  config.commit_interval_ms = 100;
  auto streams = weir::KafkaStreams::Create(
      *std::move(topology), config,
      {.create_topic = [&](const weir::TopicSpec& topic) {
        return (*broker)->CreateTopic(topic);
      }});
  if (!streams.ok()) return std::fprintf(stderr, "%s\n", streams.status().ToString().c_str()), 1;
  if (absl::Status started = (*streams)->Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", started.ToString().c_str());
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int64_t processed = 0;
  while (processed < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    processed = 0;
    for (const weir::ThreadSnapshot& thread : (*streams)->threads()) processed += thread.processed;
  }
  (*streams)->Close();  // flushes the record cache: the last counts reach the output (and us)
  std::filesystem::remove_all(state);
  if (processed < expected) {
    std::fprintf(stderr, "only %lld of %lld records processed in 60 s\n",
                 static_cast<long long>(processed), static_cast<long long>(expected));
    return 1;
  }
  for (const auto& [word, count] : last) std::printf("%s %lld\n", word.c_str(), static_cast<long long>(count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // weir logs through spdlog's default logger: to stderr here, stdout is the counts'.
  spdlog::set_default_logger(spdlog::stderr_color_mt("word-count"));
  weir::AppConfig config;
  config.application_id = "streams-wordcount";
  config.state_dir = "/tmp/weir-word-count";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    if (flag == "--bootstrap-servers") {
      config.bootstrap_servers = argv[++i];
    } else if (flag == "--application-id") {
      config.application_id = argv[++i];
    } else if (flag == "--state-dir") {
      config.state_dir = argv[++i];
    } else {
      return Usage(argv[0]);
    }
  }
  return config.bootstrap_servers.empty() ? RunEmbedded() : RunAgainst(config);
}
