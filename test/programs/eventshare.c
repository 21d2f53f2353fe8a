/* An eventfd shared by a parent and the child it forked, and dup'd in the
 * parent: the child adds 1 each tick ("W i"); the parent reads it from its
 * dup (blocking) and counts ("R <total>") until the child's N have all come,
 * then reaps it and says "DONE N". After a restart both must hold one eventfd
 * again, or the parent waits forever. Anything wrong: "CORRUPT <why>", exit 3.
 * Usage: eventshare N */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  int e = eventfd(0, 0);
  int mine = dup(e);
  if (e < 0 || mine < 0) { printf("CORRUPT eventfd\n"); return 3; }
  pid_t child = fork();
  if (child == 0) {
    close(mine);
    for (int i = 1; i <= n; i++) {
      uint64_t one = 1;
      if (write(e, &one, sizeof one) != sizeof one) { printf("CORRUPT write %d\n", i); _exit(3); }
      printf("W %d\n", i);
      struct timespec t = { 0, 100 * 1000 * 1000 };
      while (nanosleep(&t, &t) != 0) {}
    }
    _exit(0);
  }
  close(e);
  uint64_t total = 0;
  while (total < (uint64_t)n) {
    uint64_t got = 0;
    if (read(mine, &got, sizeof got) != sizeof got) { printf("CORRUPT read\n"); return 3; }
    total += got;
    printf("R %llu\n", (unsigned long long)total);
  }
  int status;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child %d\n", status); return 3; }
  if (total != (uint64_t)n) { printf("CORRUPT total %llu\n", (unsigned long long)total); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
