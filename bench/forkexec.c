/* fork + exec + wait of a tiny program, N times; prints the mean microseconds
 * per round. Run plain and under dmtcp_launch to see what joining the
 * computation costs a fork and an exec (bench/tree.sh). With "-" as the
 * program, the child only exits: fork + wait alone.
 * Usage: forkexec [N] [PROGRAM|-] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  const char *prog = argc > 2 ? argv[2] : "/bin/true";
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      if (prog[0] == '-' && !prog[1]) _exit(0);
      execl(prog, prog, (char *)0);
      _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "child failed\n"); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
  printf("%.1f\n", us);
  return 0;
}
