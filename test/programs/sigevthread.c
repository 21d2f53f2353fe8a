/* glibc's SIGEV_THREAD timers: one periodic timer (every 50 ms its callback,
 * on a thread glibc starts, adds one) must tick on across restarts; and each
 * tick also makes a one-shot SIGEV_THREAD timer, waits for its callback and
 * deletes it (timer_create, timer_settime, timer_delete), after a restart
 * too. Prints "T i <ticks>" every 200 ms, "DONE N" at the end; a tick or a
 * callback that does not come: "CORRUPT <why>", exit 3. Usage: sigevthread N */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile int ticks, once;
static void tick(union sigval v) { (void)v; __atomic_add_fetch(&ticks, 1, __ATOMIC_SEQ_CST); }
static void one(union sigval v) { __atomic_store_n(&once, v.sival_int, __ATOMIC_SEQ_CST); }

static void nap_ms(long ms) {
  struct timespec s = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&s, &s)) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigevent sev = { 0 };
  sev.sigev_notify = SIGEV_THREAD;
  sev.sigev_notify_function = tick;
  timer_t t;
  if (timer_create(CLOCK_MONOTONIC, &sev, &t)) { printf("CORRUPT timer_create\n"); return 3; }
  struct itimerspec every = { { 0, 50000000 }, { 0, 50000000 } };
  timer_settime(t, 0, &every, 0);
  int last = 0;
  for (int i = 1; i <= n; i++) {
    struct sigevent oev = { 0 };
    oev.sigev_notify = SIGEV_THREAD;
    oev.sigev_notify_function = one;
    oev.sigev_value.sival_int = i;
    timer_t o;
    if (timer_create(CLOCK_MONOTONIC, &oev, &o)) { printf("CORRUPT one-shot timer_create at %d\n", i); return 3; }
    struct itimerspec soon = { { 0, 0 }, { 0, 10000000 } };
    if (timer_settime(o, 0, &soon, 0)) { printf("CORRUPT one-shot timer_settime at %d\n", i); return 3; }
    nap_ms(200);
    /* a callback runs on a thread glibc (or the agent) starts: on a loaded
     * machine that may take a while; 5 s is "never" */
    for (int w = 0; w < 250 && once != i; w++) nap_ms(20);
    if (once != i) { printf("CORRUPT one-shot %d did not call back (%d)\n", i, once); return 3; }
    if (timer_delete(o)) { printf("CORRUPT timer_delete at %d\n", i); return 3; }
    for (int w = 0; w < 250 && ticks <= last; w++) nap_ms(20);
    int f = ticks;
    if (f <= last) { printf("CORRUPT no tick since %d\n", last); return 3; }
    last = f;
    printf("T %d %d\n", i, f);
  }
  printf("DONE %d\n", n);
  return 0;
}
