/* A pty made inside the computation, driven by its parent. forkpty() gives
 * the child a new session whose controlling terminal is the pty's slave; the
 * parent turns echo off and sets a 33x77 window, then every tick writes
 * "ping N" to the master and expects "pong N" back. The child answers each
 * line and checks, every time, that its terminal is still what it was: a
 * tty, its controlling terminal, itself the foreground group, echo off, 33x77.
 * Any mismatch is CORRUPT. Usage: ptydriver N */
#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int child(void) {
  char line[256];
  FILE *in = fdopen(0, "r");
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t me = getpid();
  while (fgets(line, sizeof line, in)) {
    struct termios t;
    struct winsize ws;
    int ok = isatty(0) && tcgetattr(0, &t) == 0 && !(t.c_lflag & ECHO) && ioctl(0, TIOCGWINSZ, &ws) == 0 &&
             ws.ws_row == 33 && ws.ws_col == 77 && getsid(0) == me && tcgetpgrp(0) == getpgrp();
    int n = 0;
    if (sscanf(line, "ping %d", &n) != 1) continue;
    if (!ok) printf("CORRUPT terminal %d\n", n);
    else printf("pong %d\n", n);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  int master;
  struct winsize ws = { 33, 77, 0, 0 };
  pid_t pid = forkpty(&master, 0, 0, &ws);
  if (pid < 0) { perror("forkpty"); return 2; }
  if (pid == 0) return child();
  struct termios t;
  tcgetattr(master, &t);
  t.c_lflag &= ~(ECHO | ECHONL);
  tcsetattr(master, TCSANOW, &t);
  FILE *from = fdopen(dup(master), "r");
  char line[256];
  for (int i = 1; i <= n; i++) {
    dprintf(master, "ping %d\n", i);
    if (!fgets(line, sizeof line, from)) { printf("CORRUPT eof at %d (errno %d)\n", i, errno); return 3; }
    line[strcspn(line, "\r\n")] = 0;
    char want[32];
    snprintf(want, sizeof want, "pong %d", i);
    if (strcmp(line, want)) { printf("CORRUPT got '%s' want '%s'\n", line, want); return 3; }
    printf("P %d\n", i);
    tick();
  }
  close(master);
  fclose(from);
  int status;
  waitpid(pid, &status, 0);
  printf("DONE %d\n", n);
  return 0;
}
