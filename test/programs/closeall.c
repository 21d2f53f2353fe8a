/* A program that closes every descriptor it does not know, as daemons and
 * fork+exec helpers do: close(2) of each of 3..1023, close_range(3, ~0U),
 * closefrom(3) and syscall(SYS_close_range), each in turn, counting "C i"
 * every 100 ms; its own file (a pipe it holds at fd 700) must be gone after
 * each, and the process must still be checkpointed (the test's part).
 * Usage: closeall N */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int own(void) {
  int p[2];
  if (pipe(p) != 0) return -1;
  dup2(p[0], 700);
  close(p[0]);
  close(p[1]);
  return 700;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  for (int i = 1; i <= n; i++) {
    int fd = own();
    switch (i % 4) {
      case 0: for (int k = 3; k < 1024; k++) close(k); break;
      case 1: close_range(3, ~0U, 0); break;
      case 2: closefrom(3); break;
      case 3: syscall(SYS_close_range, 3, ~0U, 0); break;
    }
    if (fd < 0 || fcntl(fd, F_GETFD) != -1 || errno != EBADF) { printf("CORRUPT fd %d still open after way %d\n", fd, i % 4); return 3; }
    printf("C %d\n", i);
    struct timespec t = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&t, &t) != 0) {}
  }
  printf("DONE %d\n", n);
  return 0;
}
