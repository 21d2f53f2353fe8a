/* Children the coordinator was not told of yet when their parent went.
 *
 *   orphan orphan N   the main process M forks P; P forks C and _exits at once
 *                     (its note of C dies with it); M reaps P and prints
 *                     "ORPHANED". M prints "M i" and C prints "C i", i = 1..N,
 *                     every 50 ms; C ends with "C-DONE", M with "DONE N".
 *   orphan kill N     M forks C and prints "FORKED <C's pid>" at once; both
 *                     count as above.
 * A checkpoint asked for right after ORPHANED must count C (it joins on its
 * own within 10 ms; the coordinator waits after P left); a kill asked for
 * right after FORKED must end C too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 50000000L

static void count(const char *tag, int n) {
  for (int i = 1; i <= n; i++) {
    struct timespec t = { 0, TICK_NS };
    nanosleep(&t, 0);
    printf("%s %d\n", tag, i);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: orphan orphan|kill N\n"); return 2; }
  int n = atoi(argv[2]);
  setvbuf(stdout, 0, _IOLBF, 0);
  if (!strcmp(argv[1], "orphan")) {
    pid_t p = fork();
    if (p == 0) {
      if (fork() == 0) { count("C", n); printf("C-DONE\n"); return 0; }
      _exit(0);
    }
    int st;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st)) { printf("CORRUPT P\n"); return 1; }
    printf("ORPHANED\n");
  } else {
    pid_t c = fork();
    if (c == 0) { count("C", n); printf("C-DONE\n"); return 0; }
    printf("FORKED %d\n", (int)c);
  }
  count("M", n);
  printf("DONE %d\n", n);
  return 0;
}
