// A key-value store one thread writes and others read (a global store: the global stream thread
// writes it, every stream thread's processors read it). Every call holds a mutex shared with
// whatever else must not run beside it (the owner's commits); Get copies the value into a
// buffer of the calling thread, so the view it returns stays valid until that thread's next
// Get on any shared store, whatever other threads do meanwhile.
#ifndef WEIR_STORES_SHARED_KEY_VALUE_STORE_H_
#define WEIR_STORES_SHARED_KEY_VALUE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "stores/key_value_store.h"

namespace weir {

class SharedKeyValueStore : public KeyValueBytesStore {
 public:
  SharedKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner, absl::Mutex* mutex)
      : inner_(std::move(inner)), mutex_(mutex) {}

  const std::string& name() const override { return inner_->name(); }
  absl::Status Flush() override {
    absl::MutexLock lock(mutex_);
    return inner_->Flush();
  }
  void Put(absl::string_view key, std::optional<absl::string_view> value) override {
    absl::MutexLock lock(mutex_);
    inner_->Put(key, value);
  }
  std::optional<absl::string_view> Get(absl::string_view key) const override {
    thread_local std::string copy;
    absl::MutexLock lock(mutex_);
    std::optional<absl::string_view> value = inner_->Get(key);
    if (!value.has_value()) return std::nullopt;
    copy.assign(value->data(), value->size());
    return absl::string_view(copy);
  }
  // Scans visit under the mutex: a visitor must not call the store.
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override {
    absl::MutexLock lock(mutex_);
    inner_->Range(from, to, visit);
  }
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override {
    absl::MutexLock lock(mutex_);
    inner_->PrefixScan(prefix, visit);
  }
  void All(const Visitor& visit) const override {
    absl::MutexLock lock(mutex_);
    inner_->All(visit);
  }

 private:
  std::unique_ptr<KeyValueBytesStore> inner_;
  absl::Mutex* mutex_;
};

}  // namespace weir

#endif  // WEIR_STORES_SHARED_KEY_VALUE_STORE_H_
