/* Bytes in flight through a pipe or a FIFO, across checkpoints and restarts.
 * The parent writes consecutive 64-bit numbers as fast as the pipe takes
 * them; the child reads them a block at a time with a pause after each (so
 * the pipe is all but full at every checkpoint) and
 * checks that each is the one after the last: a lost or repeated byte shows
 * at once as CORRUPT. Every 20000 numbers the child prints "R k"; after N of
 * those it prints "DONE N" and both exit. Usage: pipecheck pipe|fifo DIR N */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 512
#define REPORT 20000

static int reader(int fd, int n) {
  uint64_t expect = 0, buf[BLOCK];
  size_t have = 0;   /* bytes of a partial number kept at the front */
  for (int k = 1; k <= n;) {
    struct timespec pause = { 0, 1000 * 1000 };
    nanosleep(&pause, 0);
    ssize_t got = read(fd, (char *)buf + have, sizeof buf - have);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) { printf("CORRUPT read %zd errno %d at %llu\n", got, errno, (unsigned long long)expect); return 3; }
    have += (size_t)got;
    size_t whole = have / 8;
    for (size_t i = 0; i < whole; i++) {
      if (buf[i] != expect) {
        printf("CORRUPT got %llu want %llu\n", (unsigned long long)buf[i], (unsigned long long)expect);
        return 3;
      }
      expect++;
      if (expect % REPORT == 0) {
        printf("R %d\n", k);
        if (++k > n) break;
      }
    }
    memmove(buf, (char *)buf + whole * 8, have - whole * 8);
    have -= whole * 8;
  }
  printf("DONE %d\n", n);
  return 0;
}

static void writer(int fd) {
  uint64_t next = 0, buf[BLOCK];
  for (;;) {
    for (int i = 0; i < BLOCK; i++) buf[i] = next++;
    size_t off = 0;
    while (off < sizeof buf) {
      ssize_t w = write(fd, (char *)buf + off, sizeof buf - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(0);   /* the reader is done */
      off += (size_t)w;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: pipecheck pipe|fifo DIR N\n"); return 2; }
  setvbuf(stdout, 0, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int n = atoi(argv[3]);
  int fds[2];
  char path[4096];
  int fifo = !strcmp(argv[1], "fifo");
  if (fifo) {
    snprintf(path, sizeof path, "%s/pipecheck.fifo", argv[2]);
    unlink(path);
    if (mkfifo(path, 0600) < 0) { perror("mkfifo"); return 2; }
  } else if (pipe(fds) < 0) {
    perror("pipe");
    return 2;
  }
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    int fd = fifo ? open(path, O_RDONLY) : fds[0];
    if (!fifo) close(fds[1]);
    return reader(fd, n);
  }
  int fd = fifo ? open(path, O_WRONLY) : fds[1];
  if (!fifo) close(fds[0]);
  pid_t w = fork();   /* the writer runs in its own process: the parent waits */
  if (w == 0) writer(fd);
  close(fd);
  int status = 0;
  waitpid(child, &status, 0);
  kill(w, SIGTERM);
  waitpid(w, 0, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
}
