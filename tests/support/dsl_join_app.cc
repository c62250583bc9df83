// A stream-table join as an application of its own, for the tests that kill it
// (tests/failover_test.cc):
//
//   dsl_join_app BOOTSTRAP APPLICATION_ID STATE_DIR
//
// Joins stream "join-stream" with table "join-table" (materialized as store "limits", whose
// changelog restores it on a new owner) and writes "<stream value>|<table value>" to
// "join-out" under the stream record's key; at-least-once, a commit every 200 ms, no standbys.
// Runs until SIGTERM or SIGINT, then closes; exits 1 when the instance cannot start or fails.
#include <csignal>
#include <cstdio>
#include <string>

#include "engine/dsl/streams_builder.h"
#include "engine/runtime/kafka_streams.h"

int main(int argc, char** argv) {
  using weir::serdes::String;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP APPLICATION_ID STATE_DIR\n", argv[0]);
    return 2;
  }
  // Blocked before any thread starts, so every thread leaves them to sigwait below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  weir::StreamsBuilder builder;
  builder.Stream<std::string, std::string>("join-stream", String(), String())
      .Join(builder.Table<std::string, std::string>("join-table", String(), String(),
                                                    weir::Materialized<std::string>::As("limits")),
            [](const std::string& value, const std::string& row) { return value + "|" + row; })
      .To("join-out", weir::Produced<std::string, std::string>::With(String(), String()));
  absl::StatusOr<weir::Topology> topology = builder.Build();
  if (!topology.ok()) {
    std::fprintf(stderr, "topology: %s\n", topology.status().ToString().c_str());
    return 1;
  }
  weir::AppConfig config;
  config.application_id = argv[2];
  config.bootstrap_servers = argv[1];
  config.state_dir = argv[3];
  config.num_stream_threads = 1;
  config.commit_interval_ms = 200;
  // Kafka's smallest session timeout by default (group.min.session.timeout.ms): a killed
  // instance's partitions move 6 s after its last heartbeat.
  config.consumer = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  absl::StatusOr<std::unique_ptr<weir::KafkaStreams>> streams =
      weir::KafkaStreams::Create(*std::move(topology), config);
  if (!streams.ok()) {
    std::fprintf(stderr, "create: %s\n", streams.status().ToString().c_str());
    return 1;
  }
  if (const absl::Status started = (*streams)->Start(); !started.ok()) {
    std::fprintf(stderr, "start: %s\n", started.ToString().c_str());
    return 1;
  }
  std::printf("started\n");
  std::fflush(stdout);
  while (true) {
    timespec second{.tv_sec = 1, .tv_nsec = 0};
    if (sigtimedwait(&stop, nullptr, &second) > 0) break;
    if (const absl::Status running = (*streams)->CheckThreads(); !running.ok()) {
      std::fprintf(stderr, "failed: %s\n", running.ToString().c_str());
      (*streams)->Close();
      return 1;
    }
  }
  (*streams)->Close();
  return 0;
}
