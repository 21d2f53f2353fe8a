/* POSIX timers (timer_create) and interval timers (setitimer, alarm): kernel
 * state of the process that memory does not carry.
 *
 * Capture, at the checkpoint: each POSIX timer's id, clock, notification
 * (signal and sigev_value, or the thread it signals) from /proc/self/timers,
 * its time left and period from timer_gettime; the three interval timers
 * from getitimer. Restore, once the threads exist again: every timer made
 * again with its old id (PR_TIMER_CREATE_RESTORE_IDS; on kernels without it,
 * by taking the ids in order), armed for the time that was left: the time the
 * computation was down does not count, as for timerfd (docs/event-fds.md).
 * A program's timer_t keeps working, being the kernel's id (or glibc's
 * record of it). glibc's SIGEV_THREAD timers signal a helper thread of glibc's
 * that never comes back: one of ours takes its place (timer_threads.c). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define NS_PER_S 1000000000LL
#define US_PER_S 1000000LL
#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
#define NOTIFY_SIGNAL 0      /* SIGEV_SIGNAL */
#define NOTIFY_NONE 1        /* SIGEV_NONE */
#define NOTIFY_THREAD_ID 4   /* SIGEV_THREAD_ID */
#define ID_SEARCH_MAX 4096   /* without the prctl: ids taken in order up to this */
#define GLIBC_SIGTIMER 32    /* the signal of glibc's SIGEV_THREAD timers */

/* The kernel's struct sigevent (64 bytes). */
struct kernel_sigevent { uint64_t value; int signo, notify; int tid; int pad[11]; };
struct kernel_itimerspec { struct timespec interval, value; };
struct kernel_itimerval { struct timeval interval, value; };

static int64_t ns_of(const struct timespec *t) { return (int64_t)t->tv_sec * NS_PER_S + t->tv_nsec; }
static struct timespec ts_of(int64_t ns) { struct timespec t = { ns / NS_PER_S, ns % NS_PER_S }; return t; }

/* "ID: 1\nsignal: 14/0000000000000000\nnotify: signal/pid.17531\nClockID: 0\n" per timer */
static void save_posix_timers(void) {
  static char text[64 * 1024];
  agent.ntimers = 0;
  if (agent_read_file("/proc/self/timers", text, sizeof text) <= 0) return;
  for (const char *p = strstr(text, "ID: "); p && agent.ntimers < AGENT_MAX_TIMERS; p = strstr(p + 4, "ID: ")) {
    struct timer_record *t = &agent.timers[agent.ntimers];
    memset(t, 0, sizeof *t);
    t->id = (int)agent_parse_u64(p + 4, 10, 0);
    const char *sig = strstr(p, "signal: "), *notify = strstr(p, "notify: "), *clock = strstr(p, "ClockID: ");
    if (!sig || !notify || !clock) break;
    const char *e;
    t->signo = (int)agent_parse_u64(sig + 8, 10, &e);
    if (*e == '/') t->value = agent_parse_u64(e + 1, 16, 0);
    notify += 8;
    /* "signal/pid.N", "none/pid.N", or "signal/tid.N" for SIGEV_THREAD_ID (the
     * kernel prints the kind, then whom: a thread's tid or the process's pid) */
    const char *eol = strchr(notify, '\n'), *whom = strchr(notify, '/');
    int to_thread = whom && (!eol || whom < eol) && !strncmp(whom, "/tid.", 5);
    t->notify = to_thread ? NOTIFY_THREAD_ID : !strncmp(notify, "none", 4) ? NOTIFY_NONE : NOTIFY_SIGNAL;
    const char *dot = strchr(notify, '.');
    if (t->notify == NOTIFY_THREAD_ID && dot) t->thread_virt = threads_virt_of_real((int)agent_parse_u64(dot + 1, 10, 0));
    t->clock = (int)agent_parse_u64(clock + 9, 10, 0);
    struct kernel_itimerspec now;
    if (rsys2(SYS_timer_gettime, t->id, &now) < 0) continue;
    t->value_ns = ns_of(&now.value);
    t->interval_ns = ns_of(&now.interval);
    agent.ntimers++;
  }
}

void timers_save(void) {
  save_posix_timers();
  for (int which = 0; which < 3; which++) {
    struct kernel_itimerval v;
    memset(&v, 0, sizeof v);
    rsys2(SYS_getitimer, which, &v);
    agent.itimers[which].value_us = (int64_t)v.value.tv_sec * US_PER_S + v.value.tv_usec;
    agent.itimers[which].interval_us = (int64_t)v.interval.tv_sec * US_PER_S + v.interval.tv_usec;
  }
}

static long create(const struct timer_record *t, int *id) {
  struct kernel_sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.value = t->value;
  ev.signo = t->signo;
  ev.notify = t->notify;
  if (t->notify == NOTIFY_THREAD_ID) ev.tid = threads_real_of_virt(t->thread_virt);
  /* glibc's SIGEV_THREAD timer: its helper thread does not come back, ours
   * takes the signal (timer_threads.c) */
  if (t->notify == NOTIFY_THREAD_ID && t->signo == GLIBC_SIGTIMER && timer_threads_is_glibc(t->value, t->id)) {
    int helper = timer_threads_helper();
    if (helper > 0) ev.tid = helper;
  }
  return rsys3(SYS_timer_create, agent_clock_now(t->clock), &ev, id);   /* a CPU-time clock names its thread by tid */
}

/* A kernel without PR_TIMER_CREATE_RESTORE_IDS hands out ids in order: take
 * them until the wanted one comes, and give back the ones in between. */
static long create_in_order(const struct timer_record *t) {
  int spare[64], nspare = 0;
  for (int tries = 0; tries < ID_SEARCH_MAX; tries++) {
    int id = -1;
    long r = create(t, &id);
    if (r < 0) return r;
    if (id == t->id) break;
    if (nspare == (int)(sizeof spare / sizeof spare[0])) { rsys1(SYS_timer_delete, id); continue; }
    spare[nspare++] = id;
    if (id > t->id) { rsys1(SYS_timer_delete, id); nspare--; return -EEXIST; }
  }
  while (nspare) rsys1(SYS_timer_delete, spare[--nspare]);
  return 0;
}

static void say_timer(const struct timer_record *t, const char *what) {
  char line[128], *e = line + agent_strlcpy(line, "timer ", sizeof line);
  e = agent_fmt_u64(e, (uint64_t)t->id, 10);
  agent_strlcpy(e, what, sizeof line - (size_t)(e - line));
  agent_say(line);
}

void timers_restore(void) {
  int by_id = rsys5(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0) == 0;
  for (int i = 0; i < agent.ntimers; i++) {
    const struct timer_record *t = &agent.timers[i];
    int id = t->id;
    long r = by_id ? create(t, &id) : create_in_order(t);
    if (r < 0 || id != t->id) {
      /* with the errno (EBUSY: the id is taken already) and the way it was made, for a report */
      char why[128], *e = why + agent_strlcpy(why, ": could not be made again with its id (errno ", sizeof why);
      e = agent_fmt_u64(e, (uint64_t)(r < 0 ? -r : 0), 10);
      agent_strlcpy(e, by_id ? ", by id); the program's timer_t no longer works" : ", in order); the program's timer_t no longer works",
                    sizeof why - (size_t)(e - why));
      say_timer(t, why);
      continue;
    }
    if (!t->value_ns) continue;   /* disarmed */
    struct kernel_itimerspec spec = { ts_of(t->interval_ns), ts_of(t->value_ns) };
    if (rsys4(SYS_timer_settime, id, 0, &spec, 0) < 0) say_timer(t, ": could not be armed again");
  }
  if (by_id) rsys5(SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0);
  for (int which = 0; which < 3; which++) {
    const struct itimer_record *v = &agent.itimers[which];
    if (!v->value_us) continue;
    struct kernel_itimerval k = {
      { v->interval_us / US_PER_S, v->interval_us % US_PER_S }, { v->value_us / US_PER_S, v->value_us % US_PER_S },
    };
    rsys3(SYS_setitimer, which, &k, 0);
  }
}
