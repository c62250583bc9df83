// `weir broker`: the embedded Kafka-protocol broker as a process of its own.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/shutdown_signal.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/topic_offsets.h"
#include "engine/runtime/app_config.h"

namespace weir::cli {
namespace {

struct BrokerFlags {
  ConfigFlags config;
  int brokers = 0;  // 0 = from config
  std::vector<std::string> topics;
  std::string bootstrap_file;
  double progress_interval_s = 5;
};

constexpr char kLimits[] =
    "Limits: this is librdkafka's mock cluster, for development and tests only.\n"
    "  - Records live in memory, at most 100,000 records or 5 MiB per partition: older\n"
    "    records vanish and the log start offset moves.\n"
    "  - No CreateTopics, DescribeGroups or ListGroups: create topics with --topic or\n"
    "    broker.topics. Unknown topics are auto-created with 4 partitions.\n"
    "  - Transactions are accepted but exactly-once cannot be proven: transactional offset\n"
    "    commits are not stored and aborted records are visible to read_committed consumers.\n"
    "  - A consumer group join takes about 3 s.\n"
    "Point real deployments at a real Kafka cluster (bootstrap.servers).\n";

// "payments 12,345 (+2,469/s)" for each topic; the rate is over the last interval.
std::string ProgressLine(const std::vector<TopicOffsets>& now,
                         const std::map<std::string, int64_t>& before, double seconds) {
  std::vector<std::string> parts;
  for (const TopicOffsets& topic : now) {
    auto it = before.find(topic.topic);
    const int64_t delta = topic.end_offsets - (it == before.end() ? 0 : it->second);
    std::string part = absl::StrFormat("%s %d records (+%.0f/s)", topic.topic, topic.end_offsets,
                                       seconds > 0 ? delta / seconds : 0.0);
    if (topic.retained != topic.end_offsets) {
      absl::StrAppendFormat(&part, " [%d retained]", topic.retained);
    }
    parts.push_back(std::move(part));
  }
  return parts.empty() ? "no topics yet" : absl::StrJoin(parts, "  ");
}

absl::Status RunBroker(const BrokerFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  std::vector<TopicSpec> topics;
  for (const std::string& spec : config.broker_topics) {
    WEIR_ASSIGN_OR_RETURN(topics.emplace_back(), ParseTopicSpec(spec));
  }
  for (const std::string& spec : flags.topics) {
    absl::StatusOr<TopicSpec> topic = ParseTopicSpec(spec);
    if (!topic.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--topic: ", topic.status().message()));
    }
    topics.push_back(*std::move(topic));
  }
  const int brokers = flags.brokers > 0 ? flags.brokers : static_cast<int>(config.broker_brokers);

  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, EmbeddedBroker::Start(brokers));
  for (const TopicSpec& topic : topics) WEIR_RETURN_IF_ERROR(broker->CreateTopic(topic));

  // The file first, then stdout: whoever reads the line can rely on the file being there.
  if (!flags.bootstrap_file.empty()) {
    WEIR_RETURN_IF_ERROR(
        WriteFileAtomically(flags.bootstrap_file, broker->bootstrap_servers() + "\n"));
  }
  std::printf("%s\n", broker->bootstrap_servers().c_str());
  std::fflush(stdout);
  spdlog::info("embedded broker up: {} brokers at {}", brokers, broker->bootstrap_servers());
  for (const TopicSpec& topic : topics) {
    spdlog::info("created topic {} ({} partitions)", topic.name, topic.partitions);
  }
  spdlog::warn(
      "embedded broker: in memory only, at most 100,000 records or 5 MiB per partition, no "
      "exactly-once proof; see 'weir broker --help' and docs/broker.md");
  spdlog::info("running until Ctrl-C (SIGINT) or SIGTERM");

  std::unique_ptr<TopicOffsetsReader> reader;
  if (flags.progress_interval_s > 0) {
    WEIR_ASSIGN_OR_RETURN(
        reader, TopicOffsetsReader::Open({.bootstrap_servers = broker->bootstrap_servers()}));
  }
  const auto interval = std::chrono::milliseconds(
      flags.progress_interval_s > 0 ? static_cast<int64_t>(flags.progress_interval_s * 1000)
                                    : int64_t{3'600'000});
  std::map<std::string, int64_t> before;
  auto last = std::chrono::steady_clock::now();
  auto last_printed = last;
  int signal_number;
  while ((signal_number = WaitForShutdownSignal(interval)) == 0) {
    if (reader == nullptr) continue;
    absl::StatusOr<std::vector<TopicOffsets>> offsets = reader->Read(std::chrono::seconds(5));
    const auto now = std::chrono::steady_clock::now();
    if (!offsets.ok()) {
      spdlog::warn("progress: {}", offsets.status().message());
      continue;
    }
    std::map<std::string, int64_t> current;
    for (const TopicOffsets& topic : *offsets) current[topic.topic] = topic.end_offsets;
    // An idle broker says so once a minute rather than every interval.
    if (current != before || now - last_printed >= std::chrono::minutes(1)) {
      spdlog::info(
          "{}", ProgressLine(*offsets, before, std::chrono::duration<double>(now - last).count()));
      last_printed = now;
    }
    last = now;
    before = std::move(current);
  }
  spdlog::info("signal {} received: stopping the embedded broker", signal_number);
  reader.reset();
  broker.reset();
  if (!flags.bootstrap_file.empty()) std::filesystem::remove(flags.bootstrap_file);
  return absl::OkStatus();
}

}  // namespace

void AddBrokerCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BrokerFlags>();
  CLI::App* command = app.add_subcommand(
      "broker", "Start the embedded Kafka-protocol broker on 127.0.0.1 until Ctrl-C");
  const std::string details(
      "Start the embedded Kafka-protocol broker on 127.0.0.1 and run until Ctrl-C or SIGTERM\n"
      "(exit status 0). Prints its bootstrap servers on stdout (one line), then a progress line\n"
      "with every topic's record count and rate every --progress-interval seconds on stderr.\n"
      "Any Kafka client can use it: weir, kcat, confluent-kafka.\n\n");
  AddConfigFlags(*command, flags->config, "");
  command
      ->add_option("--brokers", flags->brokers,
                   "Number of brokers in the cluster, 1-16 (default: broker.brokers from the "
                   "config, 3)")
      ->check(InRange(1, EmbeddedBroker::kMaxBrokers));
  command
      ->add_option("-t,--topic", flags->topics,
                   "Create a topic, NAME:PARTITIONS; repeatable, added to broker.topics")
      ->expected(1)
      ->take_all();
  command->add_option(
      "--bootstrap-file", flags->bootstrap_file,
      "Also write the bootstrap servers to this file (atomically; removed on exit)");
  command
      ->add_option("--progress-interval", flags->progress_interval_s,
                   "Seconds between progress lines; 0 turns them off")
      ->check(NonNegative())
      ->capture_default_str();
  command->footer(details + kLimits +
                  "\nExamples:\n"
                  "  weir broker --topic payments:12 --topic fraud-alerts:12\n"
                  "  weir broker --config config/weir.yaml --bootstrap-file /tmp/weir.bootstrap\n"
                  "  kcat -b \"$(cat /tmp/weir.bootstrap)\" -t payments -P -K: <<< 'card1:hello'");
  command->callback([flags, exit_code] { ReportOutcome("broker", RunBroker(*flags), exit_code); });
}

}  // namespace weir::cli
