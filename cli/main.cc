// The `weir` command: one binary, one subcommand per job.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "cli/shutdown_signal.h"
#include "common/logging.h"
#include "engine/runtime/app_config.h"
#include "spdlog/sinks/stdout_color_sinks.h"

int main(int argc, char** argv) {
  weir::cli::InstallShutdownSignals();  // before any thread starts
  spdlog::set_default_logger(spdlog::stderr_color_mt("weir"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app(
      "weir - a Kafka Streams-style stateful stream processor.\n"
      "Consumes Kafka topics, keeps windowed state in RocksDB, logs state changes to changelog\n"
      "topics and exports Prometheus metrics. Its flagship topology detects card fraud.");
  app.name("weir");
  app.set_version_flag("--version", std::string("weir ") + weir::WeirVersion(),
                       "Print weir's version and exit");
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  weir run                                 run fraud detection (embedded broker)\n"
      "  weir broker --topic payments:12          start the embedded broker\n"
      "  weir loadgen --set bootstrap.servers=HOST:PORT --rate 5000   synthetic payments\n"
      "  weir config show --config config/weir.yaml   print the effective configuration\n"
      "  echo CARD | weir query --card -             a card's live windows from an instance\n"
      "Run 'weir <command> --help' for a command's flags and examples. Docs: docs/README.md");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });

  int exit_code = 0;
  weir::cli::AddRunCommand(app, &exit_code);
  weir::cli::AddReplayCommand(app, &exit_code);
  weir::cli::AddLoadgenCommand(app, &exit_code);
  weir::cli::AddBenchCommand(app, &exit_code);
  weir::cli::AddBrokerCommand(app, &exit_code);
  weir::cli::AddConfigCommand(app, &exit_code);
  weir::cli::AddStateCommand(app, &exit_code);
  weir::cli::AddPlanCommand(app, &exit_code);
  weir::cli::AddStatusCommand(app, &exit_code);
  weir::cli::AddQueryCommand(app, &exit_code);

  // CLI11 would call an unknown command a missing one ("A subcommand is required").
  const auto known = [&app](const char* name) {
    try {
      app.get_subcommand(name);
      return true;
    } catch (const CLI::OptionNotFound&) {
      return false;
    }
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::fprintf(stderr, "weir: unknown command '%s' (see 'weir --help')\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return weir::cli::ReportUsageError(app, e);
  }
  return exit_code;
}
