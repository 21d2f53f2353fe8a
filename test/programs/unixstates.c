/* The states a Unix stream socket can be in around a listener, which a
 * restart must tell apart:
 *   L  a listener with listen(fd, 0): its queue is full with one connection
 *   P  a client in L's queue, not accepted yet (its peer has no inode)
 *   C  a client L accepted whose accepted end was closed (no inode either)
 *   U  a socket never connected
 * Every step checks: a non-blocking connect to L fails with EAGAIN (the
 * backlog is 0 and full), C reads EOF, U has no peer. At the end: L accepts
 * exactly one connection, P's, which carries a byte P sends; then U connects.
 * Prints "S k" per step, then "DONE N"; "CORRUPT <why>" and exit 3.
 * Usage: unixstates N */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un name;

static int fail(const char *what) { printf("CORRUPT %s (%s)\n", what, strerror(errno)); return 3; }

static int stream(void) { return socket(AF_UNIX, SOCK_STREAM, 0); }
static int connect_to_l(int s) { return connect(s, (struct sockaddr *)&name, sizeof name); }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  name.sun_family = AF_UNIX;   /* an abstract name: nothing to remove */
  snprintf(name.sun_path + 1, sizeof name.sun_path - 1, "dmtcp-test-unixstates-%d", getpid());
  int l = stream(), c = stream(), p = stream(), u = stream();
  if (bind(l, (struct sockaddr *)&name, sizeof name) != 0 || listen(l, 0) != 0) return fail("listen");
  if (connect_to_l(c) != 0) return fail("connect C");
  int a = accept(l, 0, 0);
  if (a < 0) return fail("accept C");
  close(a);
  if (connect_to_l(p) != 0) return fail("connect P");
  for (int k = 1; k <= n; k++) {
    struct timespec t = { 0, 100000000 };
    while (nanosleep(&t, &t) != 0) {}
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    errno = 0;
    if (connect_to_l(probe) == 0 || errno != EAGAIN) { printf("CORRUPT a connect to the full listener did not fail with EAGAIN: %s\n", strerror(errno)); return 3; }
    close(probe);
    char b;
    if (recv(c, &b, 1, MSG_DONTWAIT | MSG_PEEK) != 0) return fail("C does not read EOF");
    struct sockaddr_un peer;
    socklen_t len = sizeof peer;
    errno = 0;
    if (getpeername(u, (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN) { printf("CORRUPT U has a peer: %s\n", strerror(errno)); return 3; }
    printf("S %d\n", k);
  }
  if (fcntl(l, F_SETFL, O_NONBLOCK) != 0) return fail("fcntl");
  a = accept(l, 0, 0);
  if (a < 0) return fail("P's connection is not in the queue");
  if (send(p, "p", 1, 0) != 1) return fail("P cannot send");
  char b = 0;
  if (recv(a, &b, 1, 0) != 1 || b != 'p') return fail("P's byte");
  close(a);
  if (accept(l, 0, 0) >= 0 || errno != EAGAIN) return fail("a second connection was in the queue");
  if (connect_to_l(u) != 0) return fail("U cannot connect");
  if ((a = accept(l, 0, 0)) < 0) return fail("U's connection");
  printf("DONE %d\n", n);
  return 0;
}
