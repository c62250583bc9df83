#include "bench/processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "topologies/fraud_config.h"

namespace weir::bench {

absl::StatusOr<std::unique_ptr<Child>> Child::Start(const std::vector<std::string>& argv,
                                                    const std::string& log_path,
                                                    bool search_path) {
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path));
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, STDIN_FILENO);
    if (search_path) {
      execvp(args[0], args.data());
    } else {
      execv(args[0], args.data());
    }
    _exit(127);
  }
  close(log);
  return std::unique_ptr<Child>(new Child(pid));
}

Child::~Child() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void Child::Signal(int signal_number) { kill(pid_, signal_number); }

int Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!exited_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a child's exit
  }
  return status_;
}

absl::Status WriteRenamedFraudConfig(const std::string& fraud_config_path,
                                     const std::string& out_path, const std::string& payments,
                                     const std::string& alerts, const std::string& dlq) {
  std::ifstream in(fraud_config_path);
  if (!in) return absl::NotFoundError(absl::StrCat(fraud_config_path, ": cannot read it"));
  const std::pair<std::string, std::string> renamed[] = {
      {"payments", payments}, {"alerts", alerts}, {"dlq", dlq}};
  std::string text;
  bool in_topics = false;
  for (std::string line; std::getline(in, line);) {
    const absl::string_view stripped = absl::StripLeadingAsciiWhitespace(line);
    if (stripped.size() == line.size() && !stripped.empty() && stripped[0] != '#') {
      in_topics = absl::StartsWith(stripped, "topics:");
    } else if (in_topics) {
      for (const auto& [key, topic] : renamed) {
        if (absl::StartsWith(stripped, absl::StrCat(key, ":"))) {
          // `stripped` views `line`: done with it once the line is replaced.
          line = absl::StrCat(line.substr(0, line.size() - stripped.size()), key, ": ", topic);
          break;
        }
      }
    }
    absl::StrAppend(&text, line, "\n");
  }
  std::ofstream(out_path) << text;
  WEIR_ASSIGN_OR_RETURN(const fraud::FraudConfig copy, fraud::LoadFraudConfig(out_path));
  if (copy.payments_topic != payments || copy.alerts_topic != alerts || copy.dlq_topic != dlq) {
    return absl::InvalidArgumentError(
        absl::StrCat(fraud_config_path, ": its topics: block (payments, alerts, dlq) did not "
                                        "take the run's topic names"));
  }
  return absl::OkStatus();
}

}  // namespace weir::bench
