#include "engine/processor/serde.h"

#include "absl/strings/str_cat.h"

namespace weir::serdes {
namespace {

class PassThroughSerde : public Serde<std::string> {
 public:
  std::string Serialize(const std::string& value) const override { return value; }
  absl::StatusOr<std::string> Deserialize(absl::string_view bytes) const override {
    return std::string(bytes);
  }
};

// Kafka's big-endian two's complement integers.
template <typename T>
class BigEndianSerde : public Serde<T> {
 public:
  std::string Serialize(const T& value) const override {
    std::string bytes(sizeof(T), '\0');
    auto bits = static_cast<std::make_unsigned_t<T>>(value);
    for (size_t i = sizeof(T); i-- > 0;) {
      bytes[i] = static_cast<char>(bits & 0xff);
      bits >>= 8;
    }
    return bytes;
  }
  absl::StatusOr<T> Deserialize(absl::string_view bytes) const override {
    if (bytes.size() != sizeof(T)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected ", sizeof(T), " bytes of big-endian integer, got ", bytes.size()));
    }
    std::make_unsigned_t<T> bits = 0;
    for (char c : bytes) bits = (bits << 8) | static_cast<unsigned char>(c);
    return static_cast<T>(bits);
  }
};

class JsonValueSerde : public Serde<nlohmann::json> {
 public:
  std::string Serialize(const nlohmann::json& value) const override { return value.dump(); }
  absl::StatusOr<nlohmann::json> Deserialize(absl::string_view bytes) const override {
    nlohmann::json json = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (json.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
    return json;
  }
};

}  // namespace

SerdePtr<std::string> String() {
  static const auto serde = std::make_shared<PassThroughSerde>();
  return serde;
}
SerdePtr<std::string> Bytes() { return String(); }
SerdePtr<int64_t> Int64() {
  static const auto serde = std::make_shared<BigEndianSerde<int64_t>>();
  return serde;
}
SerdePtr<int32_t> Int32() {
  static const auto serde = std::make_shared<BigEndianSerde<int32_t>>();
  return serde;
}
SerdePtr<nlohmann::json> Json() {
  static const auto serde = std::make_shared<JsonValueSerde>();
  return serde;
}

}  // namespace weir::serdes
