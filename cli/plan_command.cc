// `weir plan memory`: the memory an instance of the fraud service needs for a configuration.
// `weir plan capacity`: partitions, instances, storage and memory for a peak rate.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli/capacity_plan.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/memory_plan.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_topology.h"

namespace weir::cli {
namespace {

struct PlanFlags {
  ConfigFlags config;
  int64_t partitions = 12;
  int64_t instances = 1;
  std::string format = "text";  // text | k8s | systemd
};

// The fraud service's memory plan for one of `instances` sharing `partitions`.
struct InstancePlan {
  int64_t active = 0;   // tasks
  int64_t standby = 0;  // at most
  MemoryPlan memory;
};

absl::StatusOr<InstancePlan> PlanInstance(const AppConfig& config, int64_t partitions,
                                          int64_t instances) {
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet rocksdb, LoadRocksDbOptionSet(config.rocksdb_options));
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(config.topology_config));
  const Topology topology = fraud::BuildFraudTopology(
      fraud_config, fraud::CardTokenizer("memory-plan: no card is tokenized"));
  InstancePlan plan;
  // The fraud topology has one sub-topology: a task per input partition, spread over instances.
  plan.active = (partitions + instances - 1) / instances;
  // Standbys open RocksDB instances too. Placement follows where tasks would move, not balance
  // (docs/standby.md), so one instance may hold a copy of every task it does not run.
  plan.standby =
      instances > 1 ? std::min(partitions - plan.active, partitions * config.num_standby_replicas)
                    : 0;
  WEIR_ASSIGN_OR_RETURN(plan.memory, PlanMemory(config, rocksdb, topology,
                                                plan.active + plan.standby,
                                                kDefaultProcessOverheadBytes));
  return plan;
}

absl::Status PlanMemoryCommand(const PlanFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(const InstancePlan instance,
                        PlanInstance(config, flags.partitions, flags.instances));
  const MemoryPlan& plan = instance.memory;
  // Whole MiB, rounded up: what a manifest or unit can say.
  const int64_t limit_mib = (plan.container_limit + (int64_t{1} << 20) - 1) >> 20;
  const std::string source = absl::StrCat(
      "weir plan memory --config ", flags.config.path, " --partitions ", flags.partitions,
      " --instances ", flags.instances, " (option set ", config.rocksdb_options, ")");
  if (flags.format == "k8s") {
    // Requests equal limits for memory (no overcommit: the plan is the budget); CPU requested
    // per stream thread and not limited (a limit only throttles a thread that has the work).
    std::printf("# %s\nresources:\n  requests:\n    cpu: \"%lld\"\n    memory: %lldMi\n"
                "  limits:\n    memory: %lldMi\n",
                source.c_str(), static_cast<long long>(config.num_stream_threads),
                static_cast<long long>(limit_mib), static_cast<long long>(limit_mib));
    return absl::OkStatus();
  }
  if (flags.format == "systemd") {
    std::printf("# %s\nMemoryMax=%lldM\n", source.c_str(), static_cast<long long>(limit_mib));
    return absl::OkStatus();
  }
  std::printf(
      "memory plan: %lld input partitions over %lld instance(s) = %lld active tasks per instance "
      "+ at most %lld standby tasks (num.standby.replicas %lld), option set %s\n\n%s",
      static_cast<long long>(flags.partitions), static_cast<long long>(flags.instances),
      static_cast<long long>(instance.active), static_cast<long long>(instance.standby),
      static_cast<long long>(config.num_standby_replicas), config.rocksdb_options.c_str(),
      plan.ToText().c_str());
  if (config.memory_limit_bytes > 0) {
    std::printf("memory.limit.bytes %s: %s\n", FormatBytes(config.memory_limit_bytes).c_str(),
                plan.container_limit <= config.memory_limit_bytes ? "fits" : "EXCEEDED");
  }
  return absl::OkStatus();
}


struct CapacityFlags {
  ConfigFlags config;
  CapacityInputs inputs;
  std::string results;  // a results.json
  int64_t cards = 0;    // card population, for state on disk
};

// "  what                        formula                                        value"
void PrintLine(const std::string& what, const std::string& formula, const std::string& value) {
  std::printf("  %-28s %-62s %12s\n", what.c_str(), formula.c_str(), value.c_str());
}

absl::Status PlanCapacityCommand(const CapacityFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  std::optional<MeasuredRun> measured;
  if (!flags.results.empty()) {
    std::ifstream in(flags.results);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(flags.results, ": cannot read the results file"));
    }
    std::stringstream text;
    text << in.rdbuf();
    WEIR_ASSIGN_OR_RETURN(measured,
                          ReadMeasuredRun(flags.results, text.str(), config.rocksdb_options));
  }
  WEIR_ASSIGN_OR_RETURN(const CapacityPlan plan, PlanCapacity(flags.inputs, measured));
  const CapacityInputs& in = flags.inputs;
  std::printf(
      "capacity plan: %s records/s at peak, %s B per record, %s days' retention, replication "
      "factor %lld, %lld consumers\n\nKafka (the capacity worksheet; MB = 10^6 B)\n",
      Grouped(in.peak_records_per_s).c_str(), Grouped(in.record_bytes).c_str(),
      ThreeDigits(in.retention_days).c_str(), static_cast<long long>(in.replication_factor),
      static_cast<long long>(in.consumers));
  for (const CapacityPlan::Line& line : plan.kafka) PrintLine(line.what, line.formula, line.value);
  if (!plan.rounded_chain.empty()) std::printf("  %s\n", plan.rounded_chain.c_str());

  const int64_t threads = config.num_stream_threads;
  std::printf("\nweir (%s: %lld stream threads per instance, num.standby.replicas %lld, %s)\n",
              flags.config.path.c_str(), static_cast<long long>(threads),
              static_cast<long long>(config.num_standby_replicas),
              config.rocksdb_options.c_str());
  int64_t instances = plan.instances_low;
  if (measured.has_value()) {
    PrintLine("measured per thread", measured->source,
              absl::StrCat(Grouped(measured->records_per_s_per_thread), "/s"));
    PrintLine("stream threads needed",
              absl::StrCat(Grouped(in.peak_records_per_s), " x ", ThreeDigits(in.headroom),
                           " headroom / the rate per thread, rounded up"),
              absl::StrCat(*plan.threads_needed));
    const int64_t for_throughput = (*plan.threads_needed + threads - 1) / threads;
    instances = std::max(instances, for_throughput);
    PrintLine("instances",
              absl::StrCat("threads needed / ", threads, " per instance (", for_throughput,
                           "), at least the worksheet's ", plan.instances_low),
              absl::StrCat(instances));
  } else {
    PrintLine("instances", "the worksheet's lower figure (no --results: no measured throughput)",
              absl::StrCat(instances));
  }
  if (instances * threads > plan.partitions) {
    std::printf("  note: %lld instances x %lld threads exceed %lld partitions: threads without a "
                "task idle; raise the partitions or lower num.stream.threads\n",
                static_cast<long long>(instances), static_cast<long long>(threads),
                static_cast<long long>(plan.partitions));
  }
  WEIR_ASSIGN_OR_RETURN(const InstancePlan instance,
                        PlanInstance(config, plan.partitions, instances));
  PrintLine("memory per instance",
            absl::StrCat("weir plan memory --partitions ", plan.partitions, " --instances ",
                         instances, " (container limit)"),
            FormatBytes(instance.memory.container_limit));
  if (measured.has_value() && measured->state_bytes_per_card > 0 && flags.cards > 0) {
    const double copies = 1.0 + static_cast<double>(std::min<int64_t>(
                                    config.num_standby_replicas, instances - 1));
    const double per_instance =
        measured->state_bytes_per_card * static_cast<double>(flags.cards) * copies /
        static_cast<double>(instances);
    PrintLine("state disk per instance",
              absl::StrCat(ThreeDigits(measured->state_bytes_per_card), " B per card x ",
                           Grouped(static_cast<double>(flags.cards)), " cards x ",
                           ThreeDigits(copies), " copies / ", instances,
                           " instances"),
              FormatBytes(static_cast<int64_t>(per_instance)));
  } else {
    PrintLine("state disk per instance", "needs --results with state sizes and --cards", "-");
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
  memory->add_option("--format", flags->format,
                     "text: the plan line by line; k8s: a container's `resources` (memory "
                     "requests = limits = the container limit, CPU = stream threads); systemd: "
                     "its MemoryMax= line")
      ->check(CLI::IsMember({"text", "k8s", "systemd"}))
      ->capture_default_str();
  memory->footer(
      "Examples:\n"
      "  weir plan memory --config config/weir.yaml --set "
      "rocksdb.options=config/rocksdb/tuned.yaml\n"
      "  weir plan memory --partitions 48 --instances 4\n"
      "  weir plan memory --instances 3 --format k8s");
  memory->callback(
      [flags, exit_code] { ReportOutcome("plan memory", PlanMemoryCommand(*flags), exit_code); });

  auto capacity_flags = std::make_shared<CapacityFlags>();
  CapacityInputs& in = capacity_flags->inputs;
  CLI::App* capacity = command->add_subcommand(
      "capacity",
      "Plan Kafka storage, partitions and instances for a peak rate (the usual capacity\n"
      "worksheet of docs/capacity.md, MB = 10^6 B, every digit kept), then weir's own: stream\n"
      "threads from a measured per-thread rate (--results), the memory per instance from `weir\n"
      "plan memory` for that many instances, and the state on disk per instance from a measured\n"
      "size per card.");
  AddConfigFlags(*capacity, capacity_flags->config, "config/weir.yaml");
  capacity->add_option("--peak-rate", in.peak_records_per_s, "Peak records per second")
      ->required()
      ->check(InRange(1.0, 1e12));
  capacity->add_option("--record-size", in.record_bytes, "Average record size, bytes")
      ->required()
      ->check(InRange(1.0, 1e9));
  capacity->add_option("--retention-days", in.retention_days, "Topic retention, days")
      ->check(InRange(0.001, 36'500.0))
      ->capture_default_str();
  capacity->add_option("--replication-factor", in.replication_factor, "Topic replication factor")
      ->check(InRange(int64_t{1}, int64_t{100}))
      ->capture_default_str();
  capacity->add_option("--consumers", in.consumers,
                       "The most consumers one group runs on the topic (partitions for "
                       "parallelism)")
      ->check(InRange(int64_t{1}, int64_t{100'000}))
      ->capture_default_str();
  capacity->add_option("--partition-mb-per-s", in.partition_mb_per_s,
                       "Throughput one partition carries (the worksheet's conservative rule)")
      ->check(InRange(0.001, 1e6))
      ->capture_default_str();
  capacity->add_option("--headroom", in.headroom, "Growth factor on partitions and threads")
      ->check(InRange(1.0, 100.0))
      ->capture_default_str();
  capacity->add_option("--results", capacity_flags->results,
                       "results.json of `weir bench compare` or `weir bench kstreams`: measured "
                       "per-thread rate and state bytes per card")
      ->check(CLI::ExistingFile);
  capacity->add_option("--cards", capacity_flags->cards,
                       "Card population (with --results: state on disk per instance)")
      ->check(InRange(int64_t{1}, int64_t{10'000'000'000}));
  capacity->footer(
      "Examples:\n"
      "  weir plan capacity --peak-rate 10000 --record-size 512 --retention-days 7 "
      "--replication-factor 3 --consumers 4\n"
      "  weir plan capacity --peak-rate 50000 --record-size 300 --consumers 6 "
      "--results /tmp/compare/results.json --cards 5000000");
  capacity->callback([capacity_flags, exit_code] {
    ReportOutcome("plan capacity", PlanCapacityCommand(*capacity_flags), exit_code);
  });
}

}  // namespace weir::cli
