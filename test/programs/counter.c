/* A single-threaded counter: prints 1..N, one line every TICK_MS, and checks
 * after every step that a heap buffer still has the checksum it computed at
 * start. After a restart the count must continue where it was, never restart at
 * 1 and never skip; a damaged buffer prints CORRUPT and exits 3. The kernel's brk
 * must stay where glibc's malloc believes it is, and the heap must keep growing
 * (a small block is allocated every step and checked at the end). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (4 << 20)
#define TICK_MS 50
#define MAX_BLOCKS 1000
#define BLOCK_SIZE 2000   /* below malloc's mmap threshold: from the brk heap */

static char *blocks[MAX_BLOCKS];

static unsigned long checksum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211UL;
  return h;
}

int main(int argc, char **argv) {
  int limit = argc > 1 ? atoi(argv[1]) : 100;
  unsigned char *buf = malloc(BUF_SIZE);
  for (size_t i = 0; i < BUF_SIZE; i++) buf[i] = (unsigned char)(i * 7 + i / 4096);
  unsigned long expect = checksum(buf, BUF_SIZE);
  for (int i = 1; i <= limit; i++) {
    printf("%d\n", i);
    fflush(stdout);
    struct timespec ts = { 0, TICK_MS * 1000000L };
    nanosleep(&ts, 0);
    if (checksum(buf, BUF_SIZE) != expect) {
      printf("CORRUPT\n");
      return 3;
    }
    if ((void *)syscall(SYS_brk, 0) != sbrk(0)) {
      printf("CORRUPT brk\n");
      return 3;
    }
    if (i <= MAX_BLOCKS) {
      blocks[i - 1] = malloc(BLOCK_SIZE);
      memset(blocks[i - 1], i & 0xff, BLOCK_SIZE);
    }
  }
  for (int i = 1; i <= limit && i <= MAX_BLOCKS; i++)
    for (int k = 0; k < BLOCK_SIZE; k++)
      if (blocks[i - 1][k] != (char)(i & 0xff)) { printf("CORRUPT block\n"); return 3; }
  printf("DONE %d\n", limit);
  return 0;
}
