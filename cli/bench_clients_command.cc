// `weir bench produce|consume`: kafka-producer- and consumer-perf-test, default vs tuned clients.
#include <cstdio>

#include "bench/client_perf.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"

namespace weir::cli {
namespace {

struct ClientBenchFlags {
  ConfigFlags config;
  bench::ClientBenchOptions options;
};

void AddClientBenchFlags(CLI::App& command, ClientBenchFlags& flags) {
  AddConfigFlags(command, flags.config, "config/weir.yaml");
  command.add_option("--topic", flags.options.topic, "Topic")->capture_default_str();
  command.add_option("--records", flags.options.records, "Records per configuration")
      ->check(Positive())
      ->capture_default_str();
  command
      .add_option("--partitions", flags.options.partitions,
                  "Partitions of the topic the embedded broker creates")
      ->check(InRange(1, 1000))
      ->capture_default_str();
}

// Runs `compare` (bench::CompareProducers or CompareConsumers) and prints its table.
absl::Status PrintComparison(
    const ClientBenchFlags& flags,
    absl::StatusOr<std::string> (*compare)(const AppConfig&, const bench::ClientBenchOptions&)) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(const std::string table, compare(config, flags.options));
  std::fputs(table.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

void AddBenchClientCommands(CLI::App& bench, int* exit_code) {
  auto produce_flags = std::make_shared<ClientBenchFlags>();
  CLI::App* produce =
      bench.add_subcommand("produce", "Producer throughput, baseline vs tuned client settings");
  AddClientBenchFlags(*produce, *produce_flags);
  produce->add_option("--record-size", produce_flags->options.record_size, "Bytes per record")
      ->check(InRange(1, 1'000'000))
      ->capture_default_str();
  produce
      ->add_option("--throughput", produce_flags->options.throughput,
                   "Records per second; -1 = as fast as possible")
      ->capture_default_str();
  produce->footer(
      "Like kafka-producer-perf-test, twice: Baseline (batch.size=16384, linger.ms=0, no\n"
      "compression: the Java client's defaults) and Tuned (batch.size=65536, linger.ms=20,\n"
      "compression.type=lz4), both acks=all with idempotence; records of random letters.\n"
      "Prints records/s, MB/s, average and p99 send-to-acknowledgement latency. With\n"
      "bootstrap.servers empty it starts the embedded broker in process (its limits: 100,000\n"
      "records or 5 MiB per partition, docs/broker.md).\n\n"
      "Example:\n  weir bench produce --set bootstrap.servers=127.0.0.1:9092 --records 1000000\n");
  produce->callback([produce_flags, exit_code] {
    ReportOutcome("bench produce", PrintComparison(*produce_flags, bench::CompareProducers),
                  exit_code);
  });

  auto consume_flags = std::make_shared<ClientBenchFlags>();
  CLI::App* consume =
      bench.add_subcommand("consume", "Consumer throughput, baseline vs tuned fetch settings");
  AddClientBenchFlags(*consume, *consume_flags);
  consume->footer(
      "Like kafka-consumer-perf-test, twice: Baseline (fetch.min.bytes=1) and Tuned\n"
      "(fetch.min.bytes=1048576, fetch.wait.max.ms=500), each a fresh consumer reading --records\n"
      "records of --topic from the beginning. With bootstrap.servers empty it starts the\n"
      "embedded broker and fills the topic first.\n\n"
      "Example:\n  weir bench consume --set bootstrap.servers=127.0.0.1:9092 --topic perf-test\n");
  consume->callback([consume_flags, exit_code] {
    ReportOutcome("bench consume", PrintComparison(*consume_flags, bench::CompareConsumers),
                  exit_code);
  });
}

}  // namespace weir::cli
