// Lets an instance's stream threads leave the group only once all have made their final
// commit: a member leaving starts a rebalance, and the broker then rejects the others' commits.
//
// Concurrency: every function may be called from any thread.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_LEAVE_BARRIER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_LEAVE_BARRIER_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace weir::internal {

class LeaveBarrier {
 public:
  explicit LeaveBarrier(int threads) : waiting_(threads) {}
  // One thread is done committing; returns when all are, or after `timeout`.
  void ArriveAndWait(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    --waiting_;
    mutex_.AwaitWithTimeout(absl::Condition(
                                +[](int* waiting) { return *waiting <= 0; }, &waiting_),
                            timeout);
  }
  // One thread will never commit (it failed); returns at once.
  void Arrive() {
    absl::MutexLock lock(&mutex_);
    --waiting_;
  }

 private:
  absl::Mutex mutex_;
  int waiting_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_LEAVE_BARRIER_H_
