/* Holds a descriptor no checkpoint carries (a pidfd) and prints "P k" every
 * 20 ms: the checkpoint must name it in one line and the program go on.
 * Usage: uncarried N */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  setvbuf(stdout, 0, _IOLBF, 0);
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0) { printf("CORRUPT pidfd_open\n"); return 3; }
  for (int k = 1; k <= n; k++) {
    printf("P %d\n", k);
    struct timespec ts = { 0, 20000000 };
    nanosleep(&ts, 0);
  }
  printf("DONE %d\n", n);
  return 0;
}
