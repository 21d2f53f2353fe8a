/* Page data of three kinds in one gzip image: 24 MiB of random bytes (stored
 * blocks), 8 MiB of words (deflated) and 8 MiB whose even pages are random and
 * odd pages zero (zero pages elided, the rest stored). Checksums all three
 * before the checkpoint and after every tick; prints "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MIB (1UL << 20)
#define PAGE 4096UL
#define RANDOM_BYTES (24 * MIB)
#define TEXT_BYTES (8 * MIB)
#define HALF_BYTES (8 * MIB)

static unsigned long x = 88172645463325252UL;
static unsigned long next(void) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; }

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

static unsigned char *area(size_t n) {
  unsigned char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { printf("FAIL mmap\n"); exit(1); }
  return p;
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 10;
  static const char *words[] = { "checkpoint ", "restart ", "memory ", "the ", "of ", "page ", "image ", "gzip.\n" };
  unsigned char *rnd = area(RANDOM_BYTES), *txt = area(TEXT_BYTES), *half = area(HALF_BYTES);
  for (size_t i = 0; i < RANDOM_BYTES; i += 8) { unsigned long v = next(); memcpy(rnd + i, &v, 8); }
  for (size_t o = 0; o < TEXT_BYTES;) {
    const char *w = words[next() % 8];
    while (*w && o < TEXT_BYTES) txt[o++] = *w++;
  }
  for (size_t i = 0; i < HALF_BYTES; i += 8) { unsigned long v = next(); memcpy(half + i, &v, 8); }
  for (size_t i = PAGE; i < HALF_BYTES; i += 2 * PAGE) memset(half + i, 0, PAGE);
  unsigned long want[3] = { sum(rnd, RANDOM_BYTES), sum(txt, TEXT_BYTES), sum(half, HALF_BYTES) };
  const char *fail = 0;
  for (int t = 1; t <= ticks; t++) {
    if (sum(rnd, RANDOM_BYTES) != want[0]) fail = "random checksum";
    if (sum(txt, TEXT_BYTES) != want[1]) fail = "text checksum";
    if (sum(half, HALF_BYTES) != want[2]) fail = "half checksum";
    for (size_t i = PAGE; i < HALF_BYTES; i += 2 * PAGE) if (half[i] || half[i + PAGE - 1]) fail = "a zero page is not zero";
    printf("tick %d\n", t);
    fflush(stdout);
    struct timespec ts = { 0, 50 * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  if (fail) { printf("FAIL %s\n", fail); return 1; }
  printf("DONE ok\n");
  return 0;
}
