/* An epoll set, a signalfd and a timerfd made before a fork are one each,
 * held by parent and child: what the child changes in them, the parent sees.
 * Each tick k the child changes all three (the data of the set's one watch,
 * the timer's period, the signalfd's mask), then tells the parent k on a
 * pipe; the parent checks that its epoll_wait reports the child's data, that
 * timerfd_gettime gives the child's period and that its fdinfo shows the
 * child's mask. A restart that made one of each per process makes the
 * parent see what it last saw itself: CORRUPT.
 * Prints "T <k>" per tick, "DONE <n>" at the end. Usage: anonshare N */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 100000000L
#define HOUR_S 3600

static int ep, sfd, tfd, ready;

/* the state the child gives the three at tick k */
static uint64_t data_of(int k) { return 0x5eed0000ULL + (uint64_t)k; }
static long period_of(int k) { return 1000L + k; }   /* seconds: the timer never fires */
static int signal_of(int k) { return SIGRTMIN + (k % 8); }

static void child_sets(int k) {
  struct epoll_event ev = { .events = EPOLLIN, .data = { .u64 = data_of(k) } };
  if (epoll_ctl(ep, EPOLL_CTL_MOD, ready, &ev) != 0) { printf("CORRUPT child: epoll_ctl MOD failed\n"); exit(3); }
  struct itimerspec spec = { { period_of(k), 0 }, { HOUR_S, 0 } };
  if (timerfd_settime(tfd, 0, &spec, 0) != 0) { printf("CORRUPT child: timerfd_settime failed\n"); exit(3); }
  sigset_t m; sigemptyset(&m); sigaddset(&m, signal_of(k));
  if (signalfd(sfd, &m, 0) != sfd) { printf("CORRUPT child: signalfd failed\n"); exit(3); }
}

static uint64_t fdinfo_sigmask(int fd) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strstr(buf, "sigmask:");
  return p ? strtoull(p + 8, 0, 16) : 0;
}

static int parent_checks(int k) {
  struct epoll_event ev;
  if (epoll_wait(ep, &ev, 1, 1000) != 1) { printf("CORRUPT the set reports nothing at tick %d\n", k); return 0; }
  if (ev.data.u64 != data_of(k)) { printf("CORRUPT the set's watch has data %llx, not the child's %llx\n", (unsigned long long)ev.data.u64, (unsigned long long)data_of(k)); return 0; }
  struct itimerspec now;
  if (timerfd_gettime(tfd, &now) != 0 || now.it_interval.tv_sec != period_of(k)) { printf("CORRUPT the timer's period is %ld s, not the child's %ld\n", (long)now.it_interval.tv_sec, period_of(k)); return 0; }
  uint64_t want = 1ULL << (signal_of(k) - 1);
  if (fdinfo_sigmask(sfd) != want) { printf("CORRUPT the signalfd's mask is %llx, not the child's %llx\n", (unsigned long long)fdinfo_sigmask(sfd), (unsigned long long)want); return 0; }
  return 1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  ready = eventfd(1, 0);   /* always readable: the set's one watch */
  ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data = { .u64 = 0 } };
  epoll_ctl(ep, EPOLL_CTL_ADD, ready, &ev);
  tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  sigset_t none; sigemptyset(&none);
  sfd = signalfd(-1, &none, 0);
  int ticks[2];
  if (ready < 0 || ep < 0 || tfd < 0 || sfd < 0 || pipe(ticks) != 0) { printf("CORRUPT setting up\n"); return 3; }
  pid_t child = fork();
  if (child == 0) {
    close(ticks[0]);
    for (int k = 1; k <= n; k++) {
      struct timespec t = { 0, TICK_NS };
      while (nanosleep(&t, &t) != 0) {}
      child_sets(k);
      if (write(ticks[1], &k, sizeof k) != sizeof k) _exit(3);
    }
    _exit(0);
  }
  close(ticks[1]);
  for (int k = 1; k <= n; k++) {
    int got;
    if (read(ticks[0], &got, sizeof got) != sizeof got || got != k) { printf("CORRUPT tick %d from the child: %d\n", k, got); return 3; }
    if (!parent_checks(k)) return 3;
    printf("T %d\n", k);
  }
  int status;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { printf("CORRUPT the child ended with %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
