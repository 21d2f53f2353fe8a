/* timerfd across checkpoints. A periodic timer (every 50 ms) drives the
 * program: each read gives the expirations since the last one, and "T k" is
 * printed for every expiry, k counting on. After each wake-up it checks that
 * the period is still 50 ms; that a second timer, armed for one hour at the
 * start on CLOCK_REALTIME with an absolute deadline, still names the same
 * deadline; that a third, relative one-hour timer has not gained time; and
 * that a fourth, a one-shot of 1 ms that expired at the start and is never
 * read, is still disarmed with its expiry waiting (read at the end: 1).
 * Anything else is CORRUPT. Usage: timerticks N */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 50000000L
#define HOUR 3600

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int tick = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  int wall = timerfd_create(CLOCK_REALTIME, 0);
  int rel = timerfd_create(CLOCK_MONOTONIC, 0);
  int once = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct itimerspec every = { { 0, PERIOD_NS }, { 0, PERIOD_NS } }, cur;
  timerfd_settime(tick, 0, &every, 0);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  time_t deadline = now.tv_sec + HOUR;
  struct itimerspec at = { { 0, 0 }, { deadline, 0 } }, hour = { { 0, 0 }, { HOUR, 0 } }, ms = { { 0, 0 }, { 0, 1000000 } };
  timerfd_settime(wall, TFD_TIMER_ABSTIME, &at, 0);
  timerfd_settime(rel, 0, &hour, 0);
  timerfd_settime(once, 0, &ms, 0);
  struct pollfd p = { once, POLLIN, 0 };
  poll(&p, 1, 1000);   /* it expired; nobody reads it until the end */
  time_t rel_left = HOUR;
  int k = 0;
  while (k < n) {
    uint64_t got;
    if (read(tick, &got, 8) != 8) { if (errno == EINTR) continue; printf("CORRUPT read errno %d\n", errno); return 3; }
    for (uint64_t i = 0; i < got && k < n; i++) printf("T %d\n", ++k);
    timerfd_gettime(tick, &cur);
    if (cur.it_interval.tv_sec != 0 || cur.it_interval.tv_nsec != PERIOD_NS) { printf("CORRUPT period %ld ns\n", cur.it_interval.tv_nsec); return 3; }
    timerfd_gettime(wall, &cur);
    clock_gettime(CLOCK_REALTIME, &now);
    long off = (long)(now.tv_sec + cur.it_value.tv_sec) - (long)deadline;
    if (off < -2 || off > 2) { printf("CORRUPT wall deadline moved by %ld s\n", off); return 3; }
    timerfd_gettime(rel, &cur);
    if (cur.it_value.tv_sec > rel_left || cur.it_value.tv_sec < HOUR - 120) { printf("CORRUPT relative timer at %ld s\n", (long)cur.it_value.tv_sec); return 3; }
    rel_left = cur.it_value.tv_sec;
    timerfd_gettime(once, &cur);
    if (cur.it_value.tv_sec || cur.it_value.tv_nsec) { printf("CORRUPT the one-shot is armed again\n"); return 3; }
  }
  uint64_t unread = 0;
  if (read(once, &unread, 8) != 8 || unread != 1) { printf("CORRUPT the one-shot's expiry is gone (%llu)\n", (unsigned long long)unread); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
