// Dead letters: records that could not be processed, sent to a dead-letter topic with the
// record's own headers followed by KIP-1034's error headers (`__streams.errors.*`), so tools
// written for Kafka Streams' dead-letter queues read weir's.
//
// A record is a dead letter exactly when it carries `__streams.errors.exception`. The stream
// thread recognises dead letters by that header when it produces them, whichever processor made
// them, and then:
//  - fits them into the producer's `message.max.bytes`: a value too large is cut to what fits
//    and `weir.errors.value.original.size` records its size, so one oversized input record
//    cannot stop the service by making its dead letter undeliverable;
//  - logs each one as a warning - topic, partition, offset and reason, never key or value -
//    at most once a second per thread, with the count of those not logged.
#ifndef WEIR_ENGINE_KAFKA_DEAD_LETTER_H_
#define WEIR_ENGINE_KAFKA_DEAD_LETTER_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/processor/record.h"

namespace weir {

inline constexpr char kErrorExceptionHeader[] = "__streams.errors.exception";
inline constexpr char kErrorMessageHeader[] = "__streams.errors.message";
inline constexpr char kErrorTopicHeader[] = "__streams.errors.topic";
inline constexpr char kErrorPartitionHeader[] = "__streams.errors.partition";
inline constexpr char kErrorOffsetHeader[] = "__streams.errors.offset";
// Present only on a dead letter whose value was cut to fit: the value's size before.
inline constexpr char kOriginalValueSizeHeader[] = "weir.errors.value.original.size";

// `original` followed by the error headers: `exception` (a class-like name, e.g.
// "InvalidPayment"), `message` (why; it must not contain the value) and, when known, where the
// record came from.
Headers DeadLetterHeaders(Headers original, absl::string_view exception, absl::string_view message,
                          const std::optional<RecordMetadata>& where);

// Whether `record` is a dead letter (carries kErrorExceptionHeader).
bool IsDeadLetter(const Headers& headers);

// The value of the first header named `key`, if any (a null value reads as "").
std::optional<std::string> HeaderValue(const Headers& headers, absl::string_view key);

// Bytes librdkafka counts against `message.max.bytes` for `record`, rounded up: key, value,
// headers and the record's framing.
size_t WireSizeUpperBound(const RawRecord& record);

// Cuts `record`'s value so that WireSizeUpperBound(record) <= max_message_bytes and adds
// kOriginalValueSizeHeader. Returns false, leaving `record` unchanged, when it already fits or
// when even an empty value would not fit (then the producer's error stands).
bool TruncateToFit(RawRecord& record, size_t max_message_bytes);

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_DEAD_LETTER_H_
