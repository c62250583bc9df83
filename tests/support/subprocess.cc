#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace weir::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> ArgvPointers(const std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  for (const std::string& arg : argv) pointers.push_back(const_cast<char*>(arg.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

int DecodeStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls waitpid until `pid` exits or `deadline` passes.
std::optional<int> WaitUntil(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return DecodeStatus(status);
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const std::string& stderr_path) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::vector<char*> args = ArgvPointers(argv);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    if (!stderr_path.empty()) {
      const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) dup2(err, STDERR_FILENO);
    }
    execvp(args[0], args.data());  // PATH lookup, as a shell would
    _exit(127);
  }
  close(out[1]);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, out[0]));
}

Subprocess::~Subprocess() {
  if (!exit_status_.has_value()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  close(stdout_fd_);
}

std::optional<std::string> Subprocess::ReadLine(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{.fd = stdout_fd_, .events = POLLIN, .revents = 0};
    if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
    if (n <= 0) return std::nullopt;  // end of output
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void Subprocess::Signal(int signal_number) {
  if (!exit_status_.has_value()) kill(pid_, signal_number);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (!exit_status_.has_value()) exit_status_ = WaitUntil(pid_, Clock::now() + timeout);
  return exit_status_;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         std::chrono::milliseconds timeout) {
  static int counter = 0;
  const std::string base = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                        "/weir-cmd-", getpid(), "-", ++counter);
  const std::string out_path = base + ".out";
  const std::string err_path = base + ".err";
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0) return {};
  std::vector<char*> args = ArgvPointers(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[0]);
  const Clock::time_point deadline = Clock::now() + timeout;
  // Files, not pipes, take the child's output, so writing all of stdin cannot deadlock.
  size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = write(in[1], input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  close(in[1]);
  CommandResult result;
  std::optional<int> status = WaitUntil(pid, deadline);
  if (!status.has_value()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  result.exit_status = status.value_or(-1);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

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

bool WaitFor(const std::function<bool()>& condition, std::chrono::seconds timeout,
             std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(interval);  // polling a condition
  }
  return true;
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

}  // namespace weir::testing
