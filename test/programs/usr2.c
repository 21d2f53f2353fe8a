/* A program that uses SIGUSR2 itself: its handler must keep running before and
 * after a restart (the agent is told to use another signal). Prints "DONE ok". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile long hits;
static void on_usr2(int sig) { (void)sig; hits++; }

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 30;
  signal(SIGUSR2, on_usr2);
  for (int t = 1; t <= ticks; t++) {
    long before = hits;
    raise(SIGUSR2);
    if (hits != before + 1) { printf("FAIL SIGUSR2 handler did not run at tick %d\n", t); return 1; }
    printf("tick %d\n", t);
    fflush(stdout);
    struct timespec ts = { 0, 50000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  printf("DONE ok usr2 %ld\n", hits);
  return 0;
}
