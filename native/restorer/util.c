#include "util.h"

/* The compiler may emit calls to these for struct copies and zeroing. */
void *memcpy(void *dst, const void *src, size_t n) { r_memcpy(dst, src, n); return dst; }
void *memset(void *dst, int c, size_t n) { r_memset(dst, c, n); return dst; }

size_t r_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

int r_streq(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

int r_startswith(const char *s, const char *prefix) {
  while (*prefix) if (*s++ != *prefix++) return 0;
  return 1;
}

void r_memcpy(void *dst, const void *src, size_t n) {
  volatile char *d = dst;  /* volatile: keep gcc from turning this loop into memcpy() */
  const char *s = src;
  while (n--) *d++ = *s++;
}

void r_memset(void *dst, int c, size_t n) {
  volatile char *d = dst;
  while (n--) *d++ = (char)c;
}

static int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

uint64_t r_parse_num(const char *s, int base, const char **end) {
  uint64_t v = 0;
  if (base == 16 && s[0] == '0' && s[1] == 'x') s += 2;
  for (;;) {
    int d = digit_value(*s);
    if (d >= base) break;
    v = v * (uint64_t)base + (uint64_t)d;
    s++;
  }
  if (end) *end = s;
  return v;
}

static void put(const char *s) { sys3(NR_write, 2, s, r_strlen(s)); }

void r_say(const char *what, const char *detail, uint64_t hex, int with_hex) {
  char buf[24];
  put("mtcp_restart: ");
  put(what);
  if (detail) { put(" "); put(detail); }
  if (with_hex) {
    int i = 23;
    buf[i] = 0;
    do { buf[--i] = "0123456789abcdef"[hex & 15]; hex >>= 4; } while (hex && i > 2);
    buf[--i] = 'x';
    buf[--i] = '0';
    put(" ");
    put(buf + i);
  }
  put("\n");
}

void (*r_before_fail)(void);

void r_fail(const char *what, const char *detail, uint64_t hex, int with_hex) {
  r_say(what, detail, hex, with_hex);
  if (r_before_fail) r_before_fail();
  sys1(NR_exit_group, FAIL_RC);
  for (;;) {}
}

void r_read_full(int fd, void *buf, uint64_t len, uint64_t off, const char *what) {
  char *p = buf;
  while (len > 0) {
    long n = sys4(NR_pread64, fd, p, len, off);
    if (n <= 0) r_fail(what, 0, off, 1);
    p += n; len -= (uint64_t)n; off += (uint64_t)n;
  }
}
