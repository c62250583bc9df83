// `weir config`: check a configuration and print it, or print the documentation of every key.
#include <cstdio>

#include "bench/load.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "engine/http/metrics.h"
#include "engine/runtime/app_config.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_config.h"

namespace weir::cli {

void AddConfigCommand(CLI::App& app, int* exit_code) {
  CLI::App* command = app.add_subcommand(
      "config", "Check a configuration and show what it resolves to, or print the key reference.");
  command->require_subcommand(1);

  auto flags = std::make_shared<ConfigFlags>();
  CLI::App* show = command->add_subcommand(
      "show",
      "Load the config file and --set overrides, validate them as every weir command does, and\n"
      "print every key's effective value with where it came from (file:line, --set, default).\n"
      "Also checks the files it names (rocksdb.options, topology.config).\n"
      "Exits 2 with a message naming the file, key and expectation when the config is invalid.");
  AddConfigFlags(*show, *flags, "config/weir.yaml");
  show->footer(
      "Example:\n"
      "  weir config show --config config/weir.yaml --set processing.guarantee=exactly_once_v2");
  show->callback([flags, exit_code] {
    config::Provenance provenance;
    absl::StatusOr<AppConfig> config = LoadAppConfig(flags->path, flags->overrides, &provenance);
    if (!config.ok()) {
      spdlog::error("{}", config.status().message());
      *exit_code = 2;
      return;
    }
    // The files the config points at are part of it: check them with the same rigour.
    absl::Status referenced = LoadRocksDbOptionSet(config->rocksdb_options).status();
    if (referenced.ok()) referenced = fraud::LoadFraudConfig(config->topology_config).status();
    if (!referenced.ok()) {
      spdlog::error("{}", referenced.message());
      *exit_code = 2;
      return;
    }
    std::fputs(AppConfigSchema().Dump(*config, provenance).c_str(), stdout);
  });

  auto schema = std::make_shared<std::string>("app");
  CLI::App* docs = command->add_subcommand(
      "docs",
      "Print the Markdown table of every key of a config file: its type, default and meaning.\n"
      "  app      config/weir.yaml (docs/configuration.md)\n"
      "  rocksdb  config/rocksdb/*.yaml option sets (docs/rocksdb-options.md)\n"
      "  fraud    config/fraud.yaml (docs/fraud.md)\n"
      "  metrics  not a file: the Prometheus metrics /metrics exports (docs/metrics.md)\n"
      "  loadtest config/loadtest.yaml, for weir bench load (docs/benchmarks.md)");
  docs->add_option("schema", *schema, "Which table: app, rocksdb, fraud, metrics or loadtest")
      ->check(CLI::IsMember({"app", "rocksdb", "fraud", "metrics", "loadtest"}))
      ->capture_default_str();
  docs->footer("Example:\n  weir config docs rocksdb > /tmp/rocksdb-keys.md");
  docs->callback([schema] {
    const std::string table = *schema == "rocksdb"   ? RocksDbOptionSetSchema().MarkdownTable()
                              : *schema == "fraud"   ? fraud::FraudConfigSchema().MarkdownTable()
                              : *schema == "metrics" ? MetricsMarkdownTable()
                              : *schema == "loadtest"
                                  ? bench::LoadTestConfigSchema().MarkdownTable()
                                  : AppConfigSchema().MarkdownTable();
    std::fputs(table.c_str(), stdout);
  });
}

}  // namespace weir::cli
