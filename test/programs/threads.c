/* Eight worker threads, each with its own counter, heap buffer checksum, TLS value
 * and errno; a mutex/condition-variable ping-pong pair; a detached thread; a
 * short-lived thread created and joined every tick; signals sent with
 * pthread_kill and with tgkill on the ids the program saw. The main thread checks
 * everything every tick and at the end prints "DONE ok" or "FAIL <why>".
 * Across a checkpoint/restart nothing may go backwards, stop, or change. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 8
#define BUF_SIZE (1 << 20)
#define TICK_MS 100

static volatile int stop;
static volatile long counters[WORKERS];
static volatile int worker_tid[WORKERS];
static volatile long usr1_hits[WORKERS];
static volatile long pings, pongs;
static volatile long detached_count;
static char failure[256];
static __thread int tls_value;

static void fail(const char *why, long a, long b) {
  if (!failure[0]) snprintf(failure, sizeof failure, "%s (%ld vs %ld)", why, a, b);
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static unsigned long checksum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 64) h = (h ^ p[i]) * 1099511628211UL;
  return h;
}

static int worker_index(void) {
  int me = gettid();
  for (int i = 0; i < WORKERS; i++) if (worker_tid[i] == me) return i;
  return -1;
}

static void on_usr1(int sig) {
  (void)sig;
  int i = worker_index();
  if (i >= 0) usr1_hits[i]++;
}

static void *worker(void *arg) {
  int i = (int)(long)arg;
  worker_tid[i] = gettid();
  tls_value = 1000 + i;
  unsigned char *buf = malloc(BUF_SIZE);
  for (int k = 0; k < BUF_SIZE; k++) buf[k] = (unsigned char)(k * (i + 3));
  unsigned long sum = checksum(buf, BUF_SIZE);
  int my_tid = gettid();
  while (!stop) {
    errno = 200 + i;
    counters[i]++;
    if (tls_value != 1000 + i) fail("tls value changed", tls_value, 1000 + i);
    if (gettid() != my_tid) fail("gettid changed", gettid(), my_tid);
    if (syscall(SYS_gettid) != my_tid) fail("syscall(SYS_gettid) changed", syscall(SYS_gettid), my_tid);
    if (errno != 200 + i) fail("errno changed", errno, 200 + i);
    if ((counters[i] & 15) == 0 && checksum(buf, BUF_SIZE) != sum) fail("buffer checksum", i, 0);
    sleep_ms(2);
  }
  free(buf);
  return (void *)(long)(100 + i);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;  /* 0: ping's turn, 1: pong's */

static void *pinger(void *arg) {
  int me = (int)(long)arg;
  while (!stop) {
    pthread_mutex_lock(&lock);
    while (turn != me && !stop) pthread_cond_wait(&turn_changed, &lock);
    if (!stop) {
      if (me == 0) pings++; else pongs++;
      if (pings - pongs < 0 || pings - pongs > 1) fail("ping-pong out of step", pings, pongs);
      turn = 1 - me;
      pthread_cond_broadcast(&turn_changed);
    }
    pthread_mutex_unlock(&lock);
  }
  return 0;
}

static void *detached(void *arg) {
  (void)arg;
  for (;;) { detached_count++; sleep_ms(5); }
  return 0;
}

static void *short_lived(void *arg) { return (void *)((long)arg * 2); }

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 50;
  pid_t pid = getpid();
  signal(SIGUSR1, on_usr1);
  pthread_t workers[WORKERS], ping, pong, det;
  for (long i = 0; i < WORKERS; i++) pthread_create(&workers[i], 0, worker, (void *)i);
  pthread_create(&ping, 0, pinger, (void *)0L);
  pthread_create(&pong, 0, pinger, (void *)1L);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&det, &attr, detached, 0);
  long last[WORKERS] = { 0 }, last_pings = 0, last_detached = 0;
  for (int t = 1; t <= ticks; t++) {
    sleep_ms(TICK_MS);
    pthread_t tmp;
    void *ret = 0;
    if (pthread_create(&tmp, 0, short_lived, (void *)(long)t) != 0 || pthread_join(tmp, &ret) != 0 ||
        (long)ret != 2L * t)
      fail("short-lived thread", (long)ret, 2L * t);
    if (getpid() != pid) fail("getpid changed", getpid(), pid);
    if (gettid() != pid) fail("main gettid is not the pid", gettid(), pid);
    pthread_kill(workers[t % WORKERS], SIGUSR1);
    if (worker_tid[(t + 1) % WORKERS])
      syscall(SYS_tgkill, getpid(), worker_tid[(t + 1) % WORKERS], SIGUSR1);
    long sum = 0;
    for (int i = 0; i < WORKERS; i++) {
      if (counters[i] < last[i]) fail("counter went backwards", counters[i], last[i]);
      last[i] = counters[i];
      sum += counters[i];
    }
    if (pings < last_pings) fail("pings went backwards", pings, last_pings);
    if (detached_count < last_detached) fail("detached count went backwards", detached_count, last_detached);
    last_pings = pings;
    last_detached = detached_count;
    printf("tick %d sum %ld pings %ld\n", t, sum, pings);
    fflush(stdout);
  }
  /* Everything must still be moving at the end. */
  long before[WORKERS], pings_before = pings, det_before = detached_count;
  for (int i = 0; i < WORKERS; i++) before[i] = counters[i];
  sleep_ms(300);
  for (int i = 0; i < WORKERS; i++) if (counters[i] == before[i]) fail("a worker stopped", i, counters[i]);
  if (pings == pings_before) fail("ping-pong stopped", pings, pings_before);
  if (detached_count == det_before) fail("detached thread stopped", detached_count, det_before);
  long hits = 0;
  for (int i = 0; i < WORKERS; i++) hits += usr1_hits[i];
  if (hits == 0) fail("no SIGUSR1 reached a worker", hits, 0);
  stop = 1;
  pthread_mutex_lock(&lock);
  pthread_cond_broadcast(&turn_changed);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < WORKERS; i++) {
    void *ret;
    if (pthread_join(workers[i], &ret) != 0 || (long)ret != 100 + i) fail("join worker", (long)ret, 100 + i);
  }
  pthread_join(ping, 0);
  pthread_join(pong, 0);
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok signals %ld\n", hits);
  return 0;
}
