// The configuration of a stream thread's Kafka clients: weir's defaults (Kafka Streams' and the
// Java clients' where they differ from librdkafka's), then the user's `kafka` properties, then
// the client's own (`consumer`, `producer`), which win. The memory plan reads the same.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_CLIENTS_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_CLIENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"
#include "engine/runtime/app_config.h"

namespace weir::internal {

// The properties of thread `thread_name`'s consumer, whose sub-topologies read
// `subtopology_of_topic` (topic -> sub-topology). `group_instance_id` non-empty: a static
// member. InvalidArgument when the assignor is not `range` but a sub-topology reads several
// topics: only `range` keeps partition p of each on one member (its task 0_p reads them all).
absl::StatusOr<ClientProperties> StreamConsumerProperties(
    const AppConfig& config, const std::string& thread_name, const std::string& group_instance_id,
    const std::map<std::string, int32_t, std::less<>>& subtopology_of_topic);

// The properties of thread `thread_name`'s producer; under exactly_once_v2 its
// `transactional_id` (empty: `<application.id>-<thread name>`).
ClientProperties StreamProducerProperties(const AppConfig& config, const std::string& thread_name,
                                          const std::string& transactional_id);

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_CLIENTS_H_
