// word-count: Kafka Streams' WordCountDemo on weir (examples/README.md).
//
//   word-count --bootstrap-servers HOST:PORT [--application-id ID] [--state-dir DIR]
//       counts the words of topic streams-plaintext-input into streams-wordcount-output until
//       SIGTERM or Ctrl-C; both topics must exist
//   word-count < text.txt
//       the same on an embedded broker (in this process): stdin's lines in, then each word's
//       final count printed as "word count", sorted by word, and exit
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/runtime/kafka_streams.h"
#include "examples/run.h"
#include "examples/word-count/word_count.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

// Stdin's lines through an embedded broker; prints the final counts.
int RunEmbedded() {
  std::vector<examples::Input> inputs;
  for (std::string line; std::getline(std::cin, line);) {
    // The line enters a task, then each of its words (through the repartition by word).
    inputs.push_back({.topic = word_count::kInput,
                      .key = std::nullopt,
                      .value = line,
                      .records = 1 + static_cast<int64_t>(word_count::Words(line).size())});
  }
  std::mutex mutex;
  std::map<std::string, int64_t> last;
  absl::StatusOr<weir::Topology> topology =
      word_count::BuildTopology([&](const std::string& word, int64_t count) {
        std::lock_guard<std::mutex> lock(mutex);
        last[word] = count;
      });
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  const absl::Status ran =
      examples::RunOnEmbeddedBroker(*std::move(topology), "word-count",
                                    {word_count::kInput, word_count::kOutput}, inputs);
  if (!ran.ok()) return std::fprintf(stderr, "%s\n", ran.ToString().c_str()), 1;
  for (const auto& [word, count] : last) {
    std::printf("%s %lld\n", word.c_str(), static_cast<long long>(count));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // weir logs through spdlog's default logger: to stderr here, stdout is the counts'.
  spdlog::set_default_logger(spdlog::stderr_color_mt("word-count"));
  weir::AppConfig config;
  config.application_id = "streams-wordcount";
  config.state_dir = "/tmp/weir-word-count";
  if (!examples::ParseFlags(argc, argv, config)) return 2;
  if (config.bootstrap_servers.empty()) return RunEmbedded();
  absl::StatusOr<weir::Topology> topology = word_count::BuildTopology();
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  return examples::RunUntilSignalled(*std::move(topology), config);
}
