#include "cli/shutdown_signal.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace weir::cli {
namespace {

TEST(ShutdownSignal, TimesOutWithoutASignal) {
  InstallShutdownSignals();
  EXPECT_EQ(WaitForShutdownSignal(std::chrono::milliseconds(10)), 0);
}

TEST(ShutdownSignalDeathTest, FirstSignalIsReturnedSecondExitsAtOnce) {
  EXPECT_EXIT(
      {
        InstallShutdownSignals();
        raise(SIGTERM);  // blocked: stays pending until waited for
        if (WaitForShutdownSignal(std::chrono::seconds(5)) != SIGTERM) _exit(1);
        raise(SIGINT);  // the second signal: the process ends here
        _exit(2);
      },
      ::testing::ExitedWithCode(128 + SIGINT), "");
}

}  // namespace
}  // namespace weir::cli
