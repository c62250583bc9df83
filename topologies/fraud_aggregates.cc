#include "topologies/fraud_aggregates.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/byte_order.h"
#include "common/check.h"
#include "stores/key_value_store_options.h"

namespace weir::fraud {
namespace {

constexpr uint8_t kFormat = 1;

// Writes little-endian integers and strings into space sized beforehand (EncodeCardWindows
// runs once per payment: no byte-by-byte appends).
class Writer {
 public:
  explicit Writer(char* at) : at_(at) {}
  void Int(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) at_[i] = static_cast<char>(value >> (8 * i));
    at_ += bytes;
  }
  void Strings(const fraud::Strings& strings) {
    Int(std::min<size_t>(strings.size(), 0xffff), 2);
    for (size_t i = 0; i < std::min<size_t>(strings.size(), 0xffff); ++i) {
      const size_t size = std::min<size_t>(strings[i].size(), 0xffff);
      Int(size, 2);
      std::memcpy(at_, strings[i].data(), size);
      at_ += size;
    }
  }
  char* at() const { return at_; }

 private:
  char* at_;
};

size_t EncodedSize(const Strings& strings) {
  size_t size = 2;
  for (size_t i = 0; i < std::min<size_t>(strings.size(), 0xffff); ++i) {
    size += 2 + std::min<size_t>(strings[i].size(), 0xffff);
  }
  return size;
}

// Views into `in`, which must outlive them.
bool GetStrings(absl::string_view& in, Strings* strings) {
  uint64_t count = 0;
  if (!ConsumeLittleEndian(in, 2, &count) || count > in.size() / 2) return false;
  if (count > strings->capacity()) strings->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t size = 0;
    if (!ConsumeLittleEndian(in, 2, &size) || in.size() < size) return false;
    strings->push_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return true;
}

bool GetInt64(absl::string_view& in, int64_t* value) {
  uint64_t raw = 0;
  if (!ConsumeLittleEndian(in, 8, &raw)) return false;
  *value = static_cast<int64_t>(raw);
  return true;
}

}  // namespace

bool InsertSorted(Strings& strings, absl::string_view s) {
  auto at = std::lower_bound(strings.begin(), strings.end(), s);
  if (at != strings.end() && *at == s) return false;
  strings.insert(at, s);
  return true;
}

const char* RuleName(Rule rule) {
  switch (rule) {
    case kVelocity:
      return "VELOCITY";
    case kHighSpend:
      return "HIGH_SPEND";
    case kGeoHop:
      return "GEO_HOP";
    case kRuleCount:
      break;
  }
  return "?";
}

WindowAggregate CardWindows::Window(int64_t start, int64_t end, Merge merge) const {
  WindowAggregate window;
  for (const Slice& slice : slices) {
    if (slice.start < start) continue;
    if (slice.start >= end) break;
    window.count += slice.count;
    window.sum += slice.sum;
    window.max = std::max(window.max, slice.max);
    if (merge == Merge::kCounts) continue;
    for (absl::string_view country : slice.countries) InsertSorted(window.countries, country);
    if (merge == Merge::kCountries) continue;
    for (absl::string_view merchant : slice.merchants) InsertSorted(window.merchants, merchant);
  }
  return window;
}

Slice& CardWindows::SliceAt(int64_t start) {
  auto at = std::lower_bound(slices.begin(), slices.end(), start,
                             [](const Slice& slice, int64_t s) { return slice.start < s; });
  if (at == slices.end() || at->start != start) {
    const auto index = at - slices.begin();
    slices.emplace_back();  // then rotated into place: inserting a moved Slice upsets GCC 12
    std::rotate(slices.begin() + index, slices.end() - 1, slices.end());
    at = slices.begin() + index;
    at->start = start;
  }
  return *at;
}

bool DecodeCardWindows(absl::string_view in, CardWindows& card) {
  if (in.size() < 8 + 1 + 1 + 2) return false;
  in.remove_prefix(8);  // the timestamp, for the store's expiry
  card.last_alert = {};
  card.slices.clear();
  uint64_t format = 0, alerts = 0, slices = 0;
  if (!ConsumeLittleEndian(in, 1, &format) || format != kFormat ||
      !ConsumeLittleEndian(in, 1, &alerts) || alerts >= (1u << kRuleCount)) {
    return false;
  }
  for (int rule = 0; rule < kRuleCount; ++rule) {
    if ((alerts & (1u << rule)) == 0) continue;
    int64_t start = 0;
    if (!GetInt64(in, &start)) return false;
    card.last_alert[rule] = start;
  }
  if (!ConsumeLittleEndian(in, 2, &slices) || slices > in.size() / 36) return false;
  card.slices.reserve(slices);
  for (uint64_t i = 0; i < slices; ++i) {
    Slice& slice = card.slices.emplace_back();
    if (!GetInt64(in, &slice.start) || !GetInt64(in, &slice.count) || !GetInt64(in, &slice.sum) ||
        !GetInt64(in, &slice.max) || !GetStrings(in, &slice.countries) ||
        !GetStrings(in, &slice.merchants)) {
      return false;
    }
    if (i > 0 && card.slices[i - 1].start >= slice.start) return false;
  }
  return in.empty();
}

void EncodeCardWindows(const CardWindows& card, int64_t timestamp, std::string& out) {
  size_t size = 8 + 1 + 1 + 2;
  for (const std::optional<int64_t>& start : card.last_alert) size += start.has_value() ? 8 : 0;
  for (const Slice& slice : card.slices) {
    size += 4 * 8 + EncodedSize(slice.countries) + EncodedSize(slice.merchants);
  }
  out.resize(size);
  StoreBigEndian64(out.data(), static_cast<uint64_t>(timestamp));
  Writer writer(out.data() + 8);
  writer.Int(kFormat, 1);
  uint8_t alerts = 0;
  for (int rule = 0; rule < kRuleCount; ++rule) {
    if (card.last_alert[rule].has_value()) alerts |= 1u << rule;
  }
  writer.Int(alerts, 1);
  for (const std::optional<int64_t>& start : card.last_alert) {
    if (start.has_value()) writer.Int(static_cast<uint64_t>(*start), 8);
  }
  writer.Int(card.slices.size(), 2);
  for (const Slice& slice : card.slices) {
    writer.Int(static_cast<uint64_t>(slice.start), 8);
    writer.Int(static_cast<uint64_t>(slice.count), 8);
    writer.Int(static_cast<uint64_t>(slice.sum), 8);
    writer.Int(static_cast<uint64_t>(slice.max), 8);
    writer.Strings(slice.countries);
    writer.Strings(slice.merchants);
  }
  WEIR_CHECK(writer.at() == out.data() + out.size()) << "card-windows value size mismatch";
}

}  // namespace weir::fraud
