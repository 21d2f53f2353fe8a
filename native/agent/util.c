/* Signal-safe helpers. The checkpoint thread runs while every other thread is
 * frozen wherever it was, possibly inside malloc or stdio holding their locks, so
 * nothing here allocates, locks, or touches errno through libc. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "../common/raw_syscall.h"

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

void agent_say(const char *msg) {
  char line[1024];
  size_t n = agent_strlcpy(line, "dmtcp: ", sizeof line);
  n += agent_strlcpy(line + n, msg, sizeof line - n);
  if (n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
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
