/* A TCP server without SO_REUSEADDR that closes its connections first, so its
 * port holds TIME_WAIT connections when it is checkpointed and killed: a
 * restart must still listen at that port. Every tick a client connects, the
 * server accepts, closes first, the client closes; the program checks that
 * its listener is still at its first port and accepts there, and that
 * getsockopt(SO_REUSEADDR) says 0, as the program left it, on the listener and
 * on what it accepts. Prints "tick i", CORRUPT on anything wrong, DONE n.
 * Usage: tcpreuse N [exec]: with exec, the program makes its listener, then
 * execs itself with it ("tcpreuse N fd <fd>"), and the new program goes on
 * with that listener (its SO_REUSEADDR must still read 0). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int reuse_of(int fd) {
  int v = -1;
  socklen_t len = sizeof v;
  getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &len);
  return v;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr *)&a, &len) != 0) return -1;
  return ntohs(a.sin_port);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  int l;
  if (argc > 3 && !strcmp(argv[2], "fd")) {
    l = atoi(argv[3]);   /* the listener the program before the exec made */
    printf("EXECED\n");
  } else {
    l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 8) != 0) { printf("CORRUPT cannot listen\n"); return 1; }
    if (argc > 2 && !strcmp(argv[2], "exec")) {
      char fd[16];
      snprintf(fd, sizeof fd, "%d", l);
      execl("/proc/self/exe", argv[0], argv[1], "fd", fd, (char *)0);
      printf("CORRUPT exec failed\n");
      return 1;
    }
  }
  int port = port_of(l);
  for (int i = 1; i <= n; i++) {
    if (port_of(l) != port) printf("CORRUPT the listener moved from port %d to %d\n", port, port_of(l));
    if (reuse_of(l) != 0) printf("CORRUPT the listener says SO_REUSEADDR %d\n", reuse_of(l));
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&to, sizeof to) != 0) { printf("CORRUPT cannot connect to port %d\n", port); return 1; }
    int s = accept(l, 0, 0);
    if (s < 0) { printf("CORRUPT accept failed\n"); return 1; }
    if (reuse_of(s) != 0) printf("CORRUPT an accepted connection says SO_REUSEADDR %d\n", reuse_of(s));
    close(s);   /* the server first: TIME_WAIT at the server's port */
    struct timespec t = { 0, 20000000 };
    nanosleep(&t, 0);
    close(c);
    nanosleep(&t, 0);
    printf("tick %d\n", i);
  }
  printf("DONE %d\n", n);
  return 0;
}
