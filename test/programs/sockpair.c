/* Bytes in flight both ways through a Unix socketpair between a parent and
 * its child, across checkpoints and restarts. Each side sends consecutive
 * 64-bit numbers as fast as the socket takes them (non-blocking) and reads
 * the other side's, checking that each is the one after the last: a lost or
 * repeated byte is CORRUPT. Each reads less per turn than it sends, so both
 * queues stay full. The parent prints "R k" every 10000 numbers it
 * got; after N of those it prints DONE N. With "tcp", the same over a TCP
 * connection on 127.0.0.1 (full windows hold bytes back in the senders' send
 * queues). Usage: sockpair N [tcp] */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 2048
#define REPORT 10000
#define RECV_MAX 2048   /* read less than we send: the queues stay full */

struct side {
  int fd;
  uint64_t next_out, next_in;
  unsigned char in[BLOCK * 8];
  size_t have;
  unsigned char rest[8];   /* the unsent tail of a number a send cut */
  size_t rest_len;
};

static int pump(struct side *s, const char *who) {
  /* First the tail of a cut number, without blocking: both sides may be
   * sending into full queues at once, and only reading frees them. */
  while (s->rest_len) {
    ssize_t m = send(s->fd, s->rest + 8 - s->rest_len, s->rest_len, MSG_DONTWAIT);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && errno == EAGAIN) break;
    if (m <= 0) return -1;
    s->rest_len -= (size_t)m;
  }
  uint64_t out[BLOCK];
  for (int i = 0; i < BLOCK; i++) out[i] = s->next_out + (uint64_t)i;
  ssize_t w = s->rest_len ? -1 : send(s->fd, out, sizeof out, MSG_DONTWAIT);
  if (w < 0 && s->rest_len) errno = EAGAIN;
  if (w > 0) {
    /* partial numbers are fine: the stream carries bytes; the cut one is finished first next time */
    size_t whole = (size_t)w / 8, part = (size_t)w % 8;
    s->next_out += whole;
    if (part) {
      memcpy(s->rest, &out[whole], 8);
      s->rest_len = 8 - part;
      s->next_out++;
    }
  } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
    return -1;
  }
  size_t room = sizeof s->in - s->have;
  ssize_t r = recv(s->fd, s->in + s->have, room < RECV_MAX ? room : RECV_MAX, MSG_DONTWAIT);
  if (r == 0) return -1;
  if (r < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  s->have += (size_t)r;
  size_t whole = s->have / 8;
  int got = 0;
  for (size_t i = 0; i < whole; i++) {
    uint64_t v;
    memcpy(&v, s->in + i * 8, 8);
    if (v != s->next_in) { printf("CORRUPT %s got %llu want %llu\n", who, (unsigned long long)v, (unsigned long long)s->next_in); exit(3); }
    s->next_in++;
    got++;
  }
  memmove(s->in, s->in + whole * 8, s->have - whole * 8);
  s->have -= whole * 8;
  return got;
}

static void pause_a_little(void) {
  struct timespec ts = { 0, 1000 * 1000 };
  nanosleep(&ts, 0);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  setvbuf(stdout, 0, _IOLBF, 0);
  signal(SIGPIPE, SIG_IGN);
  int sv[2];
  if (argc > 2 && !strcmp(argv[2], "tcp")) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&a, &len);
    sv[1] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(sv[1], (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 2; }
    sv[0] = accept(l, 0, 0);
    close(l);
  } else if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) { perror("socketpair"); return 2; }
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    struct side s = { .fd = sv[1] };
    for (;;) { if (pump(&s, "child") < 0) return 0; pause_a_little(); }
  }
  close(sv[1]);
  struct side s = { .fd = sv[0] };
  for (int k = 1; k <= n;) {
    if (pump(&s, "parent") < 0) { printf("CORRUPT the child went away\n"); return 3; }
    while (s.next_in >= (uint64_t)k * REPORT && k <= n) printf("R %d\n", k++);
    pause_a_little();
  }
  printf("DONE %d\n", n);
  close(sv[0]);
  int status;
  waitpid(child, &status, 0);
  return 0;
}
