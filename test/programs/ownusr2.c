/* A program that uses SIGUSR2 (the checkpoint signal) itself: its own
 * handler, blocked most of the time. Each step blocks SIGUSR2, sends it to
 * itself (kill), checks the handler did not run while blocked and that the
 * mask it reads back still has SIGUSR2, naps, unblocks (the handler must run
 * now), then raise()s it unblocked (the handler must run at once). The
 * handler it reads back with sigaction is its own. "U k" per step; anything
 * else: CORRUPT. Usage: ownusr2 N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ran;
static void on_usr2(int sig) { if (sig == SIGUSR2) ran++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { 0 }, back;
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, 0);
  sigset_t usr2, now;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  for (int k = 1; k <= n; k++) {
    sigprocmask(SIG_BLOCK, &usr2, 0);
    kill(getpid(), SIGUSR2);
    struct timespec nap = { 0, 80 * 1000000L };
    nanosleep(&nap, 0);
    sigprocmask(SIG_BLOCK, 0, &now);
    if (!sigismember(&now, SIGUSR2)) { printf("CORRUPT SIGUSR2 is not blocked as asked\n"); return 3; }
    if (ran != 2 * (k - 1)) { printf("CORRUPT the handler ran while blocked (%d)\n", (int)ran); return 3; }
    sigprocmask(SIG_UNBLOCK, &usr2, 0);
    if (ran != 2 * k - 1) { printf("CORRUPT the held signal did not run at unblock (%d, step %d)\n", (int)ran, k); return 3; }
    raise(SIGUSR2);
    if (ran != 2 * k) { printf("CORRUPT raise did not run the handler (%d, step %d)\n", (int)ran, k); return 3; }
    if (sigaction(SIGUSR2, 0, &back) != 0 || back.sa_handler != on_usr2) { printf("CORRUPT sigaction reports another handler\n"); return 3; }
    printf("U %d\n", k);
  }
  printf("DONE %d\n", n);
  return 0;
}
