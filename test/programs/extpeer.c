/* A connection to a server outside the computation. The program sends "k"
 * and reads the echo ("X k"); when the connection drops (ECONNRESET or EOF:
 * what a restart gives a socket whose peer was not checkpointed) it prints
 * "RESET" and connects again, going on with the next number, as a client of
 * a remote service would. An echo that is not the number sent is CORRUPT.
 * Usage: extpeer PORT N */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int dial(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int tries = 0; tries < 50; tries++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) == 0) return c;
    close(c);
    nap(100);
  }
  return -1;
}

int main(int argc, char **argv) {
  int port = atoi(argv[1]), n = argc > 2 ? atoi(argv[2]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int c = dial(port);
  if (c < 0) { printf("CORRUPT cannot connect\n"); return 3; }
  for (int k = 1; k <= n;) {
    char line[32], buf[32];
    int len = snprintf(line, sizeof line, "%d\n", k), got = 0;
    if (write(c, line, (size_t)len) == len) {
      while (got < len) {
        ssize_t r = read(c, buf + got, (size_t)(len - got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (int)r;
      }
    }
    if (got < len) {   /* dropped: connect again, send the same number again */
      printf("RESET\n");
      close(c);
      if ((c = dial(port)) < 0) { printf("CORRUPT cannot connect again\n"); return 3; }
      continue;
    }
    if (memcmp(buf, line, (size_t)len)) { printf("CORRUPT echo for %d\n", k); return 3; }
    printf("X %d\n", k++);
    nap(40);
  }
  printf("DONE %d\n", n);
  return 0;
}
