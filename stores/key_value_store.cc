#include "stores/key_value_store.h"

#include "absl/strings/match.h"
#include "common/byte_order.h"

namespace weir {

std::optional<int64_t> ValueTimestamp(absl::string_view value) {
  if (value.size() < 8) return std::nullopt;
  return static_cast<int64_t>(LoadBigEndian64(value.data()));
}

void AppendValueTimestamp(std::string& out, int64_t timestamp) {
  char bytes[8];
  StoreBigEndian64(bytes, static_cast<uint64_t>(timestamp));
  out.append(bytes, 8);
}

void InMemoryKeyValueStore::Observe(absl::string_view value) {
  const std::optional<int64_t> timestamp = ValueTimestamp(value);
  if (!timestamp.has_value() || *timestamp <= observed_) return;
  observed_ = *timestamp;
  if (swept_ < 0) swept_ = observed_;
  if (observed_ - swept_ < options_.retention_ms) return;
  swept_ = observed_;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const std::optional<int64_t> at = ValueTimestamp(it->second);
    if (at.has_value() && *at <= observed_ - options_.retention_ms) {
      if (it == last_read_) last_read_ = entries_.end();
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

void InMemoryKeyValueStore::Put(absl::string_view key, std::optional<absl::string_view> value) {
  if (value.has_value()) {
    if (options_.retention_ms > 0) Observe(*value);
    // A read-modify-write puts the key it just read: no second search.
    auto it = last_read_ != entries_.end() && last_read_->first == key
                  ? entries_.erase(last_read_, last_read_)  // the same entry, as an iterator
                  : entries_.lower_bound(key);
    if (it != entries_.end() && it->first == key) {
      it->second.assign(value->data(), value->size());  // reuses the value's space
    } else {
      entries_.emplace_hint(it, std::string(key), std::string(*value));
    }
  } else if (auto it = entries_.find(key); it != entries_.end()) {
    if (it == last_read_) last_read_ = entries_.end();
    entries_.erase(it);
  }
}

std::optional<absl::string_view> InMemoryKeyValueStore::Get(absl::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  last_read_ = it;
  return absl::string_view(it->second);
}

void InMemoryKeyValueStore::Range(absl::string_view from, absl::string_view to,
                                  const Visitor& visit) const {
  for (auto it = entries_.lower_bound(from); it != entries_.end() && it->first <= to; ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

void InMemoryKeyValueStore::PrefixScan(absl::string_view prefix, const Visitor& visit) const {
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

void InMemoryKeyValueStore::All(const Visitor& visit) const {
  for (const auto& [key, value] : entries_) {
    if (!visit(key, value)) return;
  }
}

}  // namespace weir
