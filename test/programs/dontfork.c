/* dontfork libc|raw: 8 MiB of pseudo-random bytes in an area marked
 * MADV_DONTFORK (a fork's copy lacks it), through libc's madvise or the raw
 * system call. Every 100 ms it checks its checksum and a counter and prints
 *   tick <n> ok|BAD
 * A forked image writer could not save the area: the checkpoint must be
 * written by the process itself, whole. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LEN (8UL << 20)

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

int main(int argc, char **argv) {
  int raw = argc > 1 && !strcmp(argv[1], "raw");
  setvbuf(stdout, 0, _IOLBF, 0);
  unsigned char *p = mmap(0, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 1;
  unsigned long x = 7;
  for (size_t i = 0; i < LEN; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(p + i, &x, 8); }
  long r = raw ? syscall(SYS_madvise, p, LEN, MADV_DONTFORK) : madvise(p, LEN, MADV_DONTFORK);
  if (r != 0) { printf("FAIL madvise\n"); return 1; }
  unsigned long want = sum(p + 8, LEN - 8), n = 0;
  memcpy(p, &n, 8);
  for (;;) {
    unsigned long seen;
    memcpy(&seen, p, 8);
    int ok = seen == n && sum(p + 8, LEN - 8) == want;
    n++;
    memcpy(p, &n, 8);
    printf("tick %lu %s\n", n, ok ? "ok" : "BAD");
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, 0);
  }
}
