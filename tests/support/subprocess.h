// Child processes for integration tests: start a program, read its stdout line by line, signal
// it, wait for it with a deadline. A Subprocess still running when destroyed is killed.
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

#include "absl/status/statusor.h"

namespace weir::testing {

class Subprocess {
 public:
  // Starts `argv` with stdout on a pipe and stderr appended to `stderr_path` ("" = inherited).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& stderr_path = "");
  ~Subprocess();

  // The next line of stdout without its newline; nullopt at end of output or after `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal_number);
  // The exit status (128 + n for death by signal n), or nullopt if still running at `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_;
  int stdout_fd_;
  std::string buffer_;
  std::optional<int> exit_status_;
};

struct CommandResult {
  int exit_status = -1;  // 128 + n for death by signal n; -1 if it had to be killed at timeout
  std::string out;
  std::string err;
};

// Runs `argv` to completion with `input` on stdin, killing it after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout);

// The weir binary under test (the WEIR_BINARY environment variable ctest sets).
std::string WeirBinary();

// The whole content of the file at `path` (bytes as they are); "" when it cannot be read.
std::string ReadFile(const std::string& path);

// At a test's end: removes `root` (the test's logs and state) unless the test failed, when it
// prints where they are kept. Trouble removing it is printed, not turned into a failure (one run
// under `ctest -j2` once left a directory half removed).
void RemoveUnlessFailed(const std::filesystem::path& root);

// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false): the one
// way tests wait for something another process does. A condition may keep what it last saw
// (capture by reference) for the assertion that follows.
bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout,
             std::chrono::milliseconds interval = std::chrono::milliseconds(20));

}  // namespace weir::testing

#endif  // WEIR_TESTS_SUPPORT_SUBPROCESS_H_
