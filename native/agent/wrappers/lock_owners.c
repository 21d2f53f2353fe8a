/* Thread identity inside glibc after a restart.
 *
 * A restarted thread is a new kernel thread with a new tid, and glibc's
 * struct pthread is told so (threads.c): every call glibc makes to the kernel
 * with it (pthread_kill, pthread_cancel, affinity, PI futexes) reaches the
 * right thread. But glibc also wrote the old tid into objects: the owner of a
 * mutex (error-checking and recursive mutexes compare it on unlock and
 * relock; robust and priority-inheritance mutexes keep it in their lock
 * word, where the kernel reads it), the writer of a rwlock (and the clock
 * id of pthread_getcpuclockid: cpu_clocks.c). Such an object held across a
 * restart names a tid that is gone.
 *
 * Owners: before glibc looks at a mutex or rwlock, a thread that finds one
 * of its own earlier tids there (threads_had_tid: the tid at launch and at
 * each restart) writes its tid of now in its place. Only the owner itself
 * does this, and only after a restart: before one, nothing is checked.
 *
 * The layouts are glibc's x86_64 ABI (struct __pthread_mutex_s and
 * __pthread_rwlock_arch_t), which glibc keeps stable. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include "agent.h"

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

struct glibc_mutex { int lock; unsigned count; int owner; unsigned nusers; int kind; };
struct glibc_rwlock { unsigned readers, writers, wrphase_futex, writers_futex, pad3, pad4; int cur_writer; };

#define MUTEX_ROBUST 16       /* PTHREAD_MUTEX_ROBUST_NORMAL_NP */
#define MUTEX_PRIO_INHERIT 32 /* PTHREAD_MUTEX_PRIO_INHERIT_NP */
#define FUTEX_TID_MASK 0x3fffffff

/* The calling thread's tid as glibc knows it now (struct pthread). */
static int tid_now(void) { return *(volatile int *)(agent_get_fs_base() + (uint64_t)agent.pthread_tid_offset); }

static int mine_before(int tid, int now) { return tid > 0 && tid != now && threads_had_tid(now, tid); }

static void adopt_mutex(pthread_mutex_t *m) {
  if (!agent.restarted || !m || agent.pthread_tid_offset < 0) return;
  struct glibc_mutex *g = (struct glibc_mutex *)m;
  int now = tid_now(), owner = __atomic_load_n(&g->owner, __ATOMIC_RELAXED);
  if (owner == 0 || owner == now) return;
  if (!mine_before(owner, now)) return;
  __atomic_store_n(&g->owner, now, __ATOMIC_RELAXED);
  if (g->kind & (MUTEX_ROBUST | MUTEX_PRIO_INHERIT)) {
    /* the lock word holds the owner's tid too, with the waiters bits above it */
    int lock = __atomic_load_n(&g->lock, __ATOMIC_RELAXED);
    while ((lock & FUTEX_TID_MASK) != now && mine_before(lock & FUTEX_TID_MASK, now) &&
           !__atomic_compare_exchange_n(&g->lock, &lock, (lock & ~FUTEX_TID_MASK) | now, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {}
  }
}

static void adopt_rwlock(pthread_rwlock_t *l) {
  if (!agent.restarted || !l || agent.pthread_tid_offset < 0) return;
  struct glibc_rwlock *g = (struct glibc_rwlock *)l;
  int now = tid_now(), writer = __atomic_load_n(&g->cur_writer, __ATOMIC_RELAXED);
  if (writer != 0 && writer != now && mine_before(writer, now)) __atomic_store_n(&g->cur_writer, now, __ATOMIC_RELAXED);
}

#define MUTEX_CALL(name, params, args)                      \
  AGENT_EXPORT int name params {                            \
    static int (*real) params;                              \
    if (!real) real = (int (*) params)next(#name);          \
    adopt_mutex(m);                                         \
    return real args;                                       \
  }
MUTEX_CALL(pthread_mutex_lock, (pthread_mutex_t *m), (m))
MUTEX_CALL(pthread_mutex_trylock, (pthread_mutex_t *m), (m))
MUTEX_CALL(pthread_mutex_unlock, (pthread_mutex_t *m), (m))
MUTEX_CALL(pthread_mutex_consistent, (pthread_mutex_t *m), (m))
MUTEX_CALL(pthread_mutex_timedlock, (pthread_mutex_t *m, const struct timespec *at), (m, at))
MUTEX_CALL(pthread_mutex_clocklock, (pthread_mutex_t *m, clockid_t c, const struct timespec *at), (m, c, at))
/* A condition variable's wait unlocks and relocks the mutex inside glibc. */
MUTEX_CALL(pthread_cond_wait, (pthread_cond_t *cv, pthread_mutex_t *m), (cv, m))
MUTEX_CALL(pthread_cond_timedwait, (pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *at), (cv, m, at))
MUTEX_CALL(pthread_cond_clockwait, (pthread_cond_t *cv, pthread_mutex_t *m, clockid_t c, const struct timespec *at), (cv, m, c, at))

#define RWLOCK_CALL(name, params, args)                     \
  AGENT_EXPORT int name params {                            \
    static int (*real) params;                              \
    if (!real) real = (int (*) params)next(#name);          \
    adopt_rwlock(l);                                        \
    return real args;                                       \
  }
RWLOCK_CALL(pthread_rwlock_unlock, (pthread_rwlock_t *l), (l))
RWLOCK_CALL(pthread_rwlock_rdlock, (pthread_rwlock_t *l), (l))
RWLOCK_CALL(pthread_rwlock_wrlock, (pthread_rwlock_t *l), (l))
RWLOCK_CALL(pthread_rwlock_tryrdlock, (pthread_rwlock_t *l), (l))
RWLOCK_CALL(pthread_rwlock_trywrlock, (pthread_rwlock_t *l), (l))
RWLOCK_CALL(pthread_rwlock_timedrdlock, (pthread_rwlock_t *l, const struct timespec *at), (l, at))
RWLOCK_CALL(pthread_rwlock_timedwrlock, (pthread_rwlock_t *l, const struct timespec *at), (l, at))
