/* A zombie at checkpoint time: the child exits with status 5 at once, the
 * parent leaves it unreaped while it counts "P n", then reaps it by pid and
 * must get exactly that status: "REAPED 5". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) _exit(5);
  printf("ZOMBIE %d\n", child);
  for (int i = 1; i <= n; i++) {
    printf("P %d\n", i);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&ts, &ts) != 0) {}
  }
  int status = 0;
  pid_t w = waitpid(child, &status, 0);
  printf("REAPED %d\n", w == child && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return w == child && WIFEXITED(status) && WEXITSTATUS(status) == 5 ? 0 : 3;
}
