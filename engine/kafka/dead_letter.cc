#include "engine/kafka/dead_letter.h"

#include <utility>

namespace weir {
namespace {

// librdkafka's per-record framing in a v2 batch is at most ~40 bytes, and each header adds two
// varints of up to 5 bytes: generous bounds, so a fitted record never fails the producer's check.
constexpr size_t kRecordFraming = 64;
constexpr size_t kHeaderFraming = 10;

}  // namespace

Headers DeadLetterHeaders(Headers original, absl::string_view exception, absl::string_view message,
                          const std::optional<RecordMetadata>& where) {
  Headers headers = std::move(original);
  headers.push_back({kErrorExceptionHeader, std::string(exception)});
  headers.push_back({kErrorMessageHeader, std::string(message)});
  if (where.has_value()) {
    headers.push_back({kErrorTopicHeader, where->topic});
    headers.push_back({kErrorPartitionHeader, std::to_string(where->partition)});
    headers.push_back({kErrorOffsetHeader, std::to_string(where->offset)});
  }
  return headers;
}

bool IsDeadLetter(const Headers& headers) {
  for (const Header& header : headers) {
    if (header.key == kErrorExceptionHeader) return true;
  }
  return false;
}

std::optional<std::string> HeaderValue(const Headers& headers, absl::string_view key) {
  for (const Header& header : headers) {
    if (header.key == key) return header.value.value_or("");
  }
  return std::nullopt;
}

size_t WireSizeUpperBound(const RawRecord& record) {
  size_t size = kRecordFraming;
  if (record.key.has_value()) size += record.key->size();
  if (record.value.has_value()) size += record.value->size();
  for (const Header& header : record.headers) {
    size += kHeaderFraming + header.key.size() + (header.value ? header.value->size() : 0);
  }
  return size;
}

bool TruncateToFit(RawRecord& record, size_t max_message_bytes) {
  if (!record.value.has_value() || WireSizeUpperBound(record) <= max_message_bytes) return false;
  const size_t original = record.value->size();
  Header size_header{kOriginalValueSizeHeader, std::to_string(original)};
  const size_t without_value = WireSizeUpperBound(record) - original + kHeaderFraming +
                               size_header.key.size() + size_header.value->size();
  if (without_value >= max_message_bytes) return false;
  record.value->resize(max_message_bytes - without_value);
  record.headers.push_back(std::move(size_header));
  return true;
}

}  // namespace weir
