/* A daemon inside the computation: the parent forks a child, which calls
 * setsid(), forks the daemon and exits; the parent reaps that child and counts
 * "P n". The daemon (an orphan now, in the session and group of the child
 * that left) counts "D n". Both check that what they know still holds after
 * restarts: the daemon's session and group are still the departed child's
 * pid, and its parent is no process of ours (the kernel reparented it); the
 * parent's pid is unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t parent = getpid();
  pid_t middle = fork();
  if (middle < 0) return 2;
  if (middle == 0) {
    if (setsid() < 0) _exit(4);
    pid_t d = fork();
    if (d != 0) _exit(d < 0 ? 5 : 0);
    tick();   /* let the middle process go: we are an orphan from here on */
    pid_t me = getpid();
    pid_t session = getsid(0);
    printf("DAEMON %d sid %d ppid %d\n", me, session, getppid());
    if (session == me || session == parent) { printf("CORRUPT daemon session %d\n", session); return 3; }
    for (int i = 1; i <= n; i++) {
      if (getpid() != me || getsid(0) != session || getpgid(0) != session || getppid() == parent) {
        printf("CORRUPT daemon pid %d/%d sid %d pgid %d ppid %d\n", getpid(), me, getsid(0), getpgid(0), getppid());
        return 3;
      }
      printf("D %d\n", i);
      tick();
    }
    printf("DAEMON DONE\n");
    return 0;
  }
  int status = 0;
  if (waitpid(middle, &status, 0) != middle || status != 0) { printf("CORRUPT middle %x\n", status); return 3; }
  for (int i = 1; i <= n + 8; i++) {
    if (getpid() != parent) { printf("CORRUPT parent\n"); return 3; }
    printf("P %d\n", i);
    tick();
  }
  printf("DONE %d\n", n);
  return 0;
}
