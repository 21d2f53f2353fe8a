/* epoll across checkpoints: one process waits on an epoll set holding a
 * periodic timerfd (level-triggered), an eventfd (edge-triggered), a pipe's
 * read end (level-triggered) and a nested epoll set that watches a second
 * pipe. Every wake-up must carry the data word each watch was added with.
 * Each step (a timer expiry) writes one byte to each pipe and 1 to the
 * eventfd; the step's events must then report every source once, the pipe
 * bytes must read back in order (step number mod 256), the inner set must
 * report its pipe. Anything missing or wrong is CORRUPT. Prints "P k" per
 * step. Usage: epollmix N */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { TAG_TIMER = 0x7100, TAG_EVENT = 0x7200, TAG_PIPE = 0x7300, TAG_INNER = 0x7400, TAG_INNER_PIPE = 0x7500 };

static void add(int ep, int fd, uint32_t events, uint64_t tag) {
  struct epoll_event ev = { .events = events, .data = { .u64 = tag } };
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int ep = epoll_create1(EPOLL_CLOEXEC), inner = epoll_create1(0);
  int tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  int ev = eventfd(0, EFD_NONBLOCK);
  int p[2], q[2];
  pipe2(p, O_NONBLOCK);
  pipe2(q, O_NONBLOCK);
  struct itimerspec every = { { 0, 40000000L }, { 0, 40000000L } };
  timerfd_settime(tick, 0, &every, 0);
  add(ep, tick, EPOLLIN, TAG_TIMER);
  add(ep, ev, EPOLLIN | EPOLLET, TAG_EVENT);
  add(ep, p[0], EPOLLIN, TAG_PIPE);
  add(inner, q[0], EPOLLIN, TAG_INNER_PIPE);
  add(ep, inner, EPOLLIN, TAG_INNER);
  for (int k = 1; k <= n;) {
    struct epoll_event out[8];
    int got = epoll_wait(ep, out, 8, 2000);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) { printf("CORRUPT epoll_wait gave %d (errno %d) at step %d\n", got, errno, k); return 3; }
    int ticked = 0;
    for (int i = 0; i < got; i++) {
      uint64_t v;
      unsigned char b;
      struct epoll_event ie;
      switch (out[i].data.u64) {
        case TAG_TIMER: if (read(tick, &v, 8) == 8) ticked = 1; break;
        case TAG_EVENT: while (read(ev, &v, 8) == 8) {} break;
        case TAG_PIPE:
          while (read(p[0], &b, 1) == 1) if (b != (unsigned char)(k - 1)) { printf("CORRUPT pipe gave %u at step %d\n", b, k); return 3; }
          break;
        case TAG_INNER:
          if (epoll_wait(inner, &ie, 1, 0) != 1 || ie.data.u64 != TAG_INNER_PIPE) { printf("CORRUPT the inner set lost its watch\n"); return 3; }
          while (read(q[0], &b, 1) == 1) if (b != (unsigned char)(k - 1)) { printf("CORRUPT inner pipe gave %u at step %d\n", b, k); return 3; }
          break;
        default: printf("CORRUPT unknown data word 0x%llx\n", (unsigned long long)out[i].data.u64); return 3;
      }
    }
    if (!ticked) continue;
    unsigned char b = (unsigned char)k;
    uint64_t one = 1;
    write(p[1], &b, 1);
    write(q[1], &b, 1);
    write(ev, &one, 8);
    /* Everything written must be reported before the next expiry. */
    struct epoll_event o2[8];
    int seen = 0, m = epoll_wait(ep, o2, 8, 1000);
    for (int i = 0; i < m; i++) {
      uint64_t v;
      unsigned char c;
      struct epoll_event ie;
      if (o2[i].data.u64 == TAG_EVENT) { seen |= 1; while (read(ev, &v, 8) == 8) {} }
      else if (o2[i].data.u64 == TAG_PIPE) { seen |= 2; while (read(p[0], &c, 1) == 1) if (c != b) { printf("CORRUPT pipe order\n"); return 3; } }
      else if (o2[i].data.u64 == TAG_INNER) {
        seen |= 4;
        if (epoll_wait(inner, &ie, 1, 0) != 1 || ie.data.u64 != TAG_INNER_PIPE) { printf("CORRUPT the inner set lost its watch\n"); return 3; }
        while (read(q[0], &c, 1) == 1) if (c != b) { printf("CORRUPT inner pipe order\n"); return 3; }
      } else if (o2[i].data.u64 == TAG_TIMER) { uint64_t t; read(tick, &t, 8); }
    }
    if (seen != 7) { printf("CORRUPT step %d: sources reported 0x%x of 0x7\n", k, seen); return 3; }
    printf("P %d\n", k++);
  }
  printf("DONE %d\n", n);
  return 0;
}
