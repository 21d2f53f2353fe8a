/* UDP inside the computation. The parent binds a port (the kernel picks
 * it); the child binds its own and connect()s to the parent's. The child
 * sends datagram k, the parent answers "k" to whoever sent it, the child
 * checks the answer ("U k"); then the parent checks the sender's port is the
 * child's, as at the start, and the child that its socket is still connected
 * to the parent's port. A datagram queued at a checkpoint may be lost at a
 * restart, as UDP may lose any: the child sends again after 300 ms without an
 * answer; a wrong or repeated answer is CORRUPT. Usage: udpping N */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

static int bound(struct sockaddr_in *a) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof *a;
  bind(s, (struct sockaddr *)a, sizeof *a);
  getsockname(s, (struct sockaddr *)a, &len);
  return s;
}

static int child(struct sockaddr_in *parent, int n) {
  struct sockaddr_in me, peer;
  int s = bound(&me);
  connect(s, (struct sockaddr *)parent, sizeof *parent);
  for (int k = 1; k <= n;) {
    char msg[32], buf[32];
    int len = snprintf(msg, sizeof msg, "%d", k);
    send(s, msg, (size_t)len, 0);
    struct pollfd p = { s, POLLIN, 0 };
    if (poll(&p, 1, 300) != 1) continue;   /* lost: send again */
    ssize_t r = recv(s, buf, sizeof buf - 1, 0);
    if (r <= 0) continue;
    buf[r] = 0;
    if (atoi(buf) < k) continue;            /* the answer to a resent one */
    if (atoi(buf) != k) { printf("CORRUPT answer %s to %d\n", buf, k); return 3; }
    socklen_t pl = sizeof peer;
    if (getpeername(s, (struct sockaddr *)&peer, &pl) < 0 || peer.sin_port != parent->sin_port) { printf("CORRUPT no longer connected to the parent\n"); return 3; }
    printf("U %d\n", k++);
    nap(40);
  }
  send(s, "0", 1, 0);   /* done */
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sockaddr_in me;
  int s = bound(&me);
  pid_t pid = fork();
  if (pid == 0) _exit(child(&me, n));
  in_port_t child_port = 0;
  for (;;) {
    char buf[32];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { printf("CORRUPT recvfrom errno %d\n", errno); return 3; }
    buf[r] = 0;
    if (!child_port) child_port = from.sin_port;
    if (from.sin_port != child_port) { printf("CORRUPT the child's port moved from %d to %d\n", ntohs(child_port), ntohs(from.sin_port)); return 3; }
    if (!strcmp(buf, "0")) break;
    sendto(s, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
