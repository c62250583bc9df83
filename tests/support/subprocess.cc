#include "tests/support/subprocess.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>


namespace weir::test {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string WeirBinary() {
  const char* path = std::getenv("WEIR_BINARY");
  return path != nullptr ? path : "build/cli/weir";
}

void RemoveUnlessFailed(const std::filesystem::path& root) {
  if (::testing::Test::HasFailure()) {
    std::printf("logs and state kept in %s\n", root.c_str());
    return;
  }
  std::error_code error;
  std::filesystem::remove_all(root, error);
  if (error) std::printf("could not remove %s: %s\n", root.c_str(), error.message().c_str());
}

}  // namespace weir::test
