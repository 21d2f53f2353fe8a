/* eventfd across checkpoints: a counting eventfd and a semaphore one keep
 * their counters. Each step k adds k to the counter (read back only every 10
 * steps: then it must hold exactly the sum of those 10), and adds 3 to the
 * semaphore while taking 1 (every 10 steps it must give exactly 20 more 1s
 * before EAGAIN). A counter that comes back wrong, or a semaphore that comes
 * back counting, is CORRUPT. Prints "E k" per step, DONE N at the end.
 * Usage: eventcount N */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int counter = eventfd(0, EFD_CLOEXEC);
  int sem = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK);
  uint64_t expect = 0, v;
  for (int k = 1; k <= n; k++) {
    v = (uint64_t)k;
    write(counter, &v, 8);
    expect += v;
    v = 3;
    write(sem, &v, 8);
    if (read(sem, &v, 8) != 8 || v != 1) { printf("CORRUPT semaphore gave %llu\n", (unsigned long long)v); return 3; }
    if (k % 10 == 0) {
      if (read(counter, &v, 8) != 8 || v != expect) {
        printf("CORRUPT counter %llu, expected %llu\n", (unsigned long long)v, (unsigned long long)expect);
        return 3;
      }
      expect = 0;
      int ones = 0;
      while (read(sem, &v, 8) == 8) { if (v != 1) { printf("CORRUPT semaphore gave %llu\n", (unsigned long long)v); return 3; } ones++; }
      if (errno != EAGAIN || ones != 20) { printf("CORRUPT semaphore held %d, expected 20\n", ones); return 3; }
    }
    printf("E %d\n", k);
    nap(40);
  }
  printf("DONE %d\n", n);
  return 0;
}
