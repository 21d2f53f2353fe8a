/* A partial line in a pty's canonical input queue. The parent writes the first
 * half of each line into the master, waits, then the rest with its newline;
 * the child, on the slave in canonical mode with echo off, reads whole lines
 * with read() and answers "got k <line>". Most of the time half a line waits
 * in the line discipline, where the child cannot read it yet: a checkpoint
 * or a restart then must keep it, or the child reads half a line. The parent
 * checks every answer (CORRUPT otherwise) and prints "P k". Usage: ptypartial N */
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
  char line[512];
  for (;;) {
    ssize_t n = read(0, line, sizeof line - 1);
    if (n <= 0) return 0;
    line[n] = 0;
    int k;
    if (sscanf(line, "line %d", &k) != 1) { printf("bad %s", line); fflush(stdout); continue; }
    printf("got %d %s", k, line);
    fflush(stdout);
  }
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  int master, slave;
  struct termios t;
  if (openpty(&master, &slave, 0, 0, 0) != 0) return 2;
  tcgetattr(slave, &t);
  t.c_lflag |= ICANON;
  t.c_lflag &= ~(ECHO | ECHONL);
  t.c_oflag &= ~OPOST;
  tcsetattr(slave, TCSANOW, &t);
  pid_t c = fork();
  if (c == 0) {
    close(master);
    setsid();
    dup2(slave, 0); dup2(slave, 1);
    close(slave);
    return child();
  }
  close(slave);
  FILE *answers = fdopen(master, "r");
  for (int k = 1; k <= n; k++) {
    char first[64], rest[64], want[256], got[512];
    snprintf(first, sizeof first, "line %d first half, ", k);
    snprintf(rest, sizeof rest, "second half %d\n", k);
    if (write(master, first, strlen(first)) < 0) return 3;
    nap(150);   /* half a line waits in the slave's line discipline */
    if (write(master, rest, strlen(rest)) < 0) return 3;
    snprintf(want, sizeof want, "got %d %s%s", k, first, rest);
    if (!fgets(got, sizeof got, answers)) { printf("CORRUPT no answer to line %d\n", k); return 4; }
    if (strcmp(got, want)) { printf("CORRUPT line %d came as: %s", k, got); return 4; }
    printf("P %d\n", k);
  }
  kill(c, SIGTERM);
  waitpid(c, 0, 0);
  printf("DONE %d\n", n);
  return 0;
}
