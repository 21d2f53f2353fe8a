/* Memory that a restart maps from a raw image, checked by the program itself.
 *
 * A (16 MiB, pseudo-random, checksummed) is read whole on every tick, and its
 * first word is a counter the program bumps each tick (a page written after a
 * restart: copy-on-write). D (16 MiB) is read only on SIGUSR1, so until then
 * its pages stay in the image file untouched. B (4 MiB) is discarded on
 * SIGUSR1 with madvise(MADV_DONTNEED), after which anonymous memory reads as
 * zero: the program checks that it does, then fills it again.
 * Usage: mapped [TICKS] [D_MIB] (D is 16 MiB unless told).
 * Prints "TICK n" each tick, "CHECKED ok" after a SIGUSR1, "FAIL <why>" and
 * exits 1 on any mismatch. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)
#define A_LEN (16 * MIB)
#define B_LEN (4 * MIB)

static volatile sig_atomic_t check_requested;
static void on_usr1(int sig) { (void)sig; check_requested = 1; }

static void fill(unsigned char *p, size_t n, unsigned long seed) {
  unsigned long x = seed;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    memcpy(p + i, &x, 8);
  }
}

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

static void fail(const char *why) { printf("FAIL %s\n", why); fflush(stdout); exit(1); }

static unsigned char *area(size_t len) {
  void *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  return p;
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 1000000;
  size_t D_LEN = (argc > 2 ? (size_t)atoi(argv[2]) : 16) * MIB;
  setvbuf(stdout, 0, _IOLBF, 0);
  signal(SIGUSR1, on_usr1);
  unsigned char *a = area(A_LEN), *d = area(D_LEN), *b = area(B_LEN);
  fill(a, A_LEN, 11);
  fill(d, D_LEN, 13);
  fill(b, B_LEN, 17);
  unsigned long a_sum = sum(a + 4096, A_LEN - 4096), d_sum = sum(d, D_LEN);
  unsigned long count = 0;   /* a's first word holds the same */
  memcpy(a, &count, 8);
  for (int t = 1; t <= ticks; t++) {
    unsigned long seen;
    memcpy(&seen, a, 8);
    if (seen != count) fail("the counter in the mapped memory lost a tick");
    if (sum(a + 4096, A_LEN - 4096) != a_sum) fail("A changed");
    count++;
    memcpy(a, &count, 8);
    if (check_requested) {
      check_requested = 0;
      if (sum(d, D_LEN) != d_sum) fail("D changed");
      if (madvise(b, B_LEN, MADV_DONTNEED) != 0) fail("madvise");
      for (size_t i = 0; i < B_LEN; i += 512)
        if (b[i]) fail("B does not read as zero after MADV_DONTNEED");
      fill(b, B_LEN, 17 + t);
      printf("CHECKED ok\n");
    }
    printf("TICK %d\n", t);
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, 0);
  }
  printf("DONE\n");
  return 0;
}
