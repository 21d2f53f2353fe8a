/* Datagrams and records waiting in queues across restarts: a UDP socket
 * pair, a Unix datagram socketpair and a Unix seqpacket socketpair between a
 * parent and its child. The child sends k on all three every 20 ms; the
 * parent reads one of each every 40 ms, so the queues grow and records wait
 * at every checkpoint. Each channel must give 1, 2, 3, ... (nothing lost,
 * nothing twice), and UDP datagrams must come from the child's port. "D k"
 * once k came on all three. Usage: dgramq N */
#include <arpa/inet.h>
#include <errno.h>
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
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int dg[2], sq[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, dg);
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq);
  int ur = socket(AF_INET, SOCK_DGRAM, 0), us = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
  a.sin_addr.s_addr = b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(ur, (struct sockaddr *)&a, sizeof a);
  getsockname(ur, (struct sockaddr *)&a, &len);
  bind(us, (struct sockaddr *)&b, sizeof b);
  len = sizeof b;
  getsockname(us, (struct sockaddr *)&b, &len);
  connect(us, (struct sockaddr *)&a, sizeof a);
  pid_t pid = fork();
  if (pid == 0) {
    for (int k = 1; k <= n; k++) {
      char m[16];
      int l = snprintf(m, sizeof m, "%d", k);
      send(us, m, (size_t)l, 0);
      send(dg[1], m, (size_t)l, 0);
      send(sq[1], m, (size_t)l, 0);
      nap(20);
    }
    _exit(0);
  }
  for (int k = 1; k <= n; k++) {
    int fds[3] = { ur, dg[0], sq[0] };
    for (int c = 0; c < 3; c++) {
      char m[16];
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      ssize_t r;
      while ((r = recvfrom(fds[c], m, sizeof m - 1, 0, c ? 0 : (struct sockaddr *)&from, c ? 0 : &fl)) < 0 && errno == EINTR) {}
      if (r <= 0) { printf("CORRUPT channel %d: recv gave %zd errno %d\n", c, r, errno); return 3; }
      m[r] = 0;
      if (atoi(m) != k) { printf("CORRUPT channel %d gave %s, expected %d\n", c, m, k); return 3; }
      if (c == 0 && from.sin_port != b.sin_port) { printf("CORRUPT a datagram from port %d, not the child's %d\n", ntohs(from.sin_port), ntohs(b.sin_port)); return 3; }
    }
    printf("D %d\n", k);
    nap(40);
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
