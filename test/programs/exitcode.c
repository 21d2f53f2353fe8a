/* Exit-code pass-through under dmtcp_launch.
 *   exitcode N      prints "exiting N" and exits with status N
 *   exitcode -s N   prints "raising N" and kills itself with signal N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc > 2 && strcmp(argv[1], "-s") == 0) {
    int sig = atoi(argv[2]);
    printf("raising %d\n", sig);
    fflush(stdout);
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
    pause();
    return 1; /* not reached */
  }
  int code = argc > 1 ? atoi(argv[1]) : 7;
  printf("exiting %d\n", code);
  return code;
}
