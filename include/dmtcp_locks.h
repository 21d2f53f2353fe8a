/* dmtcp_locks.h: DmtcpMutex and DmtcpRWLock, included by dmtcp.h.
 *
 * Plain futex locks, with no state outside the lock itself, so one held
 * across a checkpoint is still held, by the same thread, after a restart.
 * libdmtcp.so exports the same code under the DMTCP 5 names; a program run
 * without the agent uses these copies (dmtcp.h's macros choose). */
#ifndef DMTCP_LOCKS_H
#define DMTCP_LOCKS_H

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DMTCP_LOCK_FREE_ 0u
#define DMTCP_LOCK_HELD_ 1u
#define DMTCP_LOCK_CONTENDED_ 2u
#define DMTCP_RWLOCK_WRITER_ 0x80000000u

static inline void dmtcp_futex_wait_(uint32_t *word, uint32_t seen) {
  syscall(SYS_futex, word, FUTEX_WAIT, seen, (void *)0, (void *)0, 0);
}
static inline void dmtcp_futex_wake_(uint32_t *word, int n) {
  syscall(SYS_futex, word, FUTEX_WAKE, n, (void *)0, (void *)0, 0);
}
static inline uint32_t dmtcp_self_tid_(void) { return (uint32_t)syscall(SYS_gettid); }

static inline void dmtcp_mutex_init_(DmtcpMutex *m, DmtcpMutexType type) {
  m->futex = DMTCP_LOCK_FREE_;
  m->owner = 0;
  m->count = 0;
  m->type = type;
}

/* A recursive mutex its holder takes again only counts up. */
static inline int dmtcp_mutex_relock_(DmtcpMutex *m) {
  if (m->type != DMTCP_MUTEX_RECURSIVE || __atomic_load_n(&m->owner, __ATOMIC_RELAXED) != dmtcp_self_tid_()) return 0;
  m->count++;
  return 1;
}

static inline void dmtcp_mutex_taken_(DmtcpMutex *m) {
  __atomic_store_n(&m->owner, dmtcp_self_tid_(), __ATOMIC_RELAXED);
  m->count = 1;
}

static inline int dmtcp_mutex_trylock_(DmtcpMutex *m) {
  if (dmtcp_mutex_relock_(m)) return 0;
  uint32_t expected = DMTCP_LOCK_FREE_;
  if (!__atomic_compare_exchange_n(&m->futex, &expected, DMTCP_LOCK_HELD_, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return EBUSY;
  dmtcp_mutex_taken_(m);
  return 0;
}

static inline int dmtcp_mutex_lock_(DmtcpMutex *m) {
  if (dmtcp_mutex_relock_(m)) return 0;
  uint32_t expected = DMTCP_LOCK_FREE_;
  if (!__atomic_compare_exchange_n(&m->futex, &expected, DMTCP_LOCK_HELD_, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    /* Drepper's three-state mutex: a waiter marks it contended, so the unlock wakes someone. */
    while (__atomic_exchange_n(&m->futex, DMTCP_LOCK_CONTENDED_, __ATOMIC_ACQUIRE) != DMTCP_LOCK_FREE_)
      dmtcp_futex_wait_(&m->futex, DMTCP_LOCK_CONTENDED_);
  }
  dmtcp_mutex_taken_(m);
  return 0;
}

static inline int dmtcp_mutex_unlock_(DmtcpMutex *m) {
  if (__atomic_load_n(&m->futex, __ATOMIC_RELAXED) == DMTCP_LOCK_FREE_) return EPERM;
  if (m->type == DMTCP_MUTEX_RECURSIVE && m->count > 1) { m->count--; return 0; }
  m->count = 0;
  __atomic_store_n(&m->owner, 0, __ATOMIC_RELAXED);
  if (__atomic_exchange_n(&m->futex, DMTCP_LOCK_FREE_, __ATOMIC_RELEASE) == DMTCP_LOCK_CONTENDED_) dmtcp_futex_wake_(&m->futex, 1);
  return 0;
}

/* The reader-writer lock's word (readerFutex) counts readers, or is WRITER;
 * writerFutex moves at every release, and waiters sleep on it. */
static inline void dmtcp_rwlock_init_(DmtcpRWLock *l) {
  DmtcpRWLockStatus none = { 0, 0, 0, 0 };
  l->status = none;
  l->writerTid = 0;
  l->readerFutex = 0;
  l->writerFutex = 0;
}

static inline int dmtcp_rwlock_tryrdlock_(DmtcpRWLock *l) {
  uint32_t now = __atomic_load_n(&l->readerFutex, __ATOMIC_RELAXED);
  while (!(now & DMTCP_RWLOCK_WRITER_))
    if (__atomic_compare_exchange_n(&l->readerFutex, &now, now + 1, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return 0;
  return EBUSY;
}

static inline int dmtcp_rwlock_rdlock_(DmtcpRWLock *l) {
  for (;;) {
    uint32_t gen = __atomic_load_n(&l->writerFutex, __ATOMIC_ACQUIRE);
    if (dmtcp_rwlock_tryrdlock_(l) == 0) return 0;
    dmtcp_futex_wait_(&l->writerFutex, gen);
  }
}

static inline int dmtcp_rwlock_wrlock_(DmtcpRWLock *l) {
  for (;;) {
    uint32_t gen = __atomic_load_n(&l->writerFutex, __ATOMIC_ACQUIRE);
    uint32_t expected = 0;
    if (__atomic_compare_exchange_n(&l->readerFutex, &expected, DMTCP_RWLOCK_WRITER_, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      l->writerTid = (int32_t)dmtcp_self_tid_();
      return 0;
    }
    dmtcp_futex_wait_(&l->writerFutex, gen);
  }
}

static inline int dmtcp_rwlock_unlock_(DmtcpRWLock *l) {
  uint32_t now = __atomic_load_n(&l->readerFutex, __ATOMIC_RELAXED);
  if (now == 0) return EPERM;
  if (now == DMTCP_RWLOCK_WRITER_) {
    l->writerTid = 0;
    __atomic_store_n(&l->readerFutex, 0, __ATOMIC_RELEASE);
  } else {
    __atomic_sub_fetch(&l->readerFutex, 1, __ATOMIC_RELEASE);
  }
  __atomic_add_fetch(&l->writerFutex, 1, __ATOMIC_RELEASE);
  dmtcp_futex_wake_(&l->writerFutex, 0x7fffffff);
  return 0;
}

#endif /* DMTCP_LOCKS_H */
