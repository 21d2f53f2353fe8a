/* A new child must never get a pid the program knows as another process's.
 * After a restart the program's pids are virtual: the kernel may hand one of
 * them to a new child. With "steer" the program makes it so: right before
 * each fork it sets the kernel's last pid (ns_last_pid, root only) to one
 * below its own pid, which after a restart is free (it has another real pid). The
 * parent forks a long-lived child A first (and prints both pids); then, each time the file
 * DIR/go-<k> appears, it forks a short-lived child, which must not come back
 * as A's pid or the parent's own ("CORRUPT clash"), reaps it by pid and
 * prints "B k <pid>". kill(A, 0) must keep reaching A.
 * Usage: pidclash DIR N [steer] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  setvbuf(stdout, 0, _IOLBF, 0);
  int n = atoi(argv[2]);
  int steer = argc > 3 && !strcmp(argv[3], "steer");
  pid_t a = fork();
  if (a == 0) { for (;;) pause(); }
  printf("A %d\n", a);
  printf("P %d\n", getpid());
  for (int k = 1; k <= n; k++) {
    char go[4096];
    snprintf(go, sizeof go, "%s/go-%d", argv[1], k);
    struct stat st;
    while (stat(go, &st) != 0) {
      struct timespec ts = { 0, 20 * 1000 * 1000 };
      nanosleep(&ts, 0);
    }
    if (steer) {
      FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
      if (!f || fprintf(f, "%d", getpid() - 1) < 0 || fclose(f) != 0) { printf("CORRUPT steer\n"); return 3; }
    }
    pid_t b = fork();
    if (b == 0) _exit(0);
    if (b == a || b == getpid()) { printf("CORRUPT clash %d\n", b); return 3; }
    int status;
    if (waitpid(b, &status, 0) != b) { printf("CORRUPT wait %d\n", b); return 3; }
    if (kill(a, 0) != 0) { printf("CORRUPT kill A\n"); return 3; }
    printf("B %d %d\n", k, b);
  }
  kill(a, SIGTERM);
  waitpid(a, 0, 0);
  printf("DONE %d\n", n);
  return 0;
}
