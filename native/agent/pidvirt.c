/* Process and thread ids as the program first knew them. After a restart the
 * kernel hands out new ids; the program keeps seeing its old ones through these
 * wrappers, and ids it passes in are translated back. glibc's internal calls use
 * the real ids (we keep struct pthread's cached tid real), so both views agree. */
#include <stdarg.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include "agent.h"
#include "../common/raw_syscall.h"

static pid_t real_pid_of(pid_t pid) {
  if (agent.restarted && pid == agent.virt_pid) return agent.real_pid;
  return pid;
}

static long set_errno(long r) {
  if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
  return r;
}

AGENT_EXPORT pid_t getpid(void) {
  return agent.virt_pid ? agent.virt_pid : (pid_t)rsys0(SYS_getpid);
}

AGENT_EXPORT pid_t getppid(void) {
  /* After a restart our parent is whoever ran dmtcp_restart: keep the old one. */
  if (!agent.restarted && !agent.ppid_virtual) return (pid_t)rsys0(SYS_getppid);
  /* If the parent we knew has gone, the kernel reparented us: say so as it would. */
  pid_t real = (pid_t)rsys0(SYS_getppid);
  return real == 1 ? 1 : agent.virt_ppid;
}

AGENT_EXPORT pid_t gettid(void) {
  pid_t real = agent_real_gettid();
  return agent.restarted ? threads_virt_of_real(real) : real;
}

AGENT_EXPORT int kill(pid_t pid, int sig) {
  return (int)set_errno(rsys2(SYS_kill, real_pid_of(pid), sig));
}

AGENT_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) {
  pid_t real_tid = agent.restarted ? threads_real_of_virt(tid) : tid;
  return (int)set_errno(rsys3(SYS_tgkill, real_pid_of(tgid), real_tid, sig));
}

AGENT_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
  long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
  va_end(ap);
  switch (number) {
    case SYS_getpid: return getpid();
    case SYS_getppid: return getppid();
    case SYS_gettid: return gettid();
    case SYS_kill: return kill((pid_t)a, (int)b);
    case SYS_tgkill: return tgkill((pid_t)a, (pid_t)b, (int)c);
    case SYS_tkill:
      return set_errno(rsys2(SYS_tkill, agent.restarted ? threads_real_of_virt((pid_t)a) : a, b));
    default: return set_errno(raw_syscall6(number, a, b, c, d, e, f));
  }
}
