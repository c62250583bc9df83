// The fraud-detection topology (docs/fraud.md: its semantics and every decision).
//
//   payments (key: card number, value: JSON payment)
//     -> source: the key is masked on read, the value parsed and validated (payment.h)
//     -> detect: invalid records to the dead-letter topic; valid ones update the card's one-minute
//        slices (`card-windows`, keyed by card token), from which its `card-1m` tumbling and
//        `card-5m` hopping windows are read; late windows are dropped (counted); VELOCITY,
//        HIGH_SPEND and GEO_HOP are evaluated with their cooldown
//     -> fraud-alerts (key: card token, value: JSON alert) / payments-dlq
//
// Event time is the payment's `ts`. An invalid record takes the task's stream time, so it
// neither moves time nor is dropped as late before reaching the dead-letter topic.
#ifndef WEIR_TOPOLOGIES_FRAUD_TOPOLOGY_H_
#define WEIR_TOPOLOGIES_FRAUD_TOPOLOGY_H_

#include <cstdint>
#include <string>

#include "engine/kafka/topic_admin.h"
#include "engine/processor/topology.h"
#include "topologies/fraud_config.h"
#include "topologies/payment.h"

namespace weir::fraud {

// The store's name is part of the interface: changelog topics and state directories carry it.
// Its values: topologies/fraud_aggregates.h.
inline constexpr char kCardWindowsStore[] = "card-windows";

// The internal topics an instance of the fraud application `application_id` needs, for clusters
// without CreateTopics (the embedded broker run as `weir broker`): each store's changelog with
// `partitions` partitions (the input's), and the membership topic.
std::vector<TopicSpec> FraudInternalTopics(const std::string& application_id, int32_t partitions);

// Builds the topology for `config`, tokenizing cards with `tokenizer`.
Topology BuildFraudTopology(const FraudConfig& config, const CardTokenizer& tokenizer);

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_FRAUD_TOPOLOGY_H_
