// `weir bench load`: the production load test with its readiness verdicts.
#include <cstdio>

#include "bench/load.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"

namespace weir::cli {
namespace {

struct LoadFlags {
  ConfigFlags config;
  std::string load_config = "config/loadtest.yaml";
};

absl::Status Load(const LoadFlags& flags, int* exit_code) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(bench::LoadTestConfig load, bench::LoadLoadTestConfig(flags.load_config));
  WEIR_ASSIGN_OR_RETURN(bench::LoadTestReport report,
                        bench::RunLoadTest(config, config.topology_config, load));
  std::fputs(bench::FormatReport(load, report).c_str(), stdout);
  if (!report.all_pass()) {
    spdlog::error("weir bench load: a readiness check failed (see the verdicts)");
    *exit_code = 1;
  }
  return absl::OkStatus();
}

}  // namespace

void AddBenchLoadCommand(CLI::App& bench, int* exit_code) {
  auto load_flags = std::make_shared<LoadFlags>();
  CLI::App* load = bench.add_subcommand(
      "load", "Production load test: sustained peak, 2x burst, consumer throughput, verdicts");
  AddConfigFlags(*load, load_flags->config, "config/weir.yaml");
  load->add_option("--load-config", load_flags->load_config,
                   "Peak rate, phases, SLA and lag threshold (keys: docs/benchmarks.md)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  load->footer(
      "A three-phase load test (docs/benchmarks.md) against the fraud-detection instance `weir\n"
      "run` runs, in this process (on bootstrap.servers, or an embedded broker when it is\n"
      "empty): phase 1 sends generated payments at peak.rate, phase 2 at twice that, then a\n"
      "fresh consumer reads the payments back (consumer throughput). It reports per phase the\n"
      "rate offered and processed, payment-to-alert latency p50/p99 and the most records\n"
      "waiting, and a PASS/FAIL verdict per production-readiness check: burst processed at 2x\n"
      "peak, p99 under sla.p99.ms, lag under max.lag.records. Exit status 1 when a check\n"
      "fails.\n\n"
      "Example:\n  weir bench load --load-config config/loadtest.yaml\n");
  load->callback([load_flags, exit_code] {
    ReportOutcome("bench load", Load(*load_flags, exit_code), exit_code);
  });
}

}  // namespace weir::cli
