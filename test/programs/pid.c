/* Prints "pid=<getpid()>" and "ppid=<getppid()>", then ticks ("tick <n>", every
 * 50 ms) until SECONDS (argv[1], default 30) have passed: a program that stays
 * connected to the coordinator long enough to be listed, checkpointed or killed. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 30;
  printf("pid=%d\n", (int)getpid());
  printf("ppid=%d\n", (int)getppid());
  fflush(stdout);
  for (int n = 1; n <= seconds * 20; n++) {
    struct timespec ts = { 0, 50 * 1000000L };
    nanosleep(&ts, 0);
    printf("tick %d\n", n);
    fflush(stdout);
  }
  printf("DONE\n");
  return 0;
}
