/* A heap that ends at a chosen address (argv[1], hex), as a non-PIE program's
 * randomized heap can: node's ends anywhere in its first gigabyte. Without
 * address randomization (it runs itself again with ADDR_NO_RANDOMIZE) the heap
 * starts right after the program, and sbrk grows it to end there. It writes a
 * word into the heap's first and last page and counts on, checking after each
 * step that the heap still ends there and both words are intact.
 * Prints "H <k>" for k = 1..N, then "DONE <N>"; "CORRUPT <why>" and exit 3.
 * Usage: heapedge END_HEX N */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define FIRST_MARK 0x6865617066697273ULL   /* "heapfirs" */

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int persona = personality(0xffffffff);
  if (!(persona & ADDR_NO_RANDOMIZE)) {
    personality((unsigned long)persona | ADDR_NO_RANDOMIZE);
    execv("/proc/self/exe", argv);
    printf("CORRUPT cannot run again without address randomization\n");
    return 3;
  }
  setvbuf(stdout, 0, _IOLBF, 0);
  uintptr_t end = (uintptr_t)strtoull(argv[1], 0, 16);
  int n = atoi(argv[2]);
  char *start = sbrk(0);
  if ((uintptr_t)start + 2 * PAGE > end) { printf("CORRUPT the heap starts at %p, above %#lx\n", (void *)start, (unsigned long)end); return 3; }
  if (sbrk((intptr_t)(end - (uintptr_t)start)) == (void *)-1) { printf("CORRUPT sbrk to %#lx failed\n", (unsigned long)end); return 3; }
  volatile uint64_t *first = (volatile uint64_t *)start, *last = (volatile uint64_t *)(end - sizeof(uint64_t));
  *first = FIRST_MARK;
  *last = 0;
  for (int k = 1; k <= n; k++) {
    struct timespec t = { 0, 100000000 };
    while (nanosleep(&t, &t) != 0) {}
    if ((uintptr_t)sbrk(0) != end) { printf("CORRUPT the heap ends at %p, not %#lx\n", sbrk(0), (unsigned long)end); return 3; }
    if (*first != FIRST_MARK || *last != (uint64_t)(k - 1)) { printf("CORRUPT heap words %#llx %llu at step %d\n", (unsigned long long)*first, (unsigned long long)*last, k); return 3; }
    *last = (uint64_t)k;
    printf("H %d\n", k);
  }
  printf("DONE %d\n", n);
  return 0;
}
