// absl::Mutex as ThreadSanitizer sees it, preloaded into the TSan suite by
// scripts/sanitize.sh tsan (LD_PRELOAD) with tests/sanitizers/c11_threads.c.
//
// Why: weir guards its shared state with absl::Mutex, whose Lock and Unlock live in Debian's
// libabsl_synchronization, built without TSan: its atomics and futex waits are invisible, so
// every access it orders would be reported as a race. These definitions take the place of the
// library's (same symbols, found first), call the real ones (dlsym RTLD_NEXT) and tell TSan what
// they did: a lock acquires the mutex, an unlock releases it, and Await releases it while it
// waits and acquires it again before it returns. absl evaluates a Condition while it holds the
// mutex, but inside its own uninstrumented code (in the waiter or in the unlocking thread), so
// tests/sanitizers/tsan.supp suppresses races under absl::Condition::Eval.
//
// WEIR_ABSL_NS is absl's mangled inline namespace (e.g. 7debian3), which scripts/sanitize.sh
// reads from the library's symbols.
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

// Weak: a preloaded process without TSan (a client the tests run) never calls them.
extern "C" void __tsan_acquire(void* addr) __attribute__((weak));
extern "C" void __tsan_release(void* addr) __attribute__((weak));

#define WEIR_MUTEX_SYMBOL(rest) "_ZN4absl" WEIR_ABSL_NS "5Mutex" rest

namespace {

template <typename F>
F Real(const char* symbol) {
  void* real = dlsym(RTLD_NEXT, symbol);
  if (real == nullptr) {
    std::fprintf(stderr, "absl_mutex: %s not found in libabsl_synchronization\n", symbol);
    std::abort();
  }
  return reinterpret_cast<F>(real);
}

void Acquire(void* mu) {
  if (__tsan_acquire != nullptr) __tsan_acquire(mu);
}
void Release(void* mu) {
  if (__tsan_release != nullptr) __tsan_release(mu);
}

}  // namespace

extern "C" {

void WeirLock(absl::Mutex* mu) __asm__(WEIR_MUTEX_SYMBOL("4LockEv"));
void WeirLock(absl::Mutex* mu) {
  static const auto real = Real<void (*)(absl::Mutex*)>(WEIR_MUTEX_SYMBOL("4LockEv"));
  real(mu);
  Acquire(mu);
}

void WeirReaderLock(absl::Mutex* mu) __asm__(WEIR_MUTEX_SYMBOL("10ReaderLockEv"));
void WeirReaderLock(absl::Mutex* mu) {
  static const auto real = Real<void (*)(absl::Mutex*)>(WEIR_MUTEX_SYMBOL("10ReaderLockEv"));
  real(mu);
  Acquire(mu);
}

bool WeirTryLock(absl::Mutex* mu) __asm__(WEIR_MUTEX_SYMBOL("7TryLockEv"));
bool WeirTryLock(absl::Mutex* mu) {
  static const auto real = Real<bool (*)(absl::Mutex*)>(WEIR_MUTEX_SYMBOL("7TryLockEv"));
  const bool locked = real(mu);
  if (locked) Acquire(mu);
  return locked;
}

void WeirLockWhen(absl::Mutex* mu, const absl::Condition& cond)
    __asm__(WEIR_MUTEX_SYMBOL("8LockWhenERKNS0_9ConditionE"));
void WeirLockWhen(absl::Mutex* mu, const absl::Condition& cond) {
  static const auto real = Real<void (*)(absl::Mutex*, const absl::Condition&)>(
      WEIR_MUTEX_SYMBOL("8LockWhenERKNS0_9ConditionE"));
  real(mu, cond);
  Acquire(mu);
}

void WeirUnlock(absl::Mutex* mu) __asm__(WEIR_MUTEX_SYMBOL("6UnlockEv"));
void WeirUnlock(absl::Mutex* mu) {
  static const auto real = Real<void (*)(absl::Mutex*)>(WEIR_MUTEX_SYMBOL("6UnlockEv"));
  Release(mu);
  real(mu);
}

void WeirReaderUnlock(absl::Mutex* mu) __asm__(WEIR_MUTEX_SYMBOL("12ReaderUnlockEv"));
void WeirReaderUnlock(absl::Mutex* mu) {
  static const auto real = Real<void (*)(absl::Mutex*)>(WEIR_MUTEX_SYMBOL("12ReaderUnlockEv"));
  Release(mu);
  real(mu);
}

void WeirAwait(absl::Mutex* mu, const absl::Condition& cond)
    __asm__(WEIR_MUTEX_SYMBOL("5AwaitERKNS0_9ConditionE"));
void WeirAwait(absl::Mutex* mu, const absl::Condition& cond) {
  static const auto real = Real<void (*)(absl::Mutex*, const absl::Condition&)>(
      WEIR_MUTEX_SYMBOL("5AwaitERKNS0_9ConditionE"));
  Release(mu);
  real(mu, cond);
  Acquire(mu);
}

bool WeirAwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond, absl::Duration timeout)
    __asm__(WEIR_MUTEX_SYMBOL("16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
bool WeirAwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond, absl::Duration timeout) {
  static const auto real =
      Real<bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration)>(
          WEIR_MUTEX_SYMBOL("16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  Release(mu);
  const bool met = real(mu, cond, timeout);
  Acquire(mu);
  return met;
}

}  // extern "C"
