/* /proc paths of the pids the program knows. After a restart /proc/<pid> of
 * a virtual pid names another process or none; the calls below that take a
 * path rewrite "/proc/<virtual pid>" to the real pid (and, in our own
 * process, "/proc/<pid>/task/<virtual tid>" to the real tid) before libc sees
 * it. /proc/self needs nothing. Before any restart every pid is real and the
 * path is passed on untouched. Only paths the program gives: libc's own opens
 * do not come through here.
 *
 * node-gyp builds with _FILE_OFFSET_BITS=64, under which the headers rename
 * open to open64 and so on; each wrapper therefore names its symbol itself
 * (programs call both, and on x86_64 both are the same call). */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* The number at p, with its end in *end; -1 when p is no number. */
static long number_at(const char *p, const char **end) {
  if (*p < '0' || *p > '9') return -1;
  long v = (long)agent_parse_u64(p, 10, end);
  return (**end == '/' || **end == 0) ? v : -1;
}

/* Whether path starts with "/proc/", read without faulting: a program may pass
 * a bad pointer and expect EFAULT from the call (DMTCP's stat test does), so
 * its first bytes are copied by the kernel, which answers EFAULT instead. */
static int names_proc(const char *path) {
  char head[6];
  struct iovec local = { head, sizeof head }, remote = { (void *)path, sizeof head };
  if (rsys6(SYS_process_vm_readv, agent.real_pid, &local, 1, &remote, 1, 0) != (long)sizeof head) {
    /* a path shorter than six bytes at the end of a mapping: byte by byte */
    for (size_t i = 0; i < sizeof head; i++) {
      struct iovec l1 = { head + i, 1 }, r1 = { (void *)(path + i), 1 };
      if (rsys6(SYS_process_vm_readv, agent.real_pid, &l1, 1, &r1, 1, 0) != 1 || !head[i]) return 0;
    }
  }
  return !memcmp(head, "/proc/", sizeof head);
}

static const char *proc_path(const char *path, char *buf, size_t size) {
  /* before any restart and with no pid of another host, every pid is real: not a byte read */
  if (!path || (!agent.restarted && !agent.npids) || !names_proc(path)) return path;
  const char *end;
  long vpid = number_at(path + 6, &end);
  if (vpid <= 0) return path;
  pid_t real = pid_real_of_virt((pid_t)vpid);
  const char *rest = end;
  long vtid = -1;
  const char *tid_end = 0;
  if (real == agent.real_pid && !strncmp(rest, "/task/", 6)) vtid = number_at(rest + 6, &tid_end);
  pid_t real_tid = vtid > 0 ? threads_real_of_virt((pid_t)vtid) : 0;
  if (real == vpid && (vtid <= 0 || real_tid == vtid)) return path;
  char *e = buf + agent_strlcpy(buf, "/proc/", size);
  e = agent_fmt_u64(e, (uint64_t)real, 10);
  if (vtid > 0) {
    e += agent_strlcpy(e, "/task/", size - (size_t)(e - buf));
    e = agent_fmt_u64(e, (uint64_t)real_tid, 10);
    rest = tid_end;
  }
  if (strlen(rest) + 1 > size - (size_t)(e - buf)) return path;
  agent_strlcpy(e, rest, size - (size_t)(e - buf));
  return buf;
}

#define PAGE_BYTES 4096

/* Copies the string at `path` into buf (size bytes) through the kernel, so a
 * bad pointer gives 0 instead of a crash; 1 when a whole string came. The
 * remote side is cut at page ends: the kernel does not split an iovec. */
static int copy_path(const char *path, char *buf, size_t size) {
  struct iovec local = { buf, size - 1 }, remote[PATH_MAX / PAGE_BYTES + 2];
  int n = 0;
  for (uintptr_t at = (uintptr_t)path, end = at + size - 1; at < end && n < (int)(sizeof remote / sizeof remote[0]); n++) {
    uintptr_t next = (at / PAGE_BYTES + 1) * PAGE_BYTES;
    if (next > end) next = end;
    remote[n].iov_base = (void *)at;
    remote[n].iov_len = next - at;
    at = next;
  }
  long got = rsys6(SYS_process_vm_readv, agent.real_pid, &local, 1, remote, n, 0);
  if (got <= 0) return 0;
  buf[got] = 0;
  return memchr(buf, 0, (size_t)got) != 0;
}

/* The path the kernel gets: /proc pids made real, then what the plugins make
 * of it (DMTCP_EVENT_VIRTUAL_TO_REAL_PATH). `buf` holds PATH_MAX bytes. */
static const char *real_path(const char *path, char *buf, size_t size) {
  const char *p = proc_path(path, buf, size);
  if (!p || !plugins_loaded() || agent.suspended) return p;
  if (p != buf && !copy_path(p, buf, size)) return p;   /* a bad pointer: the kernel says EFAULT */
  plugins_translate_path(DMTCP_EVENT_VIRTUAL_TO_REAL_PATH, buf);
  return buf;
}

/* An answer of the kernel's (readlink) as the plugins would have the program see it. */
static ssize_t virtual_answer(ssize_t len, char *out, size_t size) {
  if (len < 0 || !plugins_loaded()) return len;
  char path[PATH_MAX];
  size_t n = (size_t)len < sizeof path - 1 ? (size_t)len : sizeof path - 1;
  memcpy(path, out, n);
  path[n] = 0;
  plugins_translate_path(DMTCP_EVENT_REAL_TO_VIRTUAL_PATH, path);
  n = strlen(path);
  if (n > size) n = size;   /* readlink truncates, with no NUL */
  memcpy(out, path, n);
  return (ssize_t)n;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(cname, symbol)                                          \
  AGENT_EXPORT int cname(const char *path, int flags, ...) __asm__(symbol);  \
  int cname(const char *path, int flags, ...) {                              \
    static int (*real)(const char *, int, ...);                              \
    if (!real) real = (int (*)(const char *, int, ...))next(symbol);         \
    va_list ap;                                                              \
    va_start(ap, flags);                                                     \
    mode_t mode = mode_arg(flags, ap);                                       \
    va_end(ap);                                                              \
    char buf[PATH_MAX];                                                      \
    int fd = real(real_path(path, buf, sizeof buf), flags, mode);            \
    if (fd >= 0 && plugins_loaded()) plugins_open_fd(fd, path, flags, mode);  \
    return fd;                                                               \
  }
OPEN_WRAPPER(wrap_open, "open")
OPEN_WRAPPER(wrap_open64, "open64")

#define OPENAT_WRAPPER(cname, symbol)                                        \
  AGENT_EXPORT int cname(int dir, const char *path, int flags, ...) __asm__(symbol); \
  int cname(int dir, const char *path, int flags, ...) {                     \
    static int (*real)(int, const char *, int, ...);                         \
    if (!real) real = (int (*)(int, const char *, int, ...))next(symbol);    \
    va_list ap;                                                              \
    va_start(ap, flags);                                                     \
    mode_t mode = mode_arg(flags, ap);                                       \
    va_end(ap);                                                              \
    char buf[PATH_MAX];                                                      \
    int fd = real(dir, real_path(path, buf, sizeof buf), flags, mode);       \
    if (fd >= 0 && plugins_loaded()) plugins_open_fd(fd, path, flags, mode);  \
    return fd;                                                               \
  }
OPENAT_WRAPPER(wrap_openat, "openat")
OPENAT_WRAPPER(wrap_openat64, "openat64")

#define FOPEN_WRAPPER(cname, symbol)                                         \
  AGENT_EXPORT FILE *cname(const char *path, const char *mode) __asm__(symbol); \
  FILE *cname(const char *path, const char *mode) {                          \
    static FILE *(*real)(const char *, const char *);                        \
    if (!real) real = (FILE * (*)(const char *, const char *)) next(symbol); \
    char buf[PATH_MAX];                                                      \
    FILE *f = real(real_path(path, buf, sizeof buf), mode);                  \
    if (f && plugins_loaded()) plugins_open_fd(fileno(f), path, -1, (mode_t)-1); \
    return f;                                                                \
  }
FOPEN_WRAPPER(wrap_fopen, "fopen")
FOPEN_WRAPPER(wrap_fopen64, "fopen64")

#define FREOPEN_WRAPPER(cname, symbol)                                       \
  AGENT_EXPORT FILE *cname(const char *path, const char *mode, FILE *f) __asm__(symbol); \
  FILE *cname(const char *path, const char *mode, FILE *f) {                 \
    static FILE *(*real)(const char *, const char *, FILE *);                \
    if (!real) real = (FILE * (*)(const char *, const char *, FILE *)) next(symbol); \
    char buf[PATH_MAX];                                                      \
    FILE *r = real(path ? real_path(path, buf, sizeof buf) : 0, mode, f);    \
    if (r && path && plugins_loaded()) plugins_reopen_fd(fileno(r), path, -1); \
    return r;                                                                \
  }
FREOPEN_WRAPPER(wrap_freopen, "freopen")
FREOPEN_WRAPPER(wrap_freopen64, "freopen64")

AGENT_EXPORT DIR *opendir(const char *path) {
  static DIR *(*real)(const char *);
  if (!real) real = (DIR * (*)(const char *)) next("opendir");
  char buf[PATH_MAX];
  DIR *d = real(real_path(path, buf, sizeof buf));
  if (d && plugins_loaded()) plugins_open_fd(dirfd(d), path, O_RDONLY | O_DIRECTORY, 0);
  return d;
}

/* After a restart the kernel's /proc/self/exe names the restorer (a memfd):
 * a link to our own exe is answered with the program it named at the start
 * (node's process.execPath, a program finding its install folder). 1 and
 * the answer in *len when `path` is such a link. */
static int own_exe(const char *path, char *out, size_t size, ssize_t *len) {
  if (!agent.restarted || !agent.exe_path[0] || !path || !names_proc(path)) return 0;
  const char *rest = path + 6, *end;
  if (!strncmp(rest, "self/", 5)) rest += 5;
  else if (!strncmp(rest, "thread-self/", 12)) rest += 12;
  else {
    long pid = number_at(rest, &end);
    if ((pid != agent.virt_pid && pid != agent.real_pid) || *end != '/') return 0;
    rest = end + 1;
  }
  if (strcmp(rest, "exe")) return 0;
  size_t n = strlen(agent.exe_path);
  if (n > size) n = size;   /* readlink truncates and does not end with a NUL */
  memcpy(out, agent.exe_path, n);
  *len = (ssize_t)n;
  return 1;
}

AGENT_EXPORT ssize_t readlink(const char *path, char *out, size_t size) {
  static ssize_t (*real)(const char *, char *, size_t);
  if (!real) real = (ssize_t (*)(const char *, char *, size_t))next("readlink");
  ssize_t len;
  if (own_exe(path, out, size, &len)) return len;
  char buf[PATH_MAX];
  return virtual_answer(real(real_path(path, buf, sizeof buf), out, size), out, size);
}

AGENT_EXPORT int access(const char *path, int mode) {
  static int (*real)(const char *, int);
  if (!real) real = (int (*)(const char *, int))next("access");
  char buf[PATH_MAX];
  return real(real_path(path, buf, sizeof buf), mode);
}

#define STAT_WRAPPER(cname, symbol)                                          \
  AGENT_EXPORT int cname(const char *path, struct stat *st) __asm__(symbol); \
  int cname(const char *path, struct stat *st) {                             \
    static int (*real)(const char *, struct stat *);                         \
    if (!real) real = (int (*)(const char *, struct stat *))next(symbol);    \
    char buf[PATH_MAX];                                                      \
    return real(real_path(path, buf, sizeof buf), st);                       \
  }
STAT_WRAPPER(wrap_stat, "stat")
STAT_WRAPPER(wrap_stat64, "stat64")
STAT_WRAPPER(wrap_lstat, "lstat")
STAT_WRAPPER(wrap_lstat64, "lstat64")

/* The *at forms, for an absolute /proc path (a relative one is left alone:
 * its meaning depends on the directory fd), and statx (coreutils, ls). */
#define FSTATAT_WRAPPER(cname, symbol)                                                     \
  AGENT_EXPORT int cname(int dir, const char *path, struct stat *st, int flags) __asm__(symbol); \
  int cname(int dir, const char *path, struct stat *st, int flags) {                       \
    static int (*real)(int, const char *, struct stat *, int);                             \
    if (!real) real = (int (*)(int, const char *, struct stat *, int))next(symbol);        \
    char buf[PATH_MAX];                                                                    \
    return real(dir, real_path(path, buf, sizeof buf), st, flags);                         \
  }
FSTATAT_WRAPPER(wrap_fstatat, "fstatat")
FSTATAT_WRAPPER(wrap_fstatat64, "fstatat64")

struct statx;
AGENT_EXPORT int statx(int dir, const char *path, int flags, unsigned mask, struct statx *out) {
  static int (*real)(int, const char *, int, unsigned, struct statx *);
  if (!real) real = (int (*)(int, const char *, int, unsigned, struct statx *))next("statx");
  char buf[PATH_MAX];
  return real(dir, real_path(path, buf, sizeof buf), flags, mask, out);
}

AGENT_EXPORT int faccessat(int dir, const char *path, int mode, int flags) {
  static int (*real)(int, const char *, int, int);
  if (!real) real = (int (*)(int, const char *, int, int))next("faccessat");
  char buf[PATH_MAX];
  return real(dir, real_path(path, buf, sizeof buf), mode, flags);
}

AGENT_EXPORT ssize_t readlinkat(int dir, const char *path, char *out, size_t size) {
  static ssize_t (*real)(int, const char *, char *, size_t);
  if (!real) real = (ssize_t (*)(int, const char *, char *, size_t))next("readlinkat");
  ssize_t len;
  if (own_exe(path, out, size, &len)) return len;   /* absolute: the directory fd plays no part */
  char buf[PATH_MAX];
  return virtual_answer(real(dir, real_path(path, buf, sizeof buf), out, size), out, size);
}

/* Programs built against glibc before 2.33 call these instead of stat. */
#define XSTAT_WRAPPER(cname, symbol)                                                     \
  AGENT_EXPORT int cname(int ver, const char *path, struct stat *st) __asm__(symbol);    \
  int cname(int ver, const char *path, struct stat *st) {                                \
    static int (*real)(int, const char *, struct stat *);                                \
    if (!real) real = (int (*)(int, const char *, struct stat *))next(symbol);           \
    char buf[PATH_MAX];                                                                  \
    return real(ver, real_path(path, buf, sizeof buf), st);                              \
  }
XSTAT_WRAPPER(wrap_xstat, "__xstat")
XSTAT_WRAPPER(wrap_xstat64, "__xstat64")
XSTAT_WRAPPER(wrap_lxstat, "__lxstat")
XSTAT_WRAPPER(wrap_lxstat64, "__lxstat64")
