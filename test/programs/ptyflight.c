/* Bytes in flight in a pty made inside the computation. The parent writes
 * "ping k" lines into the master faster than its child (on the slave, echo
 * off) answers them, so at any checkpoint lines wait unread in the pty's
 * input queue; the child's "pong k" answers wait in its output queue while
 * the parent is busy writing. The parent checks that the pongs come back in
 * order, none lost, none twice ("CORRUPT" otherwise), printing "P k" for
 * each. Usage: ptyflight N */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int child(void) {
  char line[256];
  FILE *in = fdopen(0, "r");
  setvbuf(stdout, 0, _IOLBF, 0);
  while (fgets(line, sizeof line, in)) {
    int k;
    if (sscanf(line, "ping %d", &k) != 1) continue;
    nap(60);   /* slower than the pings come */
    printf("pong %d\n", k);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int master;
  struct termios t;
  pid_t pid = forkpty(&master, 0, 0, 0);
  if (pid < 0) return 2;
  if (pid == 0) return child();
  tcgetattr(master, &t);
  t.c_lflag &= ~(ECHO | ECHONL);
  tcsetattr(master, TCSANOW, &t);
  fcntl(master, F_SETFL, O_NONBLOCK);
  char buf[4096];
  size_t have = 0;
  int sent = 0, expect = 1;
  while (expect <= n) {
    if (sent < n) { dprintf(master, "ping %d\n", ++sent); }
    ssize_t r = read(master, buf + have, sizeof buf - 1 - have);
    if (r > 0) have += (size_t)r;
    else if (r < 0 && errno != EAGAIN && errno != EINTR) { printf("CORRUPT read errno %d\n", errno); return 3; }
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      *nl = 0;
      int k;
      if (sscanf(line, "pong %d", &k) == 1) {
        if (k != expect) { printf("CORRUPT got pong %d want %d\n", k, expect); return 3; }
        printf("P %d\n", k);
        expect++;
      }
      line = nl + 1;
    }
    have = strlen(line);
    memmove(buf, line, have);
    nap(25);
  }
  close(master);
  waitpid(pid, 0, 0);
  printf("DONE %d\n", n);
  return 0;
}
