/* Waits the checkpoint signal must not cut short.
 *
 * The checkpoint handler has SA_RESTART, so the kernel re-runs by itself the
 * calls it restarts for such handlers (read/write on pipes and terminals,
 * wait4, accept, futex waits without a timeout): the thread comes back from
 * the handler, after a restart too, onto its `syscall` instruction again.
 * The calls below are the ones the kernel never restarts after a handler
 * (poll, select, epoll, sleeps, sigtimedwait, System V waits): they fail with
 * EINTR. Each wrapper here notices that the EINTR came from a checkpoint
 * (its call mark, agent.h: the handler stopped the thread as the call ended,
 * and no handler of the program's ran during it) and calls again:
 * - relative timeouts with the time that is left in program time: the time
 *   a checkpoint held the thread counts (the clock ran), the time between a
 *   checkpoint and the restart of its image does not (agent.lost_ns), so a
 *   10 s sleep stopped at 3 s and restarted later still has 7 s to go;
 * - absolute deadlines and waits without a timeout unchanged.
 * A blocking write the checkpoint cut short after part of it went goes on
 * with the rest (write, send, sendto); a connect goes on with the connection.
 * An EINTR the program's own signal caused is its to see, as before.
 * glibc's internal waits (a condition variable, a mutex with a timeout) loop
 * on EINTR themselves and need nothing; sem_wait and friends do not loop. */
#include <dlfcn.h>
#include <errno.h>
#include <mqueue.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"

#define NS_PER_SEC 1000000000LL
#define NS_PER_MS 1000000LL
#define NS_PER_US 1000LL

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

int64_t agent_mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * NS_PER_SEC + t.tv_nsec;
}

/* The end of a relative wait, in program time. */
struct deadline { int64_t at, lost; };

/* Only a positive timeout needs the clock: zero (a poll that does not wait)
 * and negative or no timeout (wait for ever) are called again as they are. */
static struct deadline deadline_after(int64_t ns) { return (struct deadline){ ns > 0 ? agent_mono_ns() + ns : 0, agent.lost_ns }; }

static int64_t ns_left(const struct deadline *d) {
  int64_t left = d->at + (agent.lost_ns - d->lost) - agent_mono_ns();
  return left > 0 ? left : 0;
}

static int64_t timespec_ns(const struct timespec *t) { return (int64_t)t->tv_sec * NS_PER_SEC + t->tv_nsec; }
static struct timespec ns_timespec(int64_t ns) { return (struct timespec){ ns / NS_PER_SEC, ns % NS_PER_SEC }; }
static int ms_left(const struct deadline *d) { return (int)((ns_left(d) + NS_PER_MS - 1) / NS_PER_MS); }

/* A failed call whose EINTR a checkpoint caused: its mark (agent.h) and
 * errno were read before it. errno is then put back: the program never sees
 * that EINTR, not even in errno after the call again succeeds. */
static int by_checkpoint(long r, uint64_t mark, int errno_before) {
  if (r != -1 || errno != EINTR || !agent_cut_by_checkpoint(mark)) return 0;
  errno = errno_before;
  return 1;
}

/* ---- poll, select, epoll ---- */

typedef int (*poll_fn)(struct pollfd *, nfds_t, int);
AGENT_EXPORT int poll(struct pollfd *fds, nfds_t n, int ms) {
  static poll_fn real;
  if (!real) real = (poll_fn)next("poll");
  struct deadline d = deadline_after((int64_t)ms * NS_PER_MS);
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(fds, n, ms);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (ms > 0) ms = ms_left(&d);
  }
}

/* What -D_FORTIFY_SOURCE builds call instead of poll and ppoll. */
extern void __chk_fail(void) __attribute__((noreturn));
AGENT_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fds_len) {
  if (fds_len / sizeof *fds < n) __chk_fail();
  return poll(fds, n, ms);
}

typedef int (*ppoll_fn)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
AGENT_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask) {
  static ppoll_fn real;
  if (!real) real = (ppoll_fn)next("ppoll");
  struct deadline d = deadline_after(timeout ? timespec_ns(timeout) : 0);
  struct timespec left;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(fds, n, timeout, mask);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (timeout) { left = ns_timespec(ns_left(&d)); timeout = &left; }
  }
}

AGENT_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask, size_t fds_len) {
  if (fds_len / sizeof *fds < n) __chk_fail();
  return ppoll(fds, n, timeout, mask);
}

/* The kernel leaves the fd sets as they were when select fails. */
typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
AGENT_EXPORT int select(int n, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *timeout) {
  static select_fn real;
  if (!real) real = (select_fn)next("select");
  struct deadline d = deadline_after(timeout ? (int64_t)timeout->tv_sec * NS_PER_SEC + timeout->tv_usec * NS_PER_US : 0);
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(n, rd, wr, ex, timeout);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (timeout) {
      int64_t left = ns_left(&d);
      timeout->tv_sec = left / NS_PER_SEC;
      timeout->tv_usec = (left % NS_PER_SEC + NS_PER_US - 1) / NS_PER_US;
    }
  }
}

typedef int (*pselect_fn)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
AGENT_EXPORT int pselect(int n, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *timeout, const sigset_t *mask) {
  static pselect_fn real;
  if (!real) real = (pselect_fn)next("pselect");
  struct deadline d = deadline_after(timeout ? timespec_ns(timeout) : 0);
  struct timespec left;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(n, rd, wr, ex, timeout, mask);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (timeout) { left = ns_timespec(ns_left(&d)); timeout = &left; }
  }
}

typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
AGENT_EXPORT int epoll_wait(int ep, struct epoll_event *events, int max, int ms) {
  static epoll_wait_fn real;
  if (!real) real = (epoll_wait_fn)next("epoll_wait");
  struct deadline d = deadline_after((int64_t)ms * NS_PER_MS);
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(ep, events, max, ms);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (ms > 0) ms = ms_left(&d);
  }
}

typedef int (*epoll_pwait_fn)(int, struct epoll_event *, int, int, const sigset_t *);
AGENT_EXPORT int epoll_pwait(int ep, struct epoll_event *events, int max, int ms, const sigset_t *mask) {
  static epoll_pwait_fn real;
  if (!real) real = (epoll_pwait_fn)next("epoll_pwait");
  struct deadline d = deadline_after((int64_t)ms * NS_PER_MS);
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(ep, events, max, ms, mask);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (ms > 0) ms = ms_left(&d);
  }
}

typedef int (*epoll_pwait2_fn)(int, struct epoll_event *, int, const struct timespec *, const sigset_t *);
AGENT_EXPORT int epoll_pwait2(int ep, struct epoll_event *events, int max, const struct timespec *timeout, const sigset_t *mask) {
  static epoll_pwait2_fn real;
  if (!real) real = (epoll_pwait2_fn)next("epoll_pwait2");
  struct deadline d = deadline_after(timeout ? timespec_ns(timeout) : 0);
  struct timespec left;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(ep, events, max, timeout, mask);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (timeout) { left = ns_timespec(ns_left(&d)); timeout = &left; }
  }
}

/* ---- writes a checkpoint cut short ---- */

/* A blocking write into a pipe or socket that the checkpoint interrupted
 * after part of it went returns that part (the kernel restarts the call only
 * when nothing was written). The rest is written too, as if nothing had
 * happened; a rest that cannot go now (a non-blocking fd) leaves the count
 * written so far, as the call would have. */
enum write_kind { WRITE, SEND, SENDTO };
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);

static ssize_t write_once(enum write_kind kind, int fd, const char *p, size_t n, int flags, const struct sockaddr *to, socklen_t len) {
  static write_fn real_write;
  static send_fn real_send;
  static sendto_fn real_sendto;
  switch (kind) {
    case WRITE: if (!real_write) real_write = (write_fn)next("write"); return real_write(fd, p, n);
    case SEND: if (!real_send) real_send = (send_fn)next("send"); return real_send(fd, p, n, flags);
    default: if (!real_sendto) real_sendto = (sendto_fn)next("sendto"); return real_sendto(fd, p, n, flags, to, len);
  }
}

static ssize_t write_whole(enum write_kind kind, int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t len) {
  size_t done = 0;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    ssize_t r = write_once(kind, fd, (const char *)buf + done, n - done, flags, to, len);
    if (r < 0) {
      if (by_checkpoint(r, mark, errno_before)) continue;
      if (done) { errno = errno_before; return (ssize_t)done; }
      return r;
    }
    done += (size_t)r;
    if (done >= n || !agent_cut_by_checkpoint(mark)) return (ssize_t)done;
  }
}

AGENT_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  /* the hot path: one call, no checkpoint during it */
  static write_fn real;
  if (!real) real = (write_fn)next("write");
  uint64_t mark = agent_call_mark();
  int errno_before = errno;
  ssize_t r = real(fd, buf, n);
  if (__builtin_expect(agent_call_mark() == mark, 1)) return r;
  if (!agent_cut_by_checkpoint(mark)) return r;   /* a handler of the program's ran: its call's end is its own */
  if (r < 0 && !by_checkpoint(r, mark, errno_before)) return r;
  if (r >= (ssize_t)n) return r;
  ssize_t rest = write_whole(WRITE, fd, (const char *)buf + (r > 0 ? r : 0), n - (size_t)(r > 0 ? r : 0), 0, 0, 0);
  if (r <= 0) return rest;
  return rest < 0 ? r : r + rest;
}
AGENT_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) { return write_whole(SEND, fd, buf, n, flags, 0, 0); }
AGENT_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t len) {
  return write_whole(SENDTO, fd, buf, n, flags, to, len);
}

/* ---- connect ---- */

/* A blocking connect waits for a full listener's queue (Unix) or for the
 * handshake (TCP). The kernel restarts it after our handler, but not always:
 * a Unix connect that waited reports EINTR. Called again, a connection that
 * got made meanwhile answers EISCONN (it is made: success), one still being
 * made answers EALREADY: it is waited for as the call would have, writable
 * once it is made, and its outcome read from SO_ERROR. */
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
static int connect_outcome(int fd, int errno_before) {
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  if (poll(&p, 1, -1) < 0) return -1;   /* our poll: a checkpoint does not end it */
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -1;
  if (err) { errno = err; return -1; }
  errno = errno_before;
  return 0;
}

AGENT_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
  static connect_fn real;
  if (!real) real = (connect_fn)next("connect");
  uint64_t mark = agent_call_mark();
  int errno_before = errno;
  int r = real(fd, addr, len);
  if (!by_checkpoint(r, mark, errno_before)) return r;
  for (;;) {
    mark = agent_call_mark();
    r = real(fd, addr, len);
    if (r == 0) return 0;
    if (errno == EISCONN) { errno = errno_before; return 0; }
    if (errno == EALREADY) return connect_outcome(fd, errno_before);
    if (!by_checkpoint(r, mark, errno_before)) return r;
  }
}

/* ---- sleeps ---- */

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);
static clock_nanosleep_fn real_clock_nanosleep(void) {
  static clock_nanosleep_fn real;
  if (!real) real = (clock_nanosleep_fn)next("clock_nanosleep");
  return real;
}

/* clock_nanosleep returns its error instead of setting errno. A relative
 * sleep on any clock is measured on the monotonic one for what is left (the
 * two run alike between checkpoints; CPU-time clocks stop when the thread
 * does, hence they keep the kernel's own remainder). */
AGENT_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
  int cpu_clock = clock < 0 || clock == CLOCK_PROCESS_CPUTIME_ID || clock == CLOCK_THREAD_CPUTIME_ID;
  struct deadline d = deadline_after(timespec_ns(req));
  struct timespec left, kernel_rem;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int r = real_clock_nanosleep()(agent_clock_now(clock), flags, req, rem ? rem : &kernel_rem);
    if (r != EINTR || !agent_cut_by_checkpoint(mark)) return r;
    if (flags & TIMER_ABSTIME) continue;
    left = cpu_clock ? (rem ? *rem : kernel_rem) : ns_timespec(ns_left(&d));
    req = &left;
  }
}

AGENT_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
  int r = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
  if (r) { errno = r; return -1; }
  return 0;
}

AGENT_EXPORT unsigned sleep(unsigned seconds) {
  struct timespec req = { (time_t)seconds, 0 }, rem;
  if (nanosleep(&req, &rem) == 0) return 0;
  return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
}

AGENT_EXPORT int usleep(useconds_t us) {
  struct timespec req = { (time_t)(us / 1000000), (long)(us % 1000000) * NS_PER_US };
  return nanosleep(&req, 0);
}

/* ---- signals ---- */

typedef int (*sigtimedwait_fn)(const sigset_t *, siginfo_t *, const struct timespec *);
AGENT_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout) {
  static sigtimedwait_fn real;
  if (!real) real = (sigtimedwait_fn)next("sigtimedwait");
  struct deadline d = deadline_after(timeout ? timespec_ns(timeout) : 0);
  struct timespec left;
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(set, info, timeout);
    if (!by_checkpoint(r, mark, errno_before)) return r;
    if (timeout) { left = ns_timespec(ns_left(&d)); timeout = &left; }
  }
}

AGENT_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info) { return sigtimedwait(set, info, 0); }

/* pause and sigsuspend end when a handler of the program's ran, not when
 * only ours did: by_checkpoint says a stop of ours ended the wait and no
 * handler of the program's ran during it (sigwrap.c counts them). A signal
 * of the program's that came while we held the thread runs its handler as
 * we return, or, if the mask blocks it outside the wait, as the wait begins
 * again: either way the call then ends, as it must. */
typedef int (*sigsuspend_fn)(const sigset_t *);
static int suspend_until_handler(const sigset_t *mask) {
  static sigsuspend_fn real;
  if (!real) real = (sigsuspend_fn)next("sigsuspend");
  for (;;) {
    uint64_t mark = agent_call_mark();
    int errno_before = errno;
    int r = real(mask);
    if (!by_checkpoint(r, mark, errno_before)) return r;
  }
}

AGENT_EXPORT int sigsuspend(const sigset_t *mask) { return suspend_until_handler(mask); }

AGENT_EXPORT int pause(void) {
  sigset_t now;
  sigemptyset(&now);
  rsys4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &now, 8);
  return suspend_until_handler(&now);
}

/* ---- POSIX semaphores and message queues (absolute deadlines) ---- */

#define AGAIN_WHILE_CHECKPOINTED(type, call) do {        \
    for (;;) {                                           \
      uint64_t mark = agent_call_mark();               \
      int errno_before = errno;                          \
      type r = (call);                                   \
      if (!by_checkpoint((long)r, mark, errno_before)) return r; \
    }                                                    \
  } while (0)

typedef int (*sem_wait_fn)(sem_t *);
typedef int (*sem_timedwait_fn)(sem_t *, const struct timespec *);
typedef int (*sem_clockwait_fn)(sem_t *, clockid_t, const struct timespec *);
AGENT_EXPORT int sem_wait(sem_t *sem) {
  static sem_wait_fn real;
  if (!real) real = (sem_wait_fn)next("sem_wait");
  AGAIN_WHILE_CHECKPOINTED(int, real(sem));
}
AGENT_EXPORT int sem_timedwait(sem_t *sem, const struct timespec *at) {
  static sem_timedwait_fn real;
  if (!real) real = (sem_timedwait_fn)next("sem_timedwait");
  AGAIN_WHILE_CHECKPOINTED(int, real(sem, at));
}
AGENT_EXPORT int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *at) {
  static sem_clockwait_fn real;
  if (!real) real = (sem_clockwait_fn)next("sem_clockwait");
  AGAIN_WHILE_CHECKPOINTED(int, real(sem, clock, at));
}

typedef ssize_t (*mq_timedreceive_fn)(mqd_t, char *, size_t, unsigned *, const struct timespec *);
typedef int (*mq_timedsend_fn)(mqd_t, const char *, size_t, unsigned, const struct timespec *);
/* mq_receive and mq_send are the timed calls without a deadline (NULL). */
static ssize_t mq_receive_again(mqd_t q, char *msg, size_t len, unsigned *prio, const struct timespec *at) {
  static mq_timedreceive_fn real;
  if (!real) real = (mq_timedreceive_fn)next("mq_timedreceive");
  AGAIN_WHILE_CHECKPOINTED(ssize_t, real(q, msg, len, prio, at));
}
static int mq_send_again(mqd_t q, const char *msg, size_t len, unsigned prio, const struct timespec *at) {
  static mq_timedsend_fn real;
  if (!real) real = (mq_timedsend_fn)next("mq_timedsend");
  AGAIN_WHILE_CHECKPOINTED(int, real(q, msg, len, prio, at));
}
AGENT_EXPORT ssize_t mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio, const struct timespec *at) { return mq_receive_again(q, msg, len, prio, at); }
AGENT_EXPORT ssize_t mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio) { return mq_receive_again(q, msg, len, prio, 0); }
AGENT_EXPORT int mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio, const struct timespec *at) { return mq_send_again(q, msg, len, prio, at); }
AGENT_EXPORT int mq_send(mqd_t q, const char *msg, size_t len, unsigned prio) { return mq_send_again(q, msg, len, prio, 0); }
