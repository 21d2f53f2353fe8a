/* Children forked before and after a restart: each child checks that getppid()
 * is the pid its parent believes it has, and exits with a code the parent checks
 * through waitpid. Prints "DONE ok" or "FAIL <why>". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 30;
  char failure[128] = "";
  for (int t = 1; t <= ticks; t++) {
    pid_t me = getpid();
    pid_t child = fork();
    if (child == 0) _exit(getppid() == me ? 40 + (t % 10) : 1);
    int status = 0;
    if (waitpid(child, &status, 0) != child) snprintf(failure, sizeof failure, "waitpid failed at %d", t);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 40 + (t % 10))
      snprintf(failure, sizeof failure, "child saw another parent at tick %d (status %d)", t, status);
    if (failure[0]) break;
    printf("tick %d\n", t);
    fflush(stdout);
    struct timespec ts = { 0, 50000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
  }
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok\n");
  return 0;
}
