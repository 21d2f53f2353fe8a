/* A program that defines gettid() itself, as syscall(SYS_gettid), the way
 * DMTCP's syscall-tester does: the agent's syscall() wrapper must not call
 * the program's gettid back (an endless recursion). Each tick "G i" checks
 * that its main thread's gettid() is getpid(), before and after restarts.
 * Usage: owngettid N */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

pid_t gettid(void) { return (pid_t)syscall(SYS_gettid); }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  for (int i = 1; i <= n; i++) {
    if (gettid() != getpid()) { printf("CORRUPT gettid %d, getpid %d\n", (int)gettid(), (int)getpid()); return 3; }
    printf("G %d\n", i);
    struct timespec t = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&t, &t) != 0) {}
  }
  printf("DONE %d\n", n);
  return 0;
}
