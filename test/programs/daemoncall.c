/* daemon(3) inside the computation: the launched process calls daemon(1, 1)
 * (keep the directory and the fds, so its output still reaches the test),
 * whose parent exits at once; the child leads a new session and counts
 * "D n", checking every tick that its pid is still the one it had after
 * daemon() and that it still leads its session and group (getsid, getpgrp).
 * Usage: daemoncall N */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  if (daemon(1, 1) != 0) { perror("daemon"); return 2; }
  pid_t me = getpid();
  printf("DAEMON %d\n", me);
  for (int i = 1; i <= n; i++) {
    if (getpid() != me || getsid(0) != me || getpgrp() != me) {
      printf("CORRUPT pid %d/%d sid %d pgrp %d\n", getpid(), me, getsid(0), getpgrp());
      return 3;
    }
    printf("D %d\n", i);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&ts, &ts) != 0) {}
  }
  printf("DONE %d\n", n);
  return 0;
}
