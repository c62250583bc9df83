// Fuzzes the configuration loaders: the input's first line is a `--set` assignment, the rest a
// YAML file loaded as the application config, then as a fraud config and as a RocksDB option
// set. Properties: nothing crashes, leaks or throws (yaml-cpp's exceptions stay inside the
// loader); every refusal is InvalidArgument or NotFound with a message.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/runtime/app_config.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_config.h"

namespace {

void RequireClearError(const absl::Status& status) {
  if (status.ok()) return;
  if ((!absl::IsInvalidArgument(status) && !absl::IsNotFound(status)) || status.message().empty()) {
    std::fprintf(stderr, "property violated: unclear error %s\n", status.ToString().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = absl::StrCat("/tmp/weir-config-fuzz-", ::getpid(), ".yaml");
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string assignment = input.substr(0, newline);
  const std::string yaml = newline == std::string::npos ? "" : input.substr(newline + 1);
  std::ofstream(path, std::ios::trunc) << yaml;

  RequireClearError(weir::LoadAppConfig(path, {assignment}).status());
  RequireClearError(weir::LoadAppConfig("", {assignment}).status());
  RequireClearError(weir::fraud::LoadFraudConfig(path, {assignment}).status());
  RequireClearError(weir::LoadRocksDbOptionSet(path).status());
  return 0;
}
