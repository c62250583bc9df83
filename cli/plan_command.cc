// `weir plan memory`: the memory an instance of the fraud service needs for a configuration.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/app_config.h"
#include "engine/memory_plan.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_topology.h"

namespace weir::cli {
namespace {

struct PlanFlags {
  ConfigFlags config;
  int64_t partitions = 12;
  int64_t instances = 1;
};

absl::Status PlanMemoryCommand(const PlanFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet rocksdb, LoadRocksDbOptionSet(config.rocksdb_options));
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(config.topology_config));
  const Topology topology = fraud::BuildFraudTopology(
      fraud_config, fraud::CardTokenizer("memory-plan: no card is tokenized"));
  // The fraud topology has one sub-topology: a task per input partition, spread over instances.
  const int64_t active = (flags.partitions + flags.instances - 1) / flags.instances;
  // Standbys open RocksDB instances too. Placement follows where tasks would move, not balance
  // (docs/standby.md), so one instance may hold a copy of every task it does not run.
  const int64_t standby =
      flags.instances > 1
          ? std::min(flags.partitions - active, flags.partitions * config.num_standby_replicas)
          : 0;
  const int64_t tasks = active + standby;
  WEIR_ASSIGN_OR_RETURN(MemoryPlan plan,
                        PlanMemory(config, rocksdb, topology, tasks, kDefaultProcessOverheadBytes));
  std::printf(
      "memory plan: %lld input partitions over %lld instance(s) = %lld active tasks per instance "
      "+ at most %lld standby tasks (num.standby.replicas %lld), option set %s\n\n%s",
      static_cast<long long>(flags.partitions), static_cast<long long>(flags.instances),
      static_cast<long long>(active), static_cast<long long>(standby),
      static_cast<long long>(config.num_standby_replicas), config.rocksdb_options.c_str(),
      plan.ToText().c_str());
  if (config.memory_limit_bytes > 0) {
    std::printf("memory.limit.bytes %s: %s\n", FormatBytes(config.memory_limit_bytes).c_str(),
                plan.container_limit <= config.memory_limit_bytes ? "fits" : "EXCEEDED");
  }
  return absl::OkStatus();
}

}  // namespace

void AddPlanCommand(CLI::App& app, int* exit_code) {
  CLI::App* command = app.add_subcommand("plan", "Plan resources for a configuration.");
  command->require_subcommand(1);
  auto flags = std::make_shared<PlanFlags>();
  CLI::App* memory = command->add_subcommand(
      "memory",
      "Print the memory one instance needs, line by line: record cache x threads, RocksDB\n"
      "block cache x RocksDB instances (one per task unless the option set shares one), memtables\n"
      "(write_buffer_size x max_write_buffer_number x column families x tasks; every window\n"
      "segment is a column family), librdkafka's consumer prefetch and producer buffer per\n"
      "thread, the total and the container memory limit it implies (total + 256 MiB for the\n"
      "process itself). `weir run` refuses to start when this exceeds memory.limit.bytes.");
  AddConfigFlags(*memory, flags->config, "config/weir.yaml");
  memory->add_option("--partitions", flags->partitions, "Input partitions (payments topic)")
      ->check(InRange(int64_t{1}, int64_t{100'000}))
      ->capture_default_str();
  memory->add_option("--instances", flags->instances, "Instances sharing the partitions")
      ->check(InRange(int64_t{1}, int64_t{10'000}))
      ->capture_default_str();
  memory->footer(
      "Examples:\n"
      "  weir plan memory --config config/weir.yaml --set "
      "rocksdb.options=config/rocksdb/tuned.yaml\n"
      "  weir plan memory --partitions 48 --instances 4");
  memory->callback(
      [flags, exit_code] { ReportOutcome("plan memory", PlanMemoryCommand(*flags), exit_code); });
}

}  // namespace weir::cli
