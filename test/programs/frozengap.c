/* frozengap MiB [shared]: keeps rewriting its memory, one page per iteration, in a
 * tight loop, and measures the longest gap between two iterations (the time
 * it was frozen). Every TICK_MS it checks its own state and prints
 *   tick <iteration> gap_us <longest gap since the last line> ok|BAD
 * The state: page p holds in word 0 the iteration that last wrote it and in
 * the others a function of that iteration; `sum` is the sum of every word 0.
 * An image that mixed two moments (pages of one, `sum` of another) fails the
 * check after a restart. When a checkpoint's count moves (it does while the
 * program is frozen) the gap of that iteration is the frozen time:
 *   frozen_us <gap> gen <checkpoints>
 * (the longest gap of a tick also holds the machine's scheduling noise; a
 * freeze that falls in the check of a tick counts that check's time too).
 * "shared": it also writes its count into a page of writable MAP_SHARED memory
 * (where a forked checkpoint is not safe). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* the agent's (include/dmtcp.h); weak: 0 when run without it */
extern uint32_t dmtcp_get_generation(void) __attribute__((weak));

#define WORDS_PER_PAGE 512
#define TICK_NS 100000000LL

static uint64_t *mem;
static uint64_t npages, sum;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t word(uint64_t iter, uint64_t k) { return (iter * 0x9E3779B97F4A7C15ULL) ^ (k * 0xC2B2AE3D27D4EB4FULL); }

static void write_page(uint64_t iter) {
  uint64_t *pg = mem + (iter % npages) * WORDS_PER_PAGE;
  sum -= pg[0];
  for (uint64_t k = 1; k < WORDS_PER_PAGE; k++) pg[k] = word(iter, k);
  pg[0] = iter;
  sum += iter;
}

static int state_ok(uint64_t probe) {
  uint64_t s = 0;
  for (uint64_t p = 0; p < npages; p++) s += mem[p * WORDS_PER_PAGE];
  if (s != sum) return 0;
  const uint64_t *pg = mem + (probe % npages) * WORDS_PER_PAGE;
  for (uint64_t k = 1; k < WORDS_PER_PAGE; k++)
    if (pg[k] != word(pg[0], k)) return 0;
  return 1;
}

int main(int argc, char **argv) {
  uint64_t mib = argc > 1 ? strtoull(argv[1], 0, 10) : 64;
  npages = mib * 256;
  mem = mmap(0, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  volatile uint64_t *shared = 0;
  if (argc > 2 && !strcmp(argv[2], "shared")) {
    shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) { perror("mmap shared"); return 1; }
  }
  for (uint64_t i = 0; i < npages; i++) write_page(i);
  printf("ready\n");
  fflush(stdout);
  int64_t prev = now_ns(), printed = prev, longest = 0;
  uint32_t gen = dmtcp_get_generation ? dmtcp_get_generation() : 0;
  int moved = 0;
  int64_t moved_gap = 0;
  for (uint64_t i = npages;; i++) {
    write_page(i);
    if (shared) *shared = i;
    int64_t t = now_ns();
    /* The freeze may fall between reading the clock and reading the count:
     * then it is in the next iteration's gap. Report the longer of the two. */
    if (moved) {
      int64_t gap = t - prev > moved_gap ? t - prev : moved_gap;
      printf("frozen_us %lld gen %u\n", (long long)(gap / 1000), gen);
      moved = 0;
    }
    uint32_t g = dmtcp_get_generation ? dmtcp_get_generation() : 0;
    if (g != gen) {
      moved = g > gen;
      moved_gap = t - prev;
      gen = g;
    }
    if (t - prev > longest) longest = t - prev;
    prev = t;
    if (t - printed >= TICK_NS) {
      uint32_t g0 = dmtcp_get_generation ? dmtcp_get_generation() : 0;
      printf("tick %llu gap_us %lld %s\n", (unsigned long long)i, (long long)(longest / 1000), state_ok(i / 7) ? "ok" : "BAD");
      fflush(stdout);
      longest = 0;
      printed = now_ns();
      /* The check and the print are not a frozen gap, unless a checkpoint
       * froze us meanwhile: then the next gap counts from before them. */
      if ((dmtcp_get_generation ? dmtcp_get_generation() : 0) == g0) prev = printed;
    }
  }
}
