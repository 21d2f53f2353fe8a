/* CPU-time clocks across restarts.
 *
 * A restarted process and its threads are new to the kernel: their CPU time
 * starts again at 0, and a CPU-time clock id the program took before names
 * a pid or tid that is gone (the kernel's encoding: the bits above 3 are
 * ~pid or ~tid, bit 2 says "thread"). The clock calls here give such an id
 * the pid or tid of now, and add to the time the kernel reports what the
 * process or thread had used up to its checkpoints (cpu_offset_ns, set at
 * each restart from the time read when the thread stopped), so that its
 * CPU clocks read as in an undisturbed run: they go on from where they were.
 * Before any restart every call goes straight through. (glibc's own users
 * of these clocks, such as clock() and getrusage(), are not covered.) */
#include <dlfcn.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_BITS 3
#define NS_PER_SEC 1000000000LL

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

int64_t agent_cpu_ns(clockid_t clock) {
  struct timespec t = { 0, 0 };
  rsys2(SYS_clock_gettime, clock, &t);
  return (int64_t)t.tv_sec * NS_PER_SEC + t.tv_nsec;
}

static int is_cpu_clock(clockid_t c) { return c < 0 || c == CLOCK_PROCESS_CPUTIME_ID || c == CLOCK_THREAD_CPUTIME_ID; }

/* The id as it names the process or thread now. */
static clockid_t clock_now(clockid_t clock) {
  if (clock >= 0 || !agent.restarted) return clock;
  int id = (int)~(clock >> CPUCLOCK_BITS);
  if (id == 0) return clock;   /* the caller's own: nothing to translate */
  int now = (clock & CPUCLOCK_PERTHREAD) ? threads_real_of_any(id) : pid_real_of_virt(id);
  if (now <= 0 || now == id) return clock;
  return (clockid_t)(((clockid_t)~now << CPUCLOCK_BITS) | (clock & ((1 << CPUCLOCK_BITS) - 1)));
}

clockid_t agent_clock_now(clockid_t clock) { return clock_now(clock); }

/* What the clock's process or thread used before its latest image was
 * taken, in all the lives before this one (0: not ours, or no restart). */
static int64_t used_before(clockid_t clock) {
  if (clock == CLOCK_PROCESS_CPUTIME_ID) return agent.cpu_offset_ns;
  if (clock == CLOCK_THREAD_CPUTIME_ID) return threads_cpu_offset(agent_real_gettid());
  int id = (int)~(clock >> CPUCLOCK_BITS);
  if (clock & CPUCLOCK_PERTHREAD) return threads_cpu_offset(id ? id : agent_real_gettid());
  return id == 0 || id == agent.real_pid ? agent.cpu_offset_ns : 0;
}

typedef int (*clock_fn)(clockid_t, struct timespec *);
AGENT_EXPORT int clock_gettime(clockid_t clock, struct timespec *t) {
  static clock_fn real;
  if (!real) real = (clock_fn)next("clock_gettime");
  if (!agent.restarted || !is_cpu_clock(clock)) return real(clock, t);
  clockid_t now = clock_now(clock);
  int r = real(now, t);
  if (r == 0) {
    int64_t ns = (int64_t)t->tv_sec * NS_PER_SEC + t->tv_nsec + used_before(now);
    t->tv_sec = ns / NS_PER_SEC;
    t->tv_nsec = ns % NS_PER_SEC;
  }
  return r;
}

AGENT_EXPORT int clock_getres(clockid_t clock, struct timespec *t) {
  static clock_fn real;
  if (!real) real = (clock_fn)next("clock_getres");
  return real(clock_now(clock), t);
}

typedef int (*timer_create_fn)(clockid_t, struct sigevent *, timer_t *);
AGENT_EXPORT int timer_create(clockid_t clock, struct sigevent *ev, timer_t *timer) {
  static timer_create_fn real;
  if (!real) real = (timer_create_fn)next("timer_create");
  int made;
  if (timer_threads_create(clock, ev, timer, &made)) return made;   /* SIGEV_THREAD after a restart */
  return real(clock_now(clock), ev, timer);
}
