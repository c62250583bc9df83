// Key-value stores (Kafka Streams' KeyValueStore over bytes): put, get, delete, range, prefix
// scan and full scan, in key order. Scans take a visitor instead of returning an iterator, so no
// iterator can outlive its scan or be left open.
//
// Concurrency: owned and used by one task's thread only.
#ifndef WEIR_STORES_KEY_VALUE_STORE_H_
#define WEIR_STORES_KEY_VALUE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stores/key_value_store_options.h"
#include "stores/state_store.h"

namespace weir {

class KeyValueBytesStore : public StateStore {
 public:
  // Called for each entry a scan finds, in key order; return false to stop the scan.
  using Visitor = std::function<bool(absl::string_view key, absl::string_view value)>;

  // Writes `value` for `key`; std::nullopt deletes it.
  virtual void Put(absl::string_view key, std::optional<absl::string_view> value) = 0;
  void Delete(absl::string_view key) { Put(key, std::nullopt); }
  // The value of `key`, viewing the store's own bytes: valid until the next call on this store
  // (copy it to keep it). No copy is made, so a read costs no allocation.
  // Reads are const for the contents only: a caching store counts the hit or miss and makes the
  // entry the record cache's most recently used, and a store may remember its last read, so
  // even reads are for the task's thread alone.
  virtual std::optional<absl::string_view> Get(absl::string_view key) const = 0;
  // Keys in [from, to] (both inclusive), as Kafka Streams' range().
  virtual void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const = 0;
  virtual void PrefixScan(absl::string_view prefix, const Visitor& visit) const = 0;
  virtual void All(const Visitor& visit) const = 0;
};

// In memory: an ordered map (the test driver's stores). With a retention, expired entries are
// swept whenever the observed stream time has moved by a retention since the last sweep.
class InMemoryKeyValueStore : public KeyValueBytesStore {
 public:
  explicit InMemoryKeyValueStore(KeyValueStoreOptions options) : options_(std::move(options)) {}
  explicit InMemoryKeyValueStore(std::string name)
      : InMemoryKeyValueStore(KeyValueStoreOptions{.name = std::move(name)}) {}
  const std::string& name() const override { return options_.name; }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Put(absl::string_view key, std::optional<absl::string_view> value) override;
  std::optional<absl::string_view> Get(absl::string_view key) const override;
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override;
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override;
  void All(const Visitor& visit) const override;

 private:
  // With a retention: notes `value`'s timestamp and sweeps when due.
  void Observe(absl::string_view value);

  const KeyValueStoreOptions options_;
  using Entries = std::map<std::string, std::string, std::less<>>;
  Entries entries_;
  // The entry the last Get found (end() when none), so that the Put that follows it in a
  // read-modify-write needs no second search. Erasing it resets it.
  mutable Entries::const_iterator last_read_ = entries_.end();
  int64_t observed_ = -1;
  int64_t swept_ = -1;  // observed stream time at the last sweep
};

}  // namespace weir

#endif  // WEIR_STORES_KEY_VALUE_STORE_H_
