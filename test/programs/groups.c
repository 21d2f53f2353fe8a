/* Process groups across restarts. The parent (in the launch's group) forks a
 * child that makes its own group and forks a grandchild that joins it. Every
 * tick each prints its view ("C/G n pgid=X got=K") and checks it: child and
 * grandchild are in the group named by the child's pid, and the parent sees
 * getpgid(child) == child. (The parent's own group is the restart's after a
 * restart: it is dmtcp_restart's process.) Every fifth tick the parent signals
 * the group with killpg(child, SIGUSR1); child and grandchild count those. */
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

static int member(char who, int n, pid_t group) {
  for (int i = 1; i <= n; i++) {
    if (getpgid(0) != group || getpgrp() != group) {
      printf("CORRUPT %c pgid %d want %d\n", who, getpgid(0), group);
      return 3;
    }
    printf("%c %d pgid=%d got=%d\n", who, i, getpgid(0), (int)got);
    tick();
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { 0 };
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    setpgid(0, 0);
    pid_t me = getpid();
    pid_t g = fork();
    if (g == 0) {
      setpgid(0, me);
      return member('G', n, me);
    }
    int r = member('C', n, me);
    int status = 0;
    waitpid(g, &status, 0);
    return r ? r : (WIFEXITED(status) ? WEXITSTATUS(status) : 4);
  }
  setpgid(child, child);   /* as a shell does: whichever runs first */
  for (int i = 1; i <= n; i++) {
    if (getpgid(child) != child) { printf("CORRUPT getpgid(child) %d\n", getpgid(child)); return 3; }
    if (i % 5 == 0 && killpg(child, SIGUSR1) != 0) { printf("CORRUPT killpg\n"); return 3; }
    printf("P %d\n", i);
    tick();
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || status != 0) { printf("CORRUPT wait %x\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
