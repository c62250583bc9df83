// SIGINT/SIGTERM handling for long-running commands.
//
// Install() blocks both signals in the calling thread, so every thread started after it
// (librdkafka's, RocksDB's, weir's own) inherits the block and only Wait() ever sees them.
// Call it first thing in main(), before any thread exists.
//
// The first signal is returned by Wait() and the command shuts down in order. From then on a
// second signal ends the process at once with status 128 + signal number.
#ifndef WEIR_CLI_SHUTDOWN_SIGNAL_H_
#define WEIR_CLI_SHUTDOWN_SIGNAL_H_

#include <chrono>

namespace weir::cli {

void InstallShutdownSignals();

// Waits up to `timeout` for SIGINT or SIGTERM. Returns the signal number, or 0 on timeout.
int WaitForShutdownSignal(std::chrono::milliseconds timeout);

}  // namespace weir::cli

#endif  // WEIR_CLI_SHUTDOWN_SIGNAL_H_
