/* Signal-safe helpers. The checkpoint thread runs while every other thread is
 * frozen wherever it was, possibly inside malloc or stdio holding their locks, so
 * nothing here allocates, locks, or touches errno through libc. */
#include <link.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <string.h>
#include "agent.h"
#include "raw_syscall.h"

long agent_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  size_t left = len;
  while (left > 0) {
    long n = rsys3(SYS_write, fd, p, left);
    if (n == -EINTR) continue;
    if (n < 0) return n;
    p += n;
    left -= (size_t)n;
  }
  return (long)len;
}

static size_t agent_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

/* Between SUSPEND and the CHECKPOINT barrier the election may have moved the
 * offset of a file shared as stderr (fd_share.c), and puts back the offset
 * saved at SUSPEND: a line written meanwhile would be overwritten. Such lines
 * wait here and are written once the offsets are back. */
#define SAY_HELD_MAX 8192
static char held[SAY_HELD_MAX];
static size_t held_len;
static int holding;

void agent_say_hold(void) { holding = 1; }

void agent_say_release(void) {
  holding = 0;
  if (held_len) agent_write_all(2, held, held_len);
  held_len = 0;
}

/* -q -q (DMTCP_QUIET=2): the agent's warnings are not written; its errors are. */
#define QUIET_WARNINGS 2

static void say_line(const char *msg);

void agent_say(const char *msg) {
  if (agent.config.quiet >= QUIET_WARNINGS) return;
  say_line(msg);
}

void agent_say_error(const char *msg) { say_line(msg); }

static void say_line(const char *msg) {
  char line[1024];
  size_t n = agent_strlcpy(line, "dmtcp: ", sizeof line);
  n += agent_strlcpy(line + n, msg, sizeof line - n);
  if (n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  if (holding) {
    if (held_len + n <= sizeof held) { memcpy(held + held_len, line, n); held_len += n; }
    return;
  }
  agent_write_all(2, line, n);
}

size_t agent_strlcpy(char *dst, const char *src, size_t size) {
  size_t n = agent_strlen(src);
  if (size) {
    size_t c = n < size - 1 ? n : size - 1;
    for (size_t i = 0; i < c; i++) dst[i] = src[i];
    dst[c] = 0;
    return c;
  }
  return 0;
}

char *agent_fmt_u64(char *dst, uint64_t v, int base) {
  char tmp[24];
  int i = 0;
  do { tmp[i++] = "0123456789abcdef"[v % (unsigned)base]; v /= (unsigned)base; } while (v);
  while (i) *dst++ = tmp[--i];
  *dst = 0;
  return dst;
}

uint64_t agent_parse_u64(const char *s, int base, const char **end) {
  uint64_t v = 0;
  if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
  for (;; s++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
    else break;
    if (d >= base) break;
    v = v * (uint64_t)base + (uint64_t)d;
  }
  if (end) *end = s;
  return v;
}

uint64_t agent_get_fs_base(void) {
  uint64_t base = 0;
  rsys2(SYS_arch_prctl, ARCH_GET_FS, &base);
  return base;
}

void agent_set_fs_base(uint64_t base) { rsys2(SYS_arch_prctl, ARCH_SET_FS, base); }

void agent_futex_wait(volatile int *addr, int expected, long timeout_ms) {
  struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
  rsys4(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, timeout_ms >= 0 ? &ts : 0);
}

void agent_futex_wake(volatile int *addr) { rsys3(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT32_MAX); }

void agent_futex_wait_shared(volatile uint32_t *addr, uint32_t expected, long timeout_ms) {
  struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
  rsys4(SYS_futex, addr, FUTEX_WAIT, expected, timeout_ms >= 0 ? &ts : 0);
}

void agent_futex_wake_shared(volatile uint32_t *addr) { rsys3(SYS_futex, addr, FUTEX_WAKE, INT32_MAX); }

pid_t agent_real_gettid(void) { return (pid_t)rsys0(SYS_gettid); }

int agent_read_file(const char *path, char *buf, size_t size) {
  int fd = (int)rsys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return fd;
  size_t used = 0;
  for (;;) {
    long n = rsys3(SYS_read, fd, buf + used, size - 1 - used);
    if (n == -EINTR) continue;
    if (n < 0) { rsys1(SYS_close, fd); return (int)n; }
    if (n == 0) break;
    used += (size_t)n;
    if (used == size - 1) break;
  }
  rsys1(SYS_close, fd);
  buf[used] = 0;
  return (int)used;
}

uint64_t agent_status_hex(const char *status, const char *field) {
  const char *p = strstr(status, field);
  if (!p) return 0;
  p += strlen(field);
  while (*p == ' ' || *p == '\t') p++;
  return agent_parse_u64(p, 16, 0);
}

void agent_task_path(char *out, size_t size, int tid, const char *leaf) {
  char *e = out + agent_strlcpy(out, "/proc/self/task/", size);
  e = agent_fmt_u64(e, (uint64_t)tid, 10);
  e += agent_strlcpy(e, "/", size - (size_t)(e - out));
  agent_strlcpy(e, leaf, size - (size_t)(e - out));
}

/* The loaded object that holds addr: its load address and file name. dladdr
 * would do, but it searches the object's symbols one by one: slow enough to
 * show in every exec. */
struct object_query { uintptr_t addr; struct agent_object *out; int found; };

static int object_walk(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct object_query *q = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type != PT_LOAD || q->addr < lo || q->addr >= lo + ph->p_memsz) continue;
    q->out->base = info->dlpi_addr;
    q->out->name = info->dlpi_name;
    q->found = 1;
    return 1;
  }
  return 0;
}

int agent_object_of(const void *addr, struct agent_object *out) {
  struct object_query q = { (uintptr_t)addr, out, 0 };
  if (addr) dl_iterate_phdr(object_walk, &q);
  return q.found;
}

/* The program's path, read from /proc/self/exe once per program (before any
 * restart: after one, the kernel would name the restorer). */
const char *agent_program_path(void) {
  if (!agent.exe_path[0]) {
    long n = rsys3(SYS_readlink, "/proc/self/exe", agent.exe_path, sizeof agent.exe_path - 1);
    agent.exe_path[n > 0 ? n : 0] = 0;
  }
  return agent.exe_path;
}

int agent_each_numbered(const char *dir_path, void (*each)(int n, int dir, void *ctx), void *ctx) {
  char buf[4096];
  int dir = (int)rsys3(SYS_open, dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return dir;
  for (;;) {
    long got = rsys3(SYS_getdents64, dir, buf, sizeof buf);
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] >= '0' && d->d_name[0] <= '9') each((int)agent_parse_u64(d->d_name, 10, 0), dir, ctx);
    }
  }
  rsys1(SYS_close, dir);
  return 0;
}
