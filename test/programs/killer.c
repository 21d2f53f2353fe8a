/* kill() of a child by its (virtual) pid: every tick the parent sends SIGUSR1
 * to its child, and a kill that fails is CORRUPT. The child counts the signals
 * it got and prints "C n got=K"; K must keep up with n (at most 5 behind:
 * signals sent while a process is frozen merge into one). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got++; }

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { 0 };
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);
  int ready[2];
  if (pipe(ready) < 0) return 2;
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    close(ready[0]);
    close(ready[1]);
    for (int i = 1; i <= n; i++) {
      tick();
      printf("C %d got=%d\n", i, (int)got);
      if (i > 5 && got < i - 5) { printf("CORRUPT signals %d at %d\n", (int)got, i); return 3; }
    }
    return 7;
  }
  close(ready[1]);
  close(ready[0]);
  for (int i = 1; i <= n; i++) {
    if (kill(child, SIGUSR1) != 0) { printf("CORRUPT kill %d errno %d\n", child, errno); return 3; }
    tick();
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
    printf("CORRUPT wait %x\n", status);
    return 3;
  }
  printf("DONE %d\n", n);
  return 0;
}
