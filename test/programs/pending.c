/* A connection waiting in a listener's queue across checkpoints. The child
 * connects at once and waits for the server to speak; the parent does not
 * accept for N steps ("W k"), then accepts and says "hello k"; the child must
 * read it on the connection it made before every checkpoint, and the parent
 * must find exactly one connection waiting. Usage: pending N */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 4);
  getsockname(l, (struct sockaddr *)&a, &len);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { printf("CORRUPT connect errno %d\n", errno); _exit(3); }
    char buf[64];
    ssize_t r, got = 0;
    while (got < (ssize_t)sizeof buf - 1 && (r = read(c, buf + got, sizeof buf - 1 - (size_t)got)) != 0) {
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) { printf("CORRUPT read errno %d\n", errno); _exit(3); }
      got += r;
      if (buf[got - 1] == '\n') break;
    }
    buf[got] = 0;
    printf("GOT %s", buf);
    _exit(strncmp(buf, "hello", 5) ? 3 : 0);
  }
  for (int k = 1; k <= n; k++) { printf("W %d\n", k); nap(50); }
  int s = accept(l, 0, 0);
  dprintf(s, "hello %d\n", n);
  fcntl(l, F_SETFL, O_NONBLOCK);
  if (accept(l, 0, 0) >= 0) { printf("CORRUPT a second connection was waiting\n"); return 3; }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
