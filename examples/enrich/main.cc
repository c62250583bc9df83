// enrich: orders enriched from a table of customers and a global table of products
// (examples/README.md, enrich.h).
//
//   enrich --bootstrap-servers HOST:PORT [--application-id ID] [--state-dir DIR]
//       enriches topic orders into topic enriched until SIGTERM or Ctrl-C; orders, customers,
//       products and enriched must exist, orders and customers with as many partitions
//   enrich < records.txt
//       the same on an embedded broker (in this process): stdin's lines "TOPIC KEY VALUE" are
//       produced in order, each once the one before is processed; then every enriched order
//       is printed as "KEY: VALUE", and it exits
#include <cstdio>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "examples/enrich/enrich.h"
#include "examples/run.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {

int RunEmbedded() {
  std::vector<examples::Input> inputs;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream words(line);
    examples::Input input;
    std::string key;
    if (!(words >> input.topic >> key) || !std::getline(words >> std::ws, input.value)) {
      std::fprintf(stderr, "enrich: '%s' is not \"TOPIC KEY VALUE\"\n", line.c_str());
      return 2;
    }
    if (input.topic != enrich::kOrders && input.topic != enrich::kCustomers &&
        input.topic != enrich::kProducts) {
      std::fprintf(stderr, "enrich: unknown topic '%s' (orders, customers, products)\n",
                   input.topic.c_str());
      return 2;
    }
    input.key = key;
    inputs.push_back(std::move(input));
  }
  std::mutex mutex;
  std::vector<std::string> enriched;
  absl::StatusOr<weir::Topology> topology =
      enrich::BuildTopology([&](const std::string& id, const std::string& line) {
        std::lock_guard<std::mutex> lock(mutex);
        enriched.push_back(id + ": " + line);
      });
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  const absl::Status ran = examples::RunOnEmbeddedBroker(
      *std::move(topology), "enrich",
      {enrich::kOrders, enrich::kCustomers, enrich::kProducts, enrich::kEnriched}, inputs);
  if (!ran.ok()) return std::fprintf(stderr, "%s\n", ran.ToString().c_str()), 1;
  for (const std::string& line : enriched) std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // weir logs through spdlog's default logger: to stderr here, stdout is the orders'.
  spdlog::set_default_logger(spdlog::stderr_color_mt("enrich"));
  weir::AppConfig config;
  config.application_id = "enrich";
  config.state_dir = "/tmp/weir-enrich";
  if (!examples::ParseFlags(argc, argv, config)) return 2;
  if (config.bootstrap_servers.empty()) return RunEmbedded();
  absl::StatusOr<weir::Topology> topology = enrich::BuildTopology();
  if (!topology.ok()) return std::fprintf(stderr, "%s\n", topology.status().ToString().c_str()), 1;
  return examples::RunUntilSignalled(*std::move(topology), config);
}
