// Converts librdkafka errors to absl::Status, once, at the librdkafka boundary.
//
// Transport and timeout errors map to kUnavailable (retry), bad arguments and configuration to
// kInvalidArgument (the caller must fix its input), unknown topics and partitions to kNotFound,
// everything else to kInternal. The message carries librdkafka's own text and error name.
#ifndef WEIR_ENGINE_KAFKA_KAFKA_STATUS_H_
#define WEIR_ENGINE_KAFKA_KAFKA_STATUS_H_

#include <librdkafka/rdkafka.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace weir {

// OK for RD_KAFKA_RESP_ERR_NO_ERROR; otherwise a status whose message is
// "<context>: <librdkafka description> (<error name>)".
absl::Status KafkaStatus(rd_kafka_resp_err_t err, absl::string_view context);

// The same for the error objects of librdkafka's newer calls (transactions, seeks, incremental
// assignment), which it destroys: OK for null; kUnavailable when librdkafka says a retry may
// succeed, kInternal otherwise.
absl::Status KafkaStatus(rd_kafka_error_t* error, absl::string_view context);

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_KAFKA_STATUS_H_
