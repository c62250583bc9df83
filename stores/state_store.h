// The base of every state store a task owns.
//
// A store belongs to one task and is touched only by the stream thread that runs that task
// (or by the test driver's thread): stores are not thread-safe and need not be.
#ifndef WEIR_STORES_STATE_STORE_H_
#define WEIR_STORES_STATE_STORE_H_

#include <string>

#include "absl/status/status.h"

namespace weir {

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual const std::string& name() const = 0;
  // Makes every write so far durable in the store's backing medium (no-op in memory).
  virtual absl::Status Flush() = 0;
};

}  // namespace weir

#endif  // WEIR_STORES_STATE_STORE_H_
