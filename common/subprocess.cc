#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace weir {
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
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child's exit
  }
}

// Writes all of `text` to `fd`, retrying after interruptions; false if the reader went away.
bool WriteAll(int fd, const std::string& text) {
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[65536];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return text;
    text.append(buffer, static_cast<size_t>(n));
  }
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(const std::vector<std::string>& argv,
                                                              const std::string& stderr_path) {
  return Launch(argv, "", stderr_path);
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::StartLogged(
    const std::vector<std::string>& argv, const std::string& log_path) {
  return Launch(argv, log_path, "");
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Launch(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::string& stderr_path) {
  const bool to_log = !log_path.empty();
  int log = -1;
  int out[2] = {-1, -1};
  if (to_log) {
    log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  } else if (pipe2(out, O_CLOEXEC) != 0) {
    return absl::InternalError("pipe failed");
  }
  std::vector<char*> args = ArgvPointers(argv);
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = fork();
  if (pid < 0) {
    for (const int fd : {log, out[0], out[1]}) {
      if (fd >= 0) close(fd);
    }
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    if (to_log) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    } else {
      dup2(out[1], STDOUT_FILENO);
      if (!stderr_path.empty()) {
        const int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (err >= 0) dup2(err, STDERR_FILENO);
      }
    }
    const int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (to_log) {
    close(log);
    return std::unique_ptr<Subprocess>(new Subprocess(pid, -1));
  }
  close(out[1]);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, out[0]));
}

Subprocess::~Subprocess() {
  if (!exit_status_.has_value()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::optional<std::string> Subprocess::ReadLine(std::chrono::milliseconds timeout) {
  if (stdout_fd_ < 0) return std::nullopt;
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
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(in[0]);
    close(in[1]);
    return {};
  }
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
  WriteAll(in[1], input);
  close(in[1]);
  CommandResult result;
  std::optional<int> status = WaitUntil(pid, deadline);
  if (!status.has_value()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  result.exit_status = status.value_or(-1);
  result.out = ReadFileBytes(out_path);
  result.err = ReadFileBytes(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

absl::StatusOr<std::string> RunForked(const std::function<absl::StatusOr<std::string>()>& work) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    close(fds[0]);
    // One byte says which: '0' and the result, or '1' and the error's message.
    absl::StatusOr<std::string> result = work();
    // StrCat, not "0" + string: GCC 12's -Wrestrict misfires on the latter at -O3.
    const bool sent = WriteAll(fds[1], result.ok() ? absl::StrCat("0", *result)
                                                   : absl::StrCat("1", result.status().message()));
    close(fds[1]);
    _exit(result.ok() && sent ? 0 : 1);
  }
  close(fds[1]);
  const std::string text = ReadAll(fds[0]);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (text.empty()) {
    return absl::InternalError(
        absl::StrCat("the child process exited with status ", DecodeStatus(status),
                     " before reporting"));
  }
  if (text[0] == '1') return absl::InternalError(text.substr(1));
  return text.substr(1);
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

}  // namespace weir
