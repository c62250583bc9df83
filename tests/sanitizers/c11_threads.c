// C11 threads over POSIX threads, preloaded into the ThreadSanitizer suite by
// scripts/sanitize.sh tsan (LD_PRELOAD).
//
// Why: librdkafka starts its threads with C11 thrd_create and locks with mtx_*/cnd_*, which
// glibc implements by calling its internal pthread functions directly, past the pthread_create,
// pthread_mutex_* and pthread_cond_* interceptors of GCC's (and clang's, up to 16 at least)
// TSan runtime. A thread TSan did not see start has no TSan state, and its first malloc crashes
// the process (SEGV in SizeClassAllocator64LocalCache::Allocate, from a librdkafka thread), and
// locks TSan does not see would make every handover through librdkafka's queues look like a
// race. Defining the C11 functions here, over the intercepted pthread ones, lets TSan see
// librdkafka's threads and synchronisation as they are. glibc's mtx_t, cnd_t and once_flag have
// the layouts of pthread_mutex_t, pthread_cond_t and pthread_once_t (checked below).
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is glibc's pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is glibc's pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is pthread_once_t");
static int result(int err) {
  switch (err) {
    case 0: return thrd_success;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    case ENOMEM: case EAGAIN: return thrd_nomem;
    default: return thrd_error;
  }
}

struct start { thrd_start_t fn; void* arg; };
static void* trampoline(void* p) {
  struct start s = *(struct start*)p;
  free(p);
  return (void*)(intptr_t)s.fn(s.arg);
}
int thrd_create(thrd_t* thr, thrd_start_t fn, void* arg) {
  struct start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->fn = fn;
  s->arg = arg;
  int err = pthread_create(thr, NULL, trampoline, s);
  if (err != 0) free(s);
  return result(err);
}
int thrd_join(thrd_t thr, int* res) {
  void* r;
  int err = pthread_join(thr, &r);
  if (err == 0 && res != NULL) *res = (int)(intptr_t)r;
  return result(err);
}
int thrd_detach(thrd_t thr) { return result(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return result(err);
}
int mtx_lock(mtx_t* m) { return result(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return result(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  return result(pthread_mutex_timedlock((pthread_mutex_t*)m, ts));
}
int mtx_unlock(mtx_t* m) { return result(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return result(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return result(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return result(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) {
  return result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  return result(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

void call_once(once_flag* flag, void (*fn)(void)) { pthread_once((pthread_once_t*)flag, fn); }
