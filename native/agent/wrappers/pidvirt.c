/* Process, group, session and thread ids as the program first knew them.
 * After a restart the kernel hands out new ids; the program keeps seeing its
 * old ones through these wrappers, and ids it passes in are translated back
 * (pid_table.c for processes, groups and sessions; threads.c for our own
 * threads). glibc's internal calls use the real ids (we keep struct pthread's
 * cached tid real), so both views agree.
 *
 * A call that blocks across a restart (waitpid of one child, say) is
 * restarted by the kernel with the real pid we passed before: the old
 * process's. It fails with ECHILD or ESRCH then; we notice that a restart
 * happened meanwhile and call again with the pid translated anew. */
#include <stdarg.h>
#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"

static long set_errno(long r) {
  if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
  return r;
}

/* kill/wait targets: a pid, -pgid, or 0 / -1 (no translation). */
static pid_t real_target(pid_t pid) {
  if (pid > 0) return pid_real_of_virt(pid);
  if (pid < -1) return -pid_real_of_virt(-pid);
  return pid;
}

static pid_t virt_result(long r) { return r > 0 ? pid_virt_of_real((pid_t)r) : (pid_t)r; }

/* An id read from the kernel and translated: a checkpoint can stop the thread
 * between the two, and a restart then gives the table new real ids, so the
 * old real id we hold translates to nothing (or to someone else). Read again
 * when a restart came in between. */
#define SAME_RESTART(expr) ({ __typeof__(expr) v_; int r_; \
  do { r_ = agent.restarts; v_ = (expr); } while (r_ != agent.restarts); v_; })

AGENT_EXPORT pid_t getpid(void) {
  return agent.virt_pid ? agent.virt_pid : (pid_t)rsys0(SYS_getpid);
}

static pid_t getppid_once(void) {
  pid_t real = (pid_t)rsys0(SYS_getppid);
  pid_t known = pid_virt_of_real(real);
  if (known != real) return known;   /* a parent restarted with us */
  /* The parent we were started or restarted under is still there: the program
   * knows it as virt_ppid (after a restart, dmtcp_restart's parent stands in
   * for the original one). If it has gone, the kernel reparented us: say so as
   * it would. */
  if (agent.parent_real && real == agent.parent_real && agent.virt_ppid) return agent.virt_ppid;
  return real;
}

AGENT_EXPORT pid_t getppid(void) { return SAME_RESTART(getppid_once()); }

static pid_t gettid_once(void) {
  pid_t real = agent_real_gettid();
  return agent.restarted ? threads_virt_of_real(real) : real;
}

AGENT_EXPORT pid_t gettid(void) { return SAME_RESTART(gettid_once()); }

AGENT_EXPORT int kill(pid_t pid, int sig) {
  return (int)set_errno(rsys2(SYS_kill, real_target(pid), sig));
}

/* Reading and writing another process's memory: the pid the program knows. */
AGENT_EXPORT ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                      const struct iovec *remote, unsigned long nremote, unsigned long flags) {
  return set_errno(rsys6(SYS_process_vm_readv, pid_real_of_virt(pid), local, nlocal, remote, nremote, flags));
}

AGENT_EXPORT ssize_t process_vm_writev(pid_t pid, const struct iovec *local, unsigned long nlocal,
                                       const struct iovec *remote, unsigned long nremote, unsigned long flags) {
  return set_errno(rsys6(SYS_process_vm_writev, pid_real_of_virt(pid), local, nlocal, remote, nremote, flags));
}

AGENT_EXPORT int killpg(pid_t pgrp, int sig) {
  if (pgrp < 0) { errno = EINVAL; return -1; }
  return (int)set_errno(rsys2(SYS_kill, pgrp ? -pid_real_of_virt(pgrp) : 0, sig));
}

AGENT_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) {
  pid_t real_tid = agent.restarted ? threads_real_of_virt(tid) : tid;
  return (int)set_errno(rsys3(SYS_tgkill, pid_real_of_virt(tgid), real_tid, sig));
}

/* ---- waiting for children ---- */

static long wait4_virtual(pid_t pid, int *status, int options, struct rusage *ru) {
  long r;
  for (;;) {
    int restarts = agent.restarts;
    r = rsys4(SYS_wait4, real_target(pid), status, options, ru);
    if (r == -ECHILD && agent.restarts != restarts) continue;
    break;
  }
  /* a child reaped (not one that stopped or went on) needs no telling of */
  if (r > 0 && (status ? WIFEXITED(*status) || WIFSIGNALED(*status) : !(options & (WUNTRACED | WCONTINUED))))
    forked_reaped((pid_t)r);
  return set_errno(virt_result(r));
}

AGENT_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  return (pid_t)wait4_virtual(pid, status, options, ru);
}

AGENT_EXPORT pid_t waitpid(pid_t pid, int *status, int options) {
  return (pid_t)wait4_virtual(pid, status, options, 0);
}

AGENT_EXPORT pid_t wait(int *status) { return (pid_t)wait4_virtual(-1, status, 0, 0); }

AGENT_EXPORT pid_t wait3(int *status, int options, struct rusage *ru) {
  return (pid_t)wait4_virtual(-1, status, options, ru);
}

AGENT_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options) {
  long r;
  for (;;) {
    int restarts = agent.restarts;
    id_t real = (type == P_PID || type == P_PGID) ? (id_t)pid_real_of_virt((pid_t)id) : id;
    r = rsys5(SYS_waitid, type, real, info, options, 0);
    if (r == -ECHILD && agent.restarts != restarts) continue;
    break;
  }
  if (r == 0 && info && info->si_pid && !(options & WNOWAIT) &&
      (info->si_code == CLD_EXITED || info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED))
    forked_reaped(info->si_pid);
  if (r == 0 && info && info->si_pid) info->si_pid = pid_virt_of_real(info->si_pid);
  return (int)set_errno(r);
}

/* ---- groups and sessions ---- */

AGENT_EXPORT pid_t getpgid(pid_t pid) {
  return (pid_t)set_errno(SAME_RESTART(virt_result(rsys1(SYS_getpgid, pid ? pid_real_of_virt(pid) : 0))));
}

AGENT_EXPORT pid_t getpgrp(void) { return getpgid(0); }

AGENT_EXPORT pid_t getsid(pid_t pid) {
  return (pid_t)set_errno(SAME_RESTART(virt_result(rsys1(SYS_getsid, pid ? pid_real_of_virt(pid) : 0))));
}

AGENT_EXPORT int setpgid(pid_t pid, pid_t pgid) {
  return (int)set_errno(rsys2(SYS_setpgid, pid ? pid_real_of_virt(pid) : 0, pgid ? pid_real_of_virt(pgid) : 0));
}

AGENT_EXPORT pid_t setsid(void) { return (pid_t)set_errno(virt_result(rsys0(SYS_setsid))); }

AGENT_EXPORT pid_t tcgetpgrp(int fd) {
  pid_t pg = 0;
  long r = rsys3(SYS_ioctl, fd, TIOCGPGRP, &pg);
  return r < 0 ? (pid_t)set_errno(r) : pid_virt_of_real(pg);
}

AGENT_EXPORT int tcsetpgrp(int fd, pid_t pgrp) {
  pid_t real = pid_real_of_virt(pgrp);
  return (int)set_errno(rsys3(SYS_ioctl, fd, TIOCSPGRP, &real));
}

AGENT_EXPORT pid_t tcgetsid(int fd) {
  pid_t sid = 0;
  long r = rsys3(SYS_ioctl, fd, TIOCGSID, &sid);
  return r < 0 ? (pid_t)set_errno(r) : pid_virt_of_real(sid);
}

AGENT_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  switch (number) {
    case SYS_close_range: return agent_close_range((unsigned)a, (unsigned)b, (int)c);   /* not our fds (fd_events.c) */
    case SYS_getpid: return getpid();
    case SYS_getppid: return getppid();
    case SYS_gettid: return gettid();
    case SYS_kill: return kill((pid_t)a, (int)b);
    case SYS_tgkill: return tgkill((pid_t)a, (pid_t)b, (int)c);
    case SYS_tkill:
      return set_errno(rsys2(SYS_tkill, agent.restarted ? threads_real_of_virt((pid_t)a) : a, b));
    case SYS_wait4: return wait4((pid_t)a, (int *)b, (int)c, (struct rusage *)d);
    case SYS_getpgid: return getpgid((pid_t)a);
    case SYS_getsid: return getsid((pid_t)a);
    case SYS_setpgid: return setpgid((pid_t)a, (pid_t)b);
    case SYS_process_vm_readv:
      return process_vm_readv((pid_t)a, (const struct iovec *)b, (unsigned long)c, (const struct iovec *)d, (unsigned long)e, (unsigned long)f);
    case SYS_process_vm_writev:
      return process_vm_writev((pid_t)a, (const struct iovec *)b, (unsigned long)c, (const struct iovec *)d, (unsigned long)e, (unsigned long)f);
    /* calls whose first argument is a pid or tid (pid_args.c) */
    case SYS_sched_setaffinity: case SYS_sched_getaffinity: case SYS_sched_setscheduler:
    case SYS_sched_getscheduler: case SYS_sched_setparam: case SYS_sched_getparam:
    case SYS_sched_rr_get_interval: case SYS_sched_setattr: case SYS_sched_getattr:
    case SYS_prlimit64:
      return set_errno(raw_syscall6(number, agent_real_task((pid_t)a), b, c, d, e, f));
    case SYS_pidfd_open:   /* the process, whose leader is not its main thread after a restart */
      return set_errno(raw_syscall6(number, a > 0 ? pid_real_of_virt((pid_t)a) : a, b, c, d, e, f));
    /* (which, who): a process, a group, or a user (the same numbers for ioprio) */
    case SYS_getpriority: case SYS_setpriority: case SYS_ioprio_get: case SYS_ioprio_set:
      return set_errno(raw_syscall6(number, a, a == PRIO_PROCESS || a == PRIO_PGRP ? agent_real_task((pid_t)b) : b, c, d, e, f));
    default: return set_errno(raw_syscall6(number, a, b, c, d, e, f));
  }
}
