/* POSIX timers and interval timers across checkpoints. setitimer(ITIMER_REAL)
 * ticks every 50 ms (SIGALRM, counted); a POSIX timer on CLOCK_MONOTONIC
 * signals SIGUSR1 every 30 ms with sigev_value 77 (the handler checks the
 * value and the timer id); a second POSIX timer, CLOCK_REALTIME, armed for one
 * hour, must keep its id and never gain time; a third, thread-directed
 * (SIGEV_THREAD_ID, SIGRTMIN to the main thread). "T k" for each SIGALRM;
 * after each, the POSIX tick counters must have moved on. Lost timers, a
 * wrong value or id, a timer that gained time: CORRUPT. Usage: timers N */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int alarms, ticks, rt_ticks, bad;
static timer_t fast, hour, directed;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  if (si->si_value.sival_int != 77 || si->si_timerid != (int)(long)fast) bad = 1;
  ticks++;
}
static void on_rt(int sig) { (void)sig; rt_ticks++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { .sa_handler = on_alarm };
  sigaction(SIGALRM, &sa, 0);
  struct sigaction su = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
  sigaction(SIGUSR1, &su, 0);
  struct sigaction sr = { .sa_handler = on_rt };
  sigaction(SIGRTMIN, &sr, 0);
  struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1, .sigev_value.sival_int = 77 };
  timer_create(CLOCK_MONOTONIC, &ev, &fast);
  struct sigevent none = { .sigev_notify = SIGEV_NONE };
  timer_create(CLOCK_REALTIME, &none, &hour);
  struct sigevent th = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN };
  th._sigev_un._tid = (int)syscall(SYS_gettid);
  timer_create(CLOCK_MONOTONIC, &th, &directed);
  struct itimerspec every30 = { { 0, 30000000 }, { 0, 30000000 } }, one_hour = { { 0, 0 }, { 3600, 0 } }, every70 = { { 0, 70000000 }, { 0, 70000000 } };
  timer_settime(fast, 0, &every30, 0);
  timer_settime(hour, 0, &one_hour, 0);
  timer_settime(directed, 0, &every70, 0);
  struct itimerval every50 = { { 0, 50000 }, { 0, 50000 } };
  setitimer(ITIMER_REAL, &every50, 0);
  long left = 3600;
  int seen = 0, last_ticks = 0, last_rt = 0;
  while (seen < n) {
    pause();
    if (bad) { printf("CORRUPT SIGUSR1 came with a wrong value or timer id\n"); return 3; }
    int before = seen;
    while (seen < alarms && seen < n) printf("T %d\n", ++seen);
    if (seen / 4 != before / 4) {   /* every 4 alarms (200 ms) */
      struct itimerspec cur;
      if (timer_gettime(hour, &cur) < 0) { printf("CORRUPT the hour timer's id is gone: errno %d\n", errno); return 3; }
      if (cur.it_value.tv_sec > left || cur.it_value.tv_sec < 3600 - 120) { printf("CORRUPT the hour timer at %ld s\n", (long)cur.it_value.tv_sec); return 3; }
      left = cur.it_value.tv_sec;
      if (ticks <= last_ticks || rt_ticks <= last_rt) { printf("CORRUPT the POSIX timers stopped (%d %d)\n", ticks, rt_ticks); return 3; }
      last_ticks = ticks;
      last_rt = rt_ticks;
    }
  }
  printf("DONE %d\n", n);
  return 0;
}
