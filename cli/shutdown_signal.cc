#include "cli/shutdown_signal.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace weir::cli {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void ExitNow(int signal_number) { _exit(128 + signal_number); }

}  // namespace

void InstallShutdownSignals() {
  const sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal(std::chrono::milliseconds timeout) {
  const sigset_t set = ShutdownSet();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec wait{.tv_sec = static_cast<time_t>(seconds.count()),
                      .tv_nsec = static_cast<long>((timeout - seconds).count() * 1'000'000)};
  int signal_number;
  do {
    signal_number = sigtimedwait(&set, nullptr, &wait);
  } while (signal_number < 0 && errno == EINTR);
  if (signal_number <= 0) return 0;
  // From now on a second signal ends the process at once. Only this thread unblocks the
  // signals, so it is the one that receives them.
  struct sigaction action {};
  action.sa_handler = &ExitNow;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  return signal_number;
}

}  // namespace weir::cli
