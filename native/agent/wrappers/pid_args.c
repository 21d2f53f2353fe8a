/* Calls that name a process or thread by pid or tid take the ones the
 * program knows (virtual: the pid and tids it had at launch): each is given
 * the kernel's pid or tid of now before glibc sees it. The pid names the
 * main thread for the per-thread calls (affinity, scheduling, priority), as
 * on Linux. 0 (the caller) and
 * negative values pass untouched. Their syscall() forms go through the same
 * translation (pidvirt.c). */
#include <dlfcn.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "agent.h"

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

pid_t agent_real_task(pid_t id) {
  if (id <= 0 || (!agent.restarted && !agent.npids)) return id;
  int tid = threads_real_of_virt(id);   /* a thread of ours (the main one's tid is the pid) */
  return tid != id ? tid : pid_real_of_virt(id);
}

/* getpriority/setpriority name a process or a group (by pid or pgid) or a user. */
static id_t real_who(int which, id_t who) {
  return which == PRIO_PROCESS || which == PRIO_PGRP ? (id_t)agent_real_task((pid_t)who) : who;
}

#define TASK_CALL(ret, name, params, args)           \
  AGENT_EXPORT ret name params {                     \
    static ret (*real) params;                       \
    if (!real) real = (ret (*) params)next(#name);   \
    pid = agent_real_task(pid);                      \
    return real args;                                \
  }
TASK_CALL(int, sched_setaffinity, (pid_t pid, size_t size, const cpu_set_t *set), (pid, size, set))
TASK_CALL(int, sched_getaffinity, (pid_t pid, size_t size, cpu_set_t *set), (pid, size, set))
TASK_CALL(int, sched_setscheduler, (pid_t pid, int policy, const struct sched_param *p), (pid, policy, p))
TASK_CALL(int, sched_getscheduler, (pid_t pid), (pid))
TASK_CALL(int, sched_setparam, (pid_t pid, const struct sched_param *p), (pid, p))
TASK_CALL(int, sched_getparam, (pid_t pid, struct sched_param *p), (pid, p))
TASK_CALL(int, sched_rr_get_interval, (pid_t pid, struct timespec *t), (pid, t))

/* node-gyp builds with _FILE_OFFSET_BITS=64, under which the headers rename
 * prlimit to prlimit64: each wrapper names its symbol itself (the same call
 * on x86_64). */
#define PRLIMIT_CALL(cname, symbol)                                                      \
  AGENT_EXPORT int cname(pid_t pid, int resource, const void *value, void *old) __asm__(symbol); \
  int cname(pid_t pid, int resource, const void *value, void *old) {                     \
    static int (*real)(pid_t, int, const void *, void *);                                \
    if (!real) real = (int (*)(pid_t, int, const void *, void *))next(symbol);           \
    return real(agent_real_task(pid), resource, value, old);                             \
  }
PRLIMIT_CALL(wrap_prlimit, "prlimit")
PRLIMIT_CALL(wrap_prlimit64, "prlimit64")

AGENT_EXPORT int getpriority(__priority_which_t which, id_t who) {
  static int (*real)(__priority_which_t, id_t);
  if (!real) real = (int (*)(__priority_which_t, id_t))next("getpriority");
  return real(which, real_who(which, who));
}

AGENT_EXPORT int setpriority(__priority_which_t which, id_t who, int prio) {
  static int (*real)(__priority_which_t, id_t, int);
  if (!real) real = (int (*)(__priority_which_t, id_t, int))next("setpriority");
  return real(which, real_who(which, who), prio);
}

/* A pidfd names a process: the process's pid of now, not its main thread's
 * tid (the same after a restart, unless the main thread had ended: then the
 * agent's checkpoint thread leads the thread group, restore_entry.c). */
AGENT_EXPORT int pidfd_open(pid_t pid, unsigned flags) {
  static int (*real)(pid_t, unsigned);
  if (!real) real = (int (*)(pid_t, unsigned))next("pidfd_open");
  return real(pid > 0 ? pid_real_of_virt(pid) : pid, flags);
}
