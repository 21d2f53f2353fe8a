/* Thread identity inside glibc across restarts. A worker thread locks, at
 * start, a mutex of every type (normal, recursive twice, error-checking,
 * robust, priority-inheritance) and a rwlock for writing, and holds them
 * while the program is checkpointed and restarted. Every tick main reads the
 * process's CPU-time clock and the worker's (ids taken at start) and each
 * must work and never go back. A waiter thread sits in
 * pthread_mutex_timedlock on the normal mutex with a 60 s deadline. Near the
 * end (after the restarts) the worker checks that it still owns what it
 * locked: relocking the error-checking mutex says EDEADLK, the recursive one
 * takes two unlocks and then says EPERM, every unlock succeeds; then main
 * can take each one (trylock, then timedlock), and the waiter got the
 * normal mutex once the worker let it go, without timing out. "O k" per
 * tick; anything else: CORRUPT.
 * Usage: owners N (ticks of 100 ms) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t normal, recursive, errorcheck, robust, pi;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile int tick, released, waiter_got = -1, worker_done, main_done, failed;
static clockid_t worker_clock;

#define FAIL(...) do { printf(__VA_ARGS__); failed = 1; return 0; } while (0)

static void nap(void) {
  struct timespec t = { 0, 100 * 1000000L };
  while (nanosleep(&t, &t) != 0) {}
}

static void make(pthread_mutex_t *m, int type, int robustness, int protocol) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, type);
  pthread_mutexattr_setrobust(&a, robustness);
  pthread_mutexattr_setprotocol(&a, protocol);
  pthread_mutex_init(m, &a);
  pthread_mutexattr_destroy(&a);
}

static int end_tick;

static void *worker(void *unused) {
  (void)unused;
  if (pthread_getcpuclockid(pthread_self(), &worker_clock)) FAIL("CORRUPT no thread clock\n");
  int r;
  if ((r = pthread_mutex_lock(&normal)) || (r = pthread_mutex_lock(&recursive)) || (r = pthread_mutex_lock(&recursive)) ||
      (r = pthread_mutex_lock(&errorcheck)) || (r = pthread_mutex_lock(&robust)) || (r = pthread_mutex_lock(&pi)) ||
      (r = pthread_rwlock_wrlock(&rw)))
    FAIL("CORRUPT locking at start: %s\n", strerror(r));
  while (tick < end_tick) {
    volatile double x = 0;
    for (int i = 0; i < 100000; i++) x += i;   /* some CPU time of its own */
    nap();
  }
  /* still the owner of everything, as glibc sees it */
  if ((r = pthread_mutex_lock(&errorcheck)) != EDEADLK) FAIL("CORRUPT relocking the error-checking mutex gave %s, not EDEADLK\n", strerror(r));
  if ((r = pthread_mutex_unlock(&errorcheck))) FAIL("CORRUPT error-checking unlock: %s\n", strerror(r));
  if ((r = pthread_mutex_unlock(&recursive)) || (r = pthread_mutex_unlock(&recursive))) FAIL("CORRUPT recursive unlock: %s\n", strerror(r));
  if ((r = pthread_mutex_unlock(&recursive)) != EPERM) FAIL("CORRUPT a third recursive unlock gave %s, not EPERM\n", strerror(r));
  if ((r = pthread_mutex_unlock(&robust))) FAIL("CORRUPT robust unlock: %s\n", strerror(r));
  if ((r = pthread_mutex_unlock(&pi))) FAIL("CORRUPT priority-inheritance unlock: %s\n", strerror(r));
  if ((r = pthread_rwlock_unlock(&rw))) FAIL("CORRUPT rwlock unlock: %s\n", strerror(r));
  released = 1;
  if ((r = pthread_mutex_unlock(&normal))) FAIL("CORRUPT normal unlock: %s\n", strerror(r));
  worker_done = 1;
  while (!main_done) nap();   /* its clock stays readable until main is done */
  return 0;
}

static void *waiter(void *unused) {
  (void)unused;
  struct timespec at;
  clock_gettime(CLOCK_REALTIME, &at);
  at.tv_sec += 60;
  int r = pthread_mutex_timedlock(&normal, &at);
  if (r == 0 && !released) FAIL("CORRUPT the waiter got the mutex before the worker let it go\n");
  waiter_got = r;
  if (r == 0) pthread_mutex_unlock(&normal);
  return 0;
}

static int64_t read_clock(clockid_t c, const char *what) {
  struct timespec t;
  if (clock_gettime(c, &t) != 0) { printf("CORRUPT clock_gettime of the %s clock: %s\n", what, strerror(errno)); return -1; }
  if (clock_getres(c, &t) != 0) { printf("CORRUPT clock_getres of the %s clock: %s\n", what, strerror(errno)); return -1; }
  clock_gettime(c, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  end_tick = n - 5;
  setvbuf(stdout, 0, _IOLBF, 0);
  make(&normal, PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
  make(&recursive, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
  make(&errorcheck, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_NONE);
  make(&robust, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_ROBUST, PTHREAD_PRIO_NONE);
  make(&pi, PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_STALLED, PTHREAD_PRIO_INHERIT);
  clockid_t process_clock;
  if (clock_getcpuclockid(getpid(), &process_clock)) { printf("CORRUPT no process clock\n"); return 3; }
  pthread_t w, t;
  pthread_create(&w, 0, worker, 0);
  while (!worker_clock && !failed) nap();
  pthread_create(&t, 0, waiter, 0);
  clockid_t worker_clock_main;
  if (pthread_getcpuclockid(w, &worker_clock_main)) { printf("CORRUPT no clock for the worker\n"); return 3; }
  int64_t last_p = 0, last_w = 0;
  for (tick = 1; tick <= n && !failed; tick++) {
    int64_t p = read_clock(process_clock, "process"), c = read_clock(worker_clock, "worker's"), m = read_clock(worker_clock_main, "worker's (from main)");
    if (p < 0 || c < 0 || m < 0) return 3;
    if (p < last_p || c < last_w) { printf("CORRUPT a CPU clock went back\n"); return 3; }
    last_p = p; last_w = c;
    printf("O %d\n", tick);
    nap();
  }
  main_done = 1;
  pthread_join(w, 0);
  pthread_join(t, 0);
  if (failed) return 3;
  if (waiter_got != 0) { printf("CORRUPT the timed waiter ended with %s\n", strerror(waiter_got)); return 3; }
  pthread_mutex_t *all[] = { &normal, &recursive, &errorcheck, &robust, &pi };
  for (int i = 0; i < 5; i++) {
    int r = pthread_mutex_trylock(all[i]);
    if (r) { printf("CORRUPT mutex %d is still held: %s\n", i, strerror(r)); return 3; }
    pthread_mutex_unlock(all[i]);
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += 2;
    if ((r = pthread_mutex_timedlock(all[i], &at))) { printf("CORRUPT timedlock of free mutex %d: %s\n", i, strerror(r)); return 3; }
    pthread_mutex_unlock(all[i]);
  }
  if (pthread_rwlock_trywrlock(&rw)) { printf("CORRUPT the rwlock is still held\n"); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
