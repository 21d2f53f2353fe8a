/* For bench/sockets.sh: P connected TCP pairs on 127.0.0.1 in one process,
 * BYTES written into each end so that both receive queues hold them, then
 * idle until killed. With P=0 it holds the same bytes in plain memory
 * instead, so that the two images carry as much: the difference a checkpoint
 * shows is the sockets' own cost. Prints "ready" once set up.
 * Usage: tcppairs P BYTES */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int pairs = atoi(argv[1]);
  size_t bytes = (size_t)atol(argv[2]);
  char *data = malloc(bytes);
  for (size_t i = 0; i < bytes; i++) data[i] = (char)(i * 131 + 7);
  if (pairs == 0) {
    /* the bytes the sockets would hold, both ends of every pair of the other run */
    size_t total = 2 * 100 * bytes;
    char *mem = malloc(total);
    for (size_t i = 0; i < total; i++) mem[i] = data[i % bytes];
  }
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 512);
  getsockname(l, (struct sockaddr *)&a, &len);
  for (int p = 0; p < pairs; p++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    int s = accept(l, 0, 0);
    if (write(c, data, bytes) != (ssize_t)bytes || write(s, data, bytes) != (ssize_t)bytes) { perror("write"); return 1; }
  }
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}
