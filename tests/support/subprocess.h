// What integration tests share beyond common/subprocess.h: the weir binary under test, reading
// a file, waiting for a condition, keeping a failed test's files.
#ifndef WEIR_TESTS_SUPPORT_SUBPROCESS_H_
#define WEIR_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace weir::test {

// Child processes and commands come from common/subprocess.h, as in the benchmarks.
using ::weir::CommandResult;
using ::weir::RunCommand;
using ::weir::Subprocess;

// The weir binary under test (the WEIR_BINARY environment variable ctest sets).
std::string WeirBinary();

// The whole content of the file at `path` (bytes as they are); "" when it cannot be read.
std::string ReadFile(const std::string& path);

// At a test's end: removes `root` (the test's logs and state) unless the test failed, when it
// prints where they are kept. Trouble removing it is printed, not turned into a failure (one run
// under `ctest -j2` once left a directory half removed).
void RemoveUnlessFailed(const std::filesystem::path& root);

// The one way tests wait for something another process does (common/subprocess.h).
using ::weir::WaitFor;

}  // namespace weir::test

#endif  // WEIR_TESTS_SUPPORT_SUBPROCESS_H_
