// The base of every state store a task owns.
//
// A store belongs to one task and is touched only by the stream thread that runs that task
// (or by the test driver's thread): stores are not thread-safe and need not be.
#ifndef WEIR_STORES_STATE_STORE_H_
#define WEIR_STORES_STATE_STORE_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace weir {

class CacheNamespace;

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual const std::string& name() const = 0;
  // Makes every write so far durable in the store's backing medium (no-op in memory).
  virtual absl::Status Flush() = 0;

  // Changelogging. A store that logs its changes reports the writes pending since its task's last
  // commit (the latest per key; std::nullopt for a delete) in changelog form, and applies a change
  // read back from its changelog. Stores without a changelog keep these no-ops.
  using ChangeVisitor =
      std::function<void(absl::string_view key, std::optional<absl::string_view> value)>;
  virtual bool logged() const { return false; }

  // The store's record cache namespace, for hit and miss counts; null when uncached.
  virtual const CacheNamespace* cache_namespace() const { return nullptr; }
  virtual void ForEachPendingChange(const ChangeVisitor& /*visit*/) const {}
  virtual absl::Status ApplyChange(absl::string_view /*key*/,
                                   std::optional<absl::string_view> /*value*/) {
    return absl::OkStatus();
  }
};

}  // namespace weir

#endif  // WEIR_STORES_STATE_STORE_H_
