// Serdes: how keys and values become bytes and back.
//
// A Serde<T> serializes a T to bytes and deserializes bytes to a T, or to InvalidArgument naming
// what was wrong with the bytes (that status reaches the deserialization error handler, and from
// there the dead-letter topic's headers). Serdes are immutable and shared between tasks and
// threads.
//
//   auto key_serde = serdes::String();
//   auto value_serde = serdes::Json();       // nlohmann::json
//   std::string bytes = value_serde->Serialize(nlohmann::json{{"amount", 12}});
//
// The integer serdes use Kafka's layout (big-endian, two's complement), so weir and Java clients
// read each other's records.
#ifndef WEIR_ENGINE_PROCESSOR_SERDE_H_
#define WEIR_ENGINE_PROCESSOR_SERDE_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir {

template <typename T>
class Serde {
 public:
  virtual ~Serde() = default;
  virtual std::string Serialize(const T& value) const = 0;
  // At a source, `bytes` are the consumed record's own and stay valid until the topology has
  // processed the record, so a T may view them for that long (and no longer).
  virtual absl::StatusOr<T> Deserialize(absl::string_view bytes) const = 0;
  // What a source calls: deserializes into `out`, which holds the previous record's value, so a
  // serde whose T owns buffers can reuse them and a source allocate nothing per record (Flink's
  // deserialize(reuse, source)). The default assigns Deserialize's result. On error `out` may
  // hold anything.
  virtual absl::Status DeserializeInto(absl::string_view bytes, T& out) const {
    absl::StatusOr<T> value = Deserialize(bytes);
    if (!value.ok()) return value.status();
    out = *std::move(value);
    return absl::OkStatus();
  }
};

template <typename T>
using SerdePtr = std::shared_ptr<const Serde<T>>;

namespace serdes {

// UTF-8 (or any) bytes as std::string, unchanged. Kafka's StringSerde.
SerdePtr<std::string> String();
// Raw bytes as std::string, unchanged. Kafka's ByteArraySerde.
SerdePtr<std::string> Bytes();
// 8 bytes big-endian. Kafka's LongSerde.
SerdePtr<int64_t> Int64();
// 4 bytes big-endian. Kafka's IntegerSerde.
SerdePtr<int32_t> Int32();
// A JSON document (UTF-8 text).
SerdePtr<nlohmann::json> Json();

}  // namespace serdes

// Null keys and values. A Kafka record's key or value may be null (a table's tombstone); a
// stream or table whose type is std::optional<T> carries that null as std::nullopt, one whose
// type is T has none (a source hands the serde empty bytes instead, so a serde that rejects
// them sends the record to the deserialization error handler). Nullable<T> tells the two apart.
template <typename T>
struct Nullable {
  using type = T;
  static constexpr bool kOptional = false;
};
template <typename T>
struct Nullable<std::optional<T>> {
  using type = T;
  static constexpr bool kOptional = true;
};
// T without its std::optional, if it has one.
template <typename T>
using Unwrapped = typename Nullable<T>::type;
template <typename T>
bool IsNull(const T& value) {
  if constexpr (Nullable<T>::kOptional) {
    return !value.has_value();
  } else {
    (void)value;
    return false;
  }
}
// The value inside `value`, which is not null.
template <typename T>
const Unwrapped<T>& Unwrap(const T& value) {
  if constexpr (Nullable<T>::kOptional) {
    return *value;
  } else {
    return value;
  }
}

// The serde of std::optional<T>: T's serde for values that are there. Null is no bytes but a
// null key or value, which sources and sinks write themselves: Serialize is never called with
// std::nullopt by weir (it gives empty bytes).
template <typename T>
class OptionalSerde : public Serde<std::optional<T>> {
 public:
  explicit OptionalSerde(SerdePtr<T> inner) : inner_(std::move(inner)) {}
  std::string Serialize(const std::optional<T>& value) const override {
    return value.has_value() ? inner_->Serialize(*value) : std::string();
  }
  absl::StatusOr<std::optional<T>> Deserialize(absl::string_view bytes) const override {
    absl::StatusOr<T> value = inner_->Deserialize(bytes);
    if (!value.ok()) return value.status();
    return std::optional<T>(*std::move(value));
  }
  const SerdePtr<T>& inner() const { return inner_; }

 private:
  SerdePtr<T> inner_;
};

namespace serdes {
// Keys or values that may be null (std::nullopt), with `inner` for the rest.
template <typename T>
SerdePtr<std::optional<T>> Optional(SerdePtr<T> inner) {
  return std::make_shared<OptionalSerde<T>>(std::move(inner));
}
}  // namespace serdes

// The serde of T for a serde of T or of std::optional<T> (an OptionalSerde); null if neither.
template <typename T>
SerdePtr<Unwrapped<T>> UnwrappedSerde(const SerdePtr<T>& serde) {
  if constexpr (Nullable<T>::kOptional) {
    auto optional = std::dynamic_pointer_cast<const OptionalSerde<Unwrapped<T>>>(serde);
    return optional != nullptr ? optional->inner() : nullptr;
  } else {
    return serde;
  }
}

// Serde for any type nlohmann::json can convert (to_json / from_json), as JSON text.
template <typename T>
class JsonSerde : public Serde<T> {
 public:
  std::string Serialize(const T& value) const override { return nlohmann::json(value).dump(); }
  absl::StatusOr<T> Deserialize(absl::string_view bytes) const override {
    nlohmann::json json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (json.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
    try {
      return json.get<T>();
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
  }
};

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_SERDE_H_
