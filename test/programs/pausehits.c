/* pause() and sigsuspend() must end on every signal of the program's that
 * runs a handler, even when it comes just as a checkpoint stops or resumes
 * the waiting thread. Two waiters (one in pause, one in sigsuspend), each
 * with a partner that sends it a signal, waits until the wait ended (the
 * waiter counts its returns), then sends the next after a short, varying
 * delay, so that sends fall at every point of the checkpoints the test runs
 * meanwhile. pause cannot tell a signal that came just before it from one
 * during it, so its partner sends only once the thread is seen in the
 * kernel's wait (/proc/self/task/<tid>/syscall); sigsuspend's signal is
 * blocked outside the wait and is sent at any time. A wait that a handled
 * signal did not end within 3 s is MISSED
 * (the partner then sends again, so the run goes on and counts them all).
 * Prints "DONE <pause waits> <sigsuspend waits> <missed>" after SECONDS.
 * Usage: pausehits SECONDS */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define ACK_WAIT_NS (3000 * MS)
#define SIG_A (SIGRTMIN + 4)
#define SIG_B (SIGRTMIN + 5)

struct waiter {
  const char *name;
  int sig;
  int use_sigsuspend;
  pthread_t thread;
  volatile int handled, returns, stop, tid;
  int missed;
};
static struct waiter waiters[2] = { { "pause", 0, 0 }, { "sigsuspend", 0, 1 } };
static volatile int finished;

static int64_t mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static void nap_ns(int64_t ns) {
  struct timespec t = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
  while (nanosleep(&t, &t) != 0) {}
}

static void on_signal(int sig) {
  for (int i = 0; i < 2; i++) if (waiters[i].sig == sig) waiters[i].handled++;
}

static void *wait_loop(void *arg) {
  struct waiter *w = arg;
  sigset_t open;   /* everything the thread blocks now, but its own signal */
  pthread_sigmask(SIG_BLOCK, 0, &open);
  sigdelset(&open, w->sig);
  w->tid = (int)syscall(SYS_gettid);
  while (!w->stop) {
    int r;
    errno = 0;
    if (w->use_sigsuspend) r = sigsuspend(&open);
    else r = pause();
    if (r != -1 || errno != EINTR) { printf("CORRUPT %s returned %d: %s\n", w->name, r, strerror(errno)); exit(3); }
    __atomic_add_fetch(&w->returns, 1, __ATOMIC_SEQ_CST);
  }
  return 0;
}

/* whether the thread waits in the kernel now (rt_sigsuspend or pause) */
static int in_kernel_wait(int tid) {
  char path[64], buf[32] = { 0 };
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  long nr = atol(buf);
  return nr == SYS_rt_sigsuspend || nr == SYS_pause;
}

static void *partner(void *arg) {
  struct waiter *w = arg;
  unsigned delay = 0;
  while (!finished) {
    int before = w->returns;
    if (!w->use_sigsuspend) while (!in_kernel_wait(w->tid) && !finished) nap_ns(MS / 4);
    int64_t sent = mono();
    pthread_kill(w->thread, w->sig);
    int64_t due = mono() + ACK_WAIT_NS;
    while (w->returns == before && mono() < due) nap_ns(MS / 4);
    if (w->returns == before) {
      w->missed++;
      char path[64], state[256] = { 0 };
      snprintf(path, sizeof path, "/proc/self/task/%d/syscall", w->tid);
      FILE *f = fopen(path, "r");
      if (f) { if (!fgets(state, sizeof state, f)) state[0] = 0; fclose(f); }
      state[strcspn(state, "\n")] = 0;
      printf("MISSED %s tid %d sent t=%lld after %d waits (handled %d; in %s)\n", w->name, w->tid, (long long)(sent / 1000), before, w->handled, state);
    }
    delay = (delay * 7 + 3) % 23;   /* 0..22 ms, no rhythm the checkpoints could lock to */
    nap_ns((int64_t)delay * MS / 2);
  }
  /* the waiter ends on one last signal */
  w->stop = 1;
  int before = w->returns;
  while (w->returns == before) { pthread_kill(w->thread, w->sig); nap_ns(50 * MS); }
  return 0;
}

int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 10;
  setvbuf(stdout, 0, _IOLBF, 0);
  waiters[0].sig = SIG_A;
  waiters[1].sig = SIG_B;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIG_A, &sa, 0);
  sigaction(SIG_B, &sa, 0);
  sigset_t both; sigemptyset(&both); sigaddset(&both, SIG_A); sigaddset(&both, SIG_B);
  pthread_sigmask(SIG_BLOCK, &both, 0);   /* each is taken only by its waiter: sigsuspend's in its wait */
  sigset_t a; sigemptyset(&a); sigaddset(&a, SIG_A);
  pthread_sigmask(SIG_UNBLOCK, &a, 0);
  pthread_create(&waiters[0].thread, 0, wait_loop, &waiters[0]);
  pthread_sigmask(SIG_BLOCK, &a, 0);
  pthread_create(&waiters[1].thread, 0, wait_loop, &waiters[1]);
  pthread_t partners[2];
  for (int i = 0; i < 2; i++) pthread_create(&partners[i], 0, partner, &waiters[i]);
  printf("READY\n");
  nap_ns((int64_t)seconds * 1000 * MS);
  finished = 1;
  for (int i = 0; i < 2; i++) { pthread_join(partners[i], 0); pthread_join(waiters[i].thread, 0); }
  printf("DONE %d %d %d\n", waiters[0].returns, waiters[1].returns, waiters[0].missed + waiters[1].missed);
  return waiters[0].missed + waiters[1].missed ? 3 : 0;
}
