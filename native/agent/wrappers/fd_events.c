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
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "agent.h"

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

AGENT_EXPORT int close(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))next("close");
  if (plugins_loaded()) plugins_close_fd(fd);   /* before: the fd still names what it named */
  return real(fd);
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
