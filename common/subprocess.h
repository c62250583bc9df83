// Child processes for tests and benchmarks, the one way either starts one: run a program with its
// output in a log file or on a pipe read line by line, signal it, wait for it with a deadline;
// run a command to completion; run a function in a forked copy of this process (a benchmark's
// peak RSS then is that run's alone). A Subprocess still running when destroyed is killed.
//
// Concurrency: a Subprocess is used from one thread. The functions below fork, so call them
// before starting threads that hold locks the child would need, or from code that only execs.
#ifndef WEIR_COMMON_SUBPROCESS_H_
#define WEIR_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir {

class Subprocess {
 public:
  // Starts `argv` (argv[0] looked up on PATH unless it holds a '/') with stdin from /dev/null,
  // stdout on a pipe for ReadLine() and stderr appended to `stderr_path` ("" = inherited).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const std::string& stderr_path = "");
  // The same with stdout and stderr both appended to `log_path`; ReadLine() has nothing.
  static absl::StatusOr<std::unique_ptr<Subprocess>> StartLogged(
      const std::vector<std::string>& argv, const std::string& log_path);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // The next line of stdout without its newline; nullopt at end of output or after `timeout`.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal_number);
  // The exit status (128 + n for death by signal n), or nullopt if still running at `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  static absl::StatusOr<std::unique_ptr<Subprocess>> Launch(const std::vector<std::string>& argv,
                                                            const std::string& log_path,
                                                            const std::string& stderr_path);
  pid_t pid_;
  int stdout_fd_;  // -1 when stdout goes to a log file
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

// Runs `work` in a forked child and returns the text it produced, or its error (an error the
// child could not report names its exit status).
absl::StatusOr<std::string> RunForked(const std::function<absl::StatusOr<std::string>()>& work);

// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false): the one
// way tests and benchmarks wait for something another process does. A condition may keep what
// it last saw (capture by reference) for the message or assertion that follows.
bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout,
             std::chrono::milliseconds interval = std::chrono::milliseconds(20));

}  // namespace weir

#endif  // WEIR_COMMON_SUBPROCESS_H_
