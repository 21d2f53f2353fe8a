/* Touched zero pages ahead of dense data, for raw images written the direct
 * way (docs/encoder-service.md): a 2 MiB block written with zeros, then 6 MiB
 * of pseudo-random bytes, in one 8 MiB mapping. The encoder meets the zero
 * pages first, so after the first chunks it asks the agent for the rest of the
 * page data inline: the image holds pages that stayed where the agent wrote
 * them, pages moved down, and pages that came through the pipe. Every tick
 * checks the checksum of the whole block and that the zero part is still zero;
 * prints "tick N", then "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SIZE (8UL << 20)
#define ZERO_PART (2UL << 20)

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 20;
  unsigned char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { printf("FAIL mmap\n"); return 1; }
  memset(p, 0, ZERO_PART);   /* touched: present in the pagemap, so streamed, yet zero */
  unsigned long x = 88172645463325252UL;
  for (size_t i = ZERO_PART; i < SIZE; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(p + i, &x, 8); }
  const unsigned long want = sum(p, SIZE);
  const char *failure = 0;
  for (int t = 1; t <= ticks; t++) {
    if (sum(p, SIZE) != want) failure = "checksum";
    for (size_t i = 0; i < ZERO_PART && !failure; i += 4096) if (p[i] || p[i + 4095]) failure = "zero part";
    printf("tick %d\n", t);
    fflush(stdout);
    struct timespec ts = { 0, 50 * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  if (failure) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok\n");
  return 0;
}
