#include "engine/kafka/embedded_broker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/processor/topic_name.h"

namespace weir {
namespace {

// The TCP ports of a bootstrap list such as "127.0.0.1:40811,127.0.0.1:36275".
std::set<int> PortsOf(absl::string_view bootstrap_servers) {
  std::set<int> ports;
  for (absl::string_view server : absl::StrSplit(bootstrap_servers, ',')) {
    int port = 0;
    if (const size_t colon = server.rfind(':');
        colon != absl::string_view::npos && absl::SimpleAtoi(server.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  return ports;
}

// Calls `visit(fd, listening)` for every socket of this process bound locally to one of `ports`:
// the mock brokers' listeners and the connections they accepted.
template <typename Visit>
void VisitSockets(const std::set<int>& ports, Visit visit) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &fd)) continue;
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        address.sin_family != AF_INET || !ports.contains(ntohs(address.sin_port))) {
      continue;
    }
    int listening = 0;
    length = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0) continue;
    visit(fd, listening != 0);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers) {
  if (brokers < 1 || brokers > kMaxBrokers) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker count must be in [1, ", kMaxBrokers, "], got ", brokers));
  }
  // The owner handle never connects anywhere; without bootstrap servers librdkafka would warn
  // about that, so it logs errors only. The mock cluster logs through it too.
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf,
                        BuildKafkaConf({.common = {{"log_level", "3"}}}, ClientKind::kProducer));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle owner, NewKafkaClient(std::move(conf), ClientKind::kProducer));
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner.get(), brokers);
  if (cluster == nullptr) {
    return absl::InternalError("librdkafka could not start the mock cluster (see log above)");
  }
  auto broker =
      std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker(std::move(owner), cluster, brokers));
  // The mock answers with Nagle's algorithm on (librdkafka 2.0.2 sets TCP_NODELAY only on
  // sockets it connects itself). librdkafka sends one ProduceRequest per partition, so a flush
  // to several partitions pipelines requests, and the mock's second answer waited for the
  // client's delayed ACK of the first: about 40 ms on Linux, in every commit (docs/broker.md).
  // Accepted sockets inherit TCP_NODELAY from their listener (Linux), so setting it on the
  // listeners, before any client connects, is enough.
  int refused = 0;
  VisitSockets(PortsOf(broker->bootstrap_servers()), [&](int fd, bool listening) {
    const int one = 1;
    if (listening && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) ++refused;
  });
  if (refused > 0) {
    spdlog::warn("embedded broker: could not set TCP_NODELAY on {} listeners; flushes to "
                 "several partitions may wait ~40 ms for delayed ACKs",
                 refused);
  }
  return broker;
}

EmbeddedBroker::EmbeddedBroker(KafkaHandle owner, rd_kafka_mock_cluster_t* cluster, int brokers)
    : owner_(std::move(owner)),
      cluster_(cluster),
      brokers_(brokers),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

EmbeddedBroker::~EmbeddedBroker() {
  rd_kafka_mock_cluster_destroy(cluster_);  // before the handle it lives in
}

EmbeddedBroker::SocketCount EmbeddedBroker::Sockets() const {
  SocketCount count;
  VisitSockets(PortsOf(bootstrap_servers_), [&](int fd, bool) {
    ++count.total;
    int nodelay = 0;
    socklen_t length = sizeof(nodelay);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) != 0 || nodelay == 0) {
      ++count.with_nagle;
    }
  });
  return count;
}

absl::Status EmbeddedBroker::CreateTopic(const TopicSpec& topic) {
  const int replication = std::min(3, brokers_);
  return KafkaStatus(
      rd_kafka_mock_topic_create(cluster_, topic.name.c_str(), topic.partitions, replication),
      absl::StrCat("creating topic '", topic.name, "'"));
}

}  // namespace weir
