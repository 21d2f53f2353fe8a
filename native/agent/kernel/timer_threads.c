/* glibc's SIGEV_THREAD timers across a restart.
 *
 * glibc makes a SIGEV_THREAD timer a kernel timer that sends SIGTIMER (32)
 * to one helper thread of its own (SIGEV_THREAD_ID), with sigev_value
 * pointing at its `struct timer` record (glibc 2.34 and later: { int
 * ktimerid; thrfunc; sival; attr; next }). The helper waits in rt_sigtimedwait with every
 * other signal blocked, our checkpoint signal too, so it is never parked and
 * never comes back; after a restart the timer's signal would find no thread
 * and end the process. So a restart gives such timers a helper of ours, which
 * does what glibc's does: on each expiry, a new thread runs thrfunc(sival).
 * glibc also remembers its helper's tid for the next timer_create: after a
 * restart that thread is gone, so timer_create(SIGEV_THREAD) is made here the
 * way glibc (2.34 and later) makes it, on our helper. */
#include <errno.h>
#include <gnu/libc-version.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define GLIBC_SIGTIMER 32                /* __SIGRTMIN: SIGCANCEL and SIGTIMER since glibc 2.34 */
#define KERNEL_SIGEV_THREAD_ID 4
#define SIGINFO_CODE_TIMER (-2)         /* SI_TIMER */
#define HELPER_START_WAIT_MS 2000

/* glibc's struct timer (2.34 and later). */
struct glibc_timer {
  int ktimerid;
  void (*thrfunc)(union sigval);
  union sigval sival;
  pthread_attr_t attr;
  struct glibc_timer *next;
};

struct kernel_sigevent { uint64_t value; int signo, notify; int tid; int pad[11]; };

static volatile int helper_tid;   /* our helper's kernel tid, 0: none in this process life */
static int helper_restarts = -1;  /* agent.restarts when it was started... */
static pid_t helper_pid;          /* ...in this process (a forked child has none) */

/* Reads a glibc timer record through the kernel (a stale pointer gives 0). */
static int read_record(uint64_t at, struct glibc_timer *out) {
  struct iovec local = { out, sizeof *out }, remote = { (void *)(uintptr_t)at, sizeof *out };
  return rsys6(SYS_process_vm_readv, agent.real_pid, &local, 1, &remote, 1, 0) == (long)sizeof *out;
}

int timer_threads_is_glibc(uint64_t value, int id) {
  struct glibc_timer tk;
  return value && read_record(value, &tk) && tk.ktimerid == id && tk.thrfunc;
}

struct call { void (*fn)(union sigval); union sigval value; };

static void *run_call(void *p) {
  struct call c = *(struct call *)p;
  free(p);
  uint64_t none = 0;   /* glibc's callback threads start with no signal blocked */
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
  c.fn(c.value);
  return 0;
}

/* A SIGEV_THREAD notification, as glibc runs one: fn(value) on a new,
 * detached thread (timers here, message queues in fds/mq_threads.c). */
void agent_sigev_thread_start(void (*fn)(union sigval), union sigval value) {
  struct call *c = malloc(sizeof *c);
  if (!c) return;
  c->fn = fn;
  c->value = value;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  if (agent_real_pthread_create(&th, &attr, run_call, c) != 0) free(c);
  pthread_attr_destroy(&attr);
}

static void *helper_main(void *unused) {
  (void)unused;
  /* every signal blocked, SIGTIMER too (glibc unblocks its SIGCANCEL, the same
   * number, in each new thread), before any timer can name this thread */
  uint64_t all = ~0ULL;
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  helper_tid = agent_real_gettid();
  agent_futex_wake(&helper_tid);
  uint64_t wanted = 1ULL << (GLIBC_SIGTIMER - 1);
  for (;;) {
    siginfo_t si;
    long r = rsys4(SYS_rt_sigtimedwait, &wanted, &si, 0, 8);
    if (r != GLIBC_SIGTIMER || si.si_code != SIGINFO_CODE_TIMER) continue;
    struct glibc_timer tk;
    if (!read_record((uint64_t)(uintptr_t)si.si_ptr, &tk) || tk.ktimerid != si.si_timerid || !tk.thrfunc) continue;
    agent_sigev_thread_start(tk.thrfunc, tk.sival);
  }
  return 0;
}

/* Our helper's tid, started on first need in this life of the process. It
 * blocks every signal, as glibc's does: a checkpoint leaves it out and the
 * next restart starts another. */
int timer_threads_helper(void) {
  if (helper_restarts == agent.restarts && helper_pid == agent.real_pid && helper_tid) return helper_tid;
  helper_tid = 0;
  helper_restarts = agent.restarts;
  helper_pid = agent.real_pid;
  uint64_t all = ~0ULL, old = 0;
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int r = agent_real_pthread_create(&th, &attr, helper_main, 0);
  pthread_attr_destroy(&attr);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
  if (r != 0) return -1;
  for (int waited = 0; !helper_tid && waited < HELPER_START_WAIT_MS; waited++) agent_futex_wait(&helper_tid, 0, 1);
  return helper_tid ? helper_tid : -1;
}

/* timer_create(SIGEV_THREAD) once glibc's helper is gone (after a restart):
 * glibc's record and its timer_t encoding (2.34+: the record's address
 * shifted, top bit set), so glibc's timer_settime and timer_delete take it.
 * 1 when made here (*result set), 0 when glibc should make it. */
int timer_threads_create(clockid_t clock, const struct sigevent *ev, timer_t *timer, int *result) {
  if (!agent.restarted || !ev || ev->sigev_notify != SIGEV_THREAD || strverscmp(gnu_get_libc_version(), "2.34") < 0) return 0;
  int tid = timer_threads_helper();
  struct glibc_timer *tk = malloc(sizeof *tk);
  if (tid < 0 || !tk) { free(tk); errno = EAGAIN; *result = -1; return 1; }
  memset(tk, 0, sizeof *tk);
  tk->thrfunc = ev->sigev_notify_function;
  tk->sival = ev->sigev_value;
  pthread_attr_init(&tk->attr);
  pthread_attr_setdetachstate(&tk->attr, PTHREAD_CREATE_DETACHED);
  struct kernel_sigevent kev;
  memset(&kev, 0, sizeof kev);
  kev.value = (uint64_t)(uintptr_t)tk;
  kev.signo = GLIBC_SIGTIMER;
  kev.notify = KERNEL_SIGEV_THREAD_ID;
  kev.tid = tid;
  int id = -1;
  long r = rsys3(SYS_timer_create, agent_clock_now(clock), &kev, &id);
  if (r < 0) { pthread_attr_destroy(&tk->attr); free(tk); errno = (int)-r; *result = -1; return 1; }
  tk->ktimerid = id;
  *timer = (timer_t)(INTPTR_MIN | ((uintptr_t)tk >> 1));
  *result = 0;
  return 1;
}
