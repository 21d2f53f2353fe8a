/* TCP inside the computation. The parent listens on 127.0.0.1 (a port the
 * kernel picks, SO_REUSEADDR, TCP_NODELAY on the connection) and echoes every
 * line its child sends, slowly, so lines wait unread in the parent's receive
 * queue and echoes wait in the child's at every checkpoint. The child checks
 * each echo is the next number ("R k"; lost, repeated or garbled: CORRUPT).
 * Every 10 numbers the child also opens a second connection to the listener,
 * waits for "ready", says "hello k" and must get "hi k" back: the listener kept its port and still accepts.
 * The parent checks its listener's port and its connection's options stay
 * what they were. With "noreuse" the listener has no SO_REUSEADDR (its port
 * is then also held by the accepted connection at a restart), and the child
 * closes its second connections first.
 * Usage: tcpecho N [noreuse] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

static int opt(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(fd, level, name, &v, &len);
  return v;
}

/* One line from fd (blocking), without the newline; -1 on EOF or error. */
static int read_line(int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n < cap - 1) {
    ssize_t r = read(fd, buf + n, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (buf[n] == '\n') break;
    n++;
  }
  buf[n] = 0;
  return (int)n;
}

static int child(int port, int n) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { printf("CORRUPT connect errno %d\n", errno); return 3; }
  int sent = 0;
  char line[64];
  for (int k = 1; k <= n; k++) {
    while (sent < n && sent < k + 4) dprintf(c, "%d\n", ++sent);   /* a few lines ahead */
    nap(20);
    if (read_line(c, line, sizeof line) < 0 || atoi(line) != k) { printf("CORRUPT echo '%s', expected %d\n", line, k); return 3; }
    if (k % 10 == 0 && k < n) {
      int d = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(d, (struct sockaddr *)&a, sizeof a) < 0) { printf("CORRUPT the listener refused a new connection: errno %d\n", errno); return 3; }
      /* The server speaks first: nothing of ours waits in a connection not
       * accepted yet (a restart cannot carry such bytes: docs/sockets.md). */
      if (read_line(d, line, sizeof line) < 0 || strcmp(line, "ready")) { printf("CORRUPT no greeting on a new connection\n"); return 3; }
      dprintf(d, "hello %d\n", k);
      if (read_line(d, line, sizeof line) < 0) { printf("CORRUPT no answer on a new connection\n"); return 3; }
      char want[32];
      snprintf(want, sizeof want, "hi %d", k);
      if (strcmp(line, want)) { printf("CORRUPT new connection got '%s'\n", line); return 3; }
      close(d);
    }
    printf("R %d\n", k);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int reuse = !(argc > 2 && !strcmp(argv[2], "noreuse"));
  int l = socket(AF_INET, SOCK_STREAM, 0), on = 1;
  if (reuse) setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 8);
  getsockname(l, (struct sockaddr *)&a, &len);
  int port = ntohs(a.sin_port);
  pid_t pid = fork();
  if (pid == 0) _exit(child(port, n));
  int s = accept(l, 0, 0);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  char line[64];
  for (int k = 1; k <= n; k++) {
    struct pollfd p[2] = { { s, POLLIN, 0 }, { l, POLLIN, 0 } };
    poll(p, 2, -1);
    if (p[1].revents & POLLIN) {
      int d = accept(l, 0, 0);
      int m;
      dprintf(d, "ready\n");
      if (read_line(d, line, sizeof line) < 0 || sscanf(line, "hello %d", &m) != 1) { printf("CORRUPT hello '%s'\n", line); return 3; }
      dprintf(d, "hi %d\n", m);
      /* without SO_REUSEADDR a connection the server closed first would hold
       * its port in TIME_WAIT against a restart's bind for a minute (only
       * CAP_NET_ADMIN can bind past it): the client closes first */
      if (!reuse) { char x; while (read(d, &x, 1) > 0) {} }
      close(d);
      k--;
      continue;
    }
    if (read_line(s, line, sizeof line) < 0 || atoi(line) != k) { printf("CORRUPT line '%s', expected %d\n", line, k); return 3; }
    nap(30);   /* slower than the child sends */
    dprintf(s, "%d\n", k);
    len = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &len);
    if (ntohs(a.sin_port) != port) { printf("CORRUPT the listener moved from port %d to %d\n", port, ntohs(a.sin_port)); return 3; }
    if (opt(l, SOL_SOCKET, SO_REUSEADDR) != reuse || !opt(s, IPPROTO_TCP, TCP_NODELAY) || !opt(l, SOL_SOCKET, SO_ACCEPTCONN)) { printf("CORRUPT socket options lost\n"); return 3; }
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
