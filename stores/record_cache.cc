#include "stores/record_cache.h"

#include <utility>

#include "common/check.h"

namespace weir {
namespace {

// Kafka Streams' LRUCacheEntry overhead: LRU pointers (24), dirty flag (1), timestamp and
// offset (16).
constexpr size_t kEntryOverhead = 41;

size_t EntryBytes(absl::string_view key, const std::optional<std::string>& value) {
  return key.size() + (value ? value->size() : 0) + kEntryOverhead;
}

}  // namespace

const CacheNamespace::Entry* CacheNamespace::Get(absl::string_view key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  Entry* e = &it->second;
  UnlinkLru(e);
  LinkMostRecent(e);
  return e;
}

void CacheNamespace::Put(absl::string_view key, std::optional<absl::string_view> value,
                         int64_t timestamp) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(key), Entry{}).first;
    it->second.key = &it->first;
  } else {
    UnlinkLru(&it->second);
    if (it->second.dirty) UnlinkDirty(&it->second);
  }
  Entry& e = it->second;
  if (value.has_value() && e.value.has_value()) {
    e.value->assign(value->data(), value->size());  // reuses the entry's buffer
  } else if (value.has_value()) {
    e.value.emplace(*value);
  } else {
    e.value.reset();
  }
  e.timestamp = timestamp;
  cache_->size_bytes_ -= static_cast<int64_t>(e.bytes);
  e.bytes = EntryBytes(key, e.value);
  cache_->size_bytes_ += static_cast<int64_t>(e.bytes);
  LinkMostRecent(&e);
  LinkDirty(&e);
  cache_->MaybeEvict(*this);
}

void CacheNamespace::Flush() {
  if (dirty_head_ == nullptr) return;
  flushing_.clear();
  flushing_.reserve(dirty_count_);
  for (Entry* e = dirty_head_; e != nullptr; e = e->dirty_next) {
    flushing_.push_back({*e->key,
                         e->value ? std::optional<absl::string_view>(*e->value) : std::nullopt,
                         e->timestamp});
  }
  // The listener runs before the entries change: the views above point into them.
  listener_(flushing_);
  ++cache_->flushes_;
  flushing_.clear();
  while (dirty_head_ != nullptr) {
    Entry* e = dirty_head_;
    UnlinkDirty(e);
    if (!e->value.has_value()) Erase(entries_.find(*e->key));  // a flushed delete leaves
  }
}

void CacheNamespace::Invalidate(absl::string_view key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.dirty) UnlinkDirty(&it->second);
  Erase(it);
}

void CacheNamespace::ForEachFrom(
    absl::string_view from,
    const std::function<bool(const std::string&, const Entry&)>& visit) const {
  for (auto it = entries_.lower_bound(from); it != entries_.end(); ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

void CacheNamespace::LinkMostRecent(Entry* e) {
  e->lru_prev = lru_tail_;
  e->lru_next = nullptr;
  (lru_tail_ != nullptr ? lru_tail_->lru_next : lru_head_) = e;
  lru_tail_ = e;
}

void CacheNamespace::UnlinkLru(Entry* e) {
  (e->lru_prev != nullptr ? e->lru_prev->lru_next : lru_head_) = e->lru_next;
  (e->lru_next != nullptr ? e->lru_next->lru_prev : lru_tail_) = e->lru_prev;
  e->lru_prev = e->lru_next = nullptr;
}

void CacheNamespace::LinkDirty(Entry* e) {
  e->dirty = true;
  e->dirty_prev = dirty_tail_;
  e->dirty_next = nullptr;
  (dirty_tail_ != nullptr ? dirty_tail_->dirty_next : dirty_head_) = e;
  dirty_tail_ = e;
  ++dirty_count_;
}

void CacheNamespace::UnlinkDirty(Entry* e) {
  (e->dirty_prev != nullptr ? e->dirty_prev->dirty_next : dirty_head_) = e->dirty_next;
  (e->dirty_next != nullptr ? e->dirty_next->dirty_prev : dirty_tail_) = e->dirty_prev;
  e->dirty_prev = e->dirty_next = nullptr;
  e->dirty = false;
  --dirty_count_;
}

void CacheNamespace::Erase(std::map<std::string, Entry, std::less<>>::iterator it) {
  UnlinkLru(&it->second);
  cache_->size_bytes_ -= static_cast<int64_t>(it->second.bytes);
  entries_.erase(it);
}

bool CacheNamespace::EvictOne() {
  if (lru_head_ == nullptr) return false;
  // Kafka Streams flushes the whole namespace when the victim is dirty: a batch, in order.
  if (lru_head_->dirty) Flush();
  if (lru_head_ != nullptr) Erase(entries_.find(*lru_head_->key));  // the flush may erase it
  ++cache_->evictions_;
  return true;
}

CacheNamespace* RecordCache::AddNamespace(std::string name,
                                          CacheNamespace::FlushListener listener) {
  auto ns = std::unique_ptr<CacheNamespace>(
      new CacheNamespace(this, std::move(name), std::move(listener)));
  CacheNamespace* raw = ns.get();
  namespaces_.emplace(raw, std::move(ns));
  return raw;
}

void RecordCache::RemoveNamespace(CacheNamespace* ns) {
  auto it = namespaces_.find(ns);
  WEIR_CHECK(it != namespaces_.end()) << "cache namespace removed twice";
  for (const auto& [key, entry] : ns->entries_) size_bytes_ -= static_cast<int64_t>(entry.bytes);
  removed_hits_ += ns->hits_;
  removed_misses_ += ns->misses_;
  namespaces_.erase(it);
}

int64_t RecordCache::hits() const {
  int64_t total = removed_hits_;
  for (const auto& [raw, ns] : namespaces_) total += ns->hits_;
  return total;
}

int64_t RecordCache::misses() const {
  int64_t total = removed_misses_;
  for (const auto& [raw, ns] : namespaces_) total += ns->misses_;
  return total;
}

void RecordCache::MaybeEvict(CacheNamespace& written) {
  while (size_bytes_ > max_bytes_ && written.EvictOne()) {
  }
}

}  // namespace weir
