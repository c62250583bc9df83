#include "topologies/fraud_aggregates.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/byte_order.h"

namespace weir::fraud {
namespace {

void PutStrings(std::string& out, const FiveMinuteAggregate::Strings& strings) {
  AppendLittleEndian(out, strings.size(), 4);
  for (absl::string_view s : strings) {
    const size_t size = std::min<size_t>(s.size(), 0xffff);
    AppendLittleEndian(out, size, 2);
    out.append(s.data(), size);
  }
}

// Views into `in`, which must outlive them.
bool GetStrings(absl::string_view& in, FiveMinuteAggregate::Strings* strings) {
  uint64_t count = 0;
  if (!ConsumeLittleEndian(in, 4, &count) || count > in.size() / 2) return false;
  strings->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size = 0;
    if (!ConsumeLittleEndian(in, 2, &size) || in.size() < size) return false;
    strings->push_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return true;
}

}  // namespace

void InsertSorted(FiveMinuteAggregate::Strings& strings, absl::string_view s) {
  auto at = std::lower_bound(strings.begin(), strings.end(), s);
  if (at == strings.end() || *at != s) strings.insert(at, s);
}

std::optional<MinuteAggregate> DecodeMinute(absl::string_view bytes) {
  std::pair<std::string, std::string> parts = absl::StrSplit(bytes, ',');
  MinuteAggregate aggregate;
  if (!absl::SimpleAtoi(parts.first, &aggregate.count) ||
      !absl::SimpleAtoi(parts.second, &aggregate.sum)) {
    return std::nullopt;
  }
  return aggregate;
}

std::optional<FiveMinuteAggregate> DecodeFiveMinute(absl::string_view in) {
  FiveMinuteAggregate a;
  uint64_t count = 0, sum = 0, max = 0;
  if (!ConsumeLittleEndian(in, 8, &count) || !ConsumeLittleEndian(in, 8, &sum) ||
      !ConsumeLittleEndian(in, 8, &max) || !GetStrings(in, &a.countries) ||
      !GetStrings(in, &a.merchants)) {
    return std::nullopt;
  }
  a.count = static_cast<int64_t>(count);
  a.sum = static_cast<int64_t>(sum);
  a.max = static_cast<int64_t>(max);
  return a;
}

std::string EncodeFiveMinute(const FiveMinuteAggregate& a) {
  std::string out;
  size_t size = 24 + 8;
  for (const auto* strings : {&a.countries, &a.merchants}) {
    for (absl::string_view s : *strings) size += 2 + s.size();
  }
  out.reserve(size);
  AppendLittleEndian(out, static_cast<uint64_t>(a.count), 8);
  AppendLittleEndian(out, static_cast<uint64_t>(a.sum), 8);
  AppendLittleEndian(out, static_cast<uint64_t>(a.max), 8);
  PutStrings(out, a.countries);
  PutStrings(out, a.merchants);
  return out;
}

}  // namespace weir::fraud
