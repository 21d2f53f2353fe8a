/* The descriptor events of DMTCP 5's plugin interface (docs/api.md): a
 * plugin hears of each fd the program closes (DMTCP_EVENT_CLOSE_FD), copies
 * (DUP_FD); the opens and reopens are told from the path wrappers
 * (procfs.c: OPEN_FD, REOPEN_FD). With no plugin loaded each wrapper is one
 * test and a jump to libc's: the program pays nothing it can measure.
 *
 * node-gyp builds with _FILE_OFFSET_BITS=64, under which the headers rename
 * fcntl; each wrapper names its symbol itself. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "agent.h"
#include "encoder_service.h"
#include "raw_syscall.h"
#include <sys/syscall.h>

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* The agent's own descriptors (the coordinator link, a dmtcp.h call's
 * connection, the resident encoder's presence pipe) are not the program's to
 * close: a program that closes every fd it does not know (a daemon, a
 * close_range before exec) would cut the process off the computation. It is
 * told EBADF, as DMTCP 5 tells it. */
static int ours(unsigned fd) {
  if (fd > (unsigned)INT_MAX) return 0;   /* "none" (-1) is nobody's fd */
  return (agent.active && (int)fd == agent.coord_fd) || (int)fd == api_command_fd() ||
         (fd == ENCODER_PRESENCE_FD && agent.config.encoder_socket[0]) || (int)fd == mq_threads_fd();
}

AGENT_EXPORT int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("close");
  if (fd >= 0 && ours((unsigned)fd)) { errno = EBADF; return -1; }
  if (plugins_loaded()) plugins_close_fd(fd);   /* before: the fd still names what it named */
  return real(fd);
}

/* close_range(2) (and closefrom, which glibc makes of it) around our fds: the
 * range is cut into the pieces between them, each passed on with its flags. */
static int close_range_call(unsigned from, unsigned upto, int flags) {
  static int (*real)(unsigned, unsigned, int);
  if (!real) real = (int (*)(unsigned, unsigned, int))next("close_range");
  if (real) return real(from, upto, flags);
  long r = rsys3(SYS_close_range, from, upto, flags);   /* a glibc before 2.34 */
  if (r < 0) { errno = (int)-r; return -1; }
  return 0;
}

int agent_close_range(unsigned first, unsigned last, int flags) {
  const unsigned candidates[] = { (unsigned)agent.coord_fd, (unsigned)api_command_fd(), ENCODER_PRESENCE_FD, (unsigned)mq_threads_fd() };
  unsigned cut[sizeof candidates / sizeof candidates[0]];
  int n = 0;
  for (unsigned i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    unsigned c = candidates[i];
    if (!ours(c) || c < first || c > last) continue;
    int seen = 0;
    for (int k = 0; k < n; k++) seen |= cut[k] == c;
    if (seen) continue;
    int at = n++;   /* kept in order: a few entries, insertion */
    while (at > 0 && cut[at - 1] > c) { cut[at] = cut[at - 1]; at--; }
    cut[at] = c;
  }
  unsigned from = first;
  for (int i = 0; i < n; i++) {   /* our fds are far below ~0U: cut[i] + 1 does not wrap */
    if (cut[i] > from && close_range_call(from, cut[i] - 1, flags) < 0) return -1;
    from = cut[i] + 1;
  }
  if (from <= last && close_range_call(from, last, flags) < 0) return -1;
  return 0;
}

AGENT_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (first > last) { errno = EINVAL; return -1; }
  return agent_close_range(first, last, flags);
}

AGENT_EXPORT void closefrom(int lowfd) {
  if (lowfd < 0) lowfd = 0;
  agent_close_range((unsigned)lowfd, ~0U, 0);
}

AGENT_EXPORT int fclose(FILE *f) {
  static int (*real)(FILE *);
  if (!real) real = (int (*)(FILE *))next("fclose");
  if (plugins_loaded()) plugins_close_fd(fileno(f));
  return real(f);
}

AGENT_EXPORT int closedir(DIR *d) {
  static int (*real)(DIR *);
  if (!real) real = (int (*)(DIR *))next("closedir");
  if (plugins_loaded()) plugins_close_fd(dirfd(d));
  return real(d);
}

AGENT_EXPORT int dup(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("dup");
  int copy = real(fd);
  if (copy >= 0 && plugins_loaded()) plugins_dup_fd(fd, copy);
  return copy;
}

AGENT_EXPORT int dup2(int fd, int to) {
  static int (*real)(int, int);
  if (!real) real = (int (*)(int, int))next("dup2");
  int copy = real(fd, to);
  if (copy >= 0 && copy != fd && plugins_loaded()) plugins_dup_fd(fd, copy);
  return copy;
}

AGENT_EXPORT int dup3(int fd, int to, int flags) {
  static int (*real)(int, int, int);
  if (!real) real = (int (*)(int, int, int))next("dup3");
  int copy = real(fd, to, flags);
  if (copy >= 0 && plugins_loaded()) plugins_dup_fd(fd, copy);
  return copy;
}

/* glibc's fcntl itself reads its third argument as a pointer-sized word
 * whatever the command: passing it on as one is exact for every command. */
#define FCNTL_WRAPPER(cname, symbol)                                         \
  AGENT_EXPORT int cname(int fd, int cmd, ...) __asm__(symbol);              \
  int cname(int fd, int cmd, ...) {                                          \
    static int (*real)(int, int, ...);                                       \
    if (!real) real = (int (*)(int, int, ...))next(symbol);                  \
    va_list ap;                                                              \
    va_start(ap, cmd);                                                       \
    void *arg = va_arg(ap, void *);                                          \
    va_end(ap);                                                              \
    int r = real(fd, cmd, arg);                                              \
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && plugins_loaded()) plugins_dup_fd(fd, r); \
    return r;                                                                \
  }
FCNTL_WRAPPER(wrap_fcntl, "fcntl")
FCNTL_WRAPPER(wrap_fcntl64, "fcntl64")
