/* Files under test/programs/file_hooks_plugin.c, in the current folder:
 * appends "L i" to log.txt and kept.txt (both held open, O_APPEND) each tick
 * and prints "N i"; reads must.txt ("must data\n") and moved-from.txt
 * ("moved\n") through fds it holds, each tick. At the end, log.txt must hold
 * L 1..L N once each: what a killed run wrote after its checkpoint was cut
 * back at the restart and written again ("LOG ok"); kept.txt is the test's
 * to look at. Anything wrong: "CORRUPT <why>", exit 3. Usage: filehooks N */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int corrupt(const char *why) { printf("CORRUPT %s\n", why); return 3; }

static int holds(int fd, const char *want) {
  char buf[64] = "";
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  return n == (ssize_t)strlen(want) && !strcmp(buf, want);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  int log = open("log.txt", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
  int kept = open("kept.txt", O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0600);
  int must = open("must.txt", O_RDONLY);
  int moved = open("moved-from.txt", O_RDONLY);
  if (log < 0 || kept < 0 || must < 0 || moved < 0) return corrupt("open");
  for (int i = 1; i <= n; i++) {
    if (!holds(must, "must data\n")) return corrupt("must.txt");
    if (!holds(moved, "moved\n")) return corrupt("moved-from.txt");
    char line[32];
    int len = snprintf(line, sizeof line, "L %d\n", i);
    if (write(log, line, (size_t)len) != len || write(kept, line, (size_t)len) != len) return corrupt("write");
    printf("N %d\n", i);
    struct timespec t = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&t, &t) != 0) {}
  }
  FILE *f = fopen("log.txt", "r");
  char line[32];
  int expect = 1;
  while (f && fgets(line, sizeof line, f)) {
    if (atoi(line + 2) != expect++) { printf("CORRUPT log.txt has %s", line); return 3; }
  }
  if (expect != n + 1) return corrupt("log.txt is short");
  printf("LOG ok\n");
  return 0;
}
