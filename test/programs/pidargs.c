/* Calls that take a pid or tid, given the ones the program knows (getpid(),
 * gettid() of a thread), across restarts: each must work and agree with the
 * same call on 0 (the caller): sched_getaffinity and sched_setaffinity on
 * the process and on a worker thread, sched_getscheduler, sched_getparam,
 * getpriority, setpriority, prlimit, ioprio_get (syscall), pidfd_open (and a
 * signal 0 through the pidfd). After a restart the kernel knows the process
 * and its threads by other numbers: untranslated, these fail with ESRCH or
 * reach another process. "P k" per tick; anything else: CORRUPT.
 * Usage: pidargs N */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define IOPRIO_WHO_PROCESS 1
static volatile pid_t worker_tid;

static void nap(void) {
  struct timespec t = { 0, 100 * 1000000L };
  while (nanosleep(&t, &t) != 0) {}
}

static void *worker(void *unused) {
  (void)unused;
  worker_tid = gettid();
  for (;;) nap();
  return 0;
}

static int check(void) {
  pid_t me = getpid();
  cpu_set_t a, b;
  if (sched_getaffinity(me, sizeof a, &a) || sched_getaffinity(0, sizeof b, &b) || !CPU_EQUAL(&a, &b)) return 1;
  if (sched_setaffinity(me, sizeof a, &a)) return 2;
  if (sched_getaffinity(worker_tid, sizeof b, &b) || sched_setaffinity(worker_tid, sizeof b, &b)) return 3;
  if (syscall(SYS_sched_getaffinity, me, sizeof a, &a) <= 0) return 4;
  if (sched_getscheduler(me) != sched_getscheduler(0)) return 5;
  struct sched_param p;
  if (sched_getparam(me, &p) || sched_getparam(worker_tid, &p)) return 6;
  errno = 0;
  int prio = getpriority(PRIO_PROCESS, me);
  if (errno || prio != getpriority(PRIO_PROCESS, 0)) return 7;
  if (setpriority(PRIO_PROCESS, me, prio)) return 8;
  struct rlimit r1, r2;
  if (prlimit(me, RLIMIT_NOFILE, 0, &r1) || getrlimit(RLIMIT_NOFILE, &r2) || r1.rlim_cur != r2.rlim_cur) return 9;
  long io = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, me);
  if (io < 0 || io != syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0)) return 10;
  int fd = (int)syscall(SYS_pidfd_open, me, 0);
  if (fd < 0) return 11;
  int sent = (int)syscall(SYS_pidfd_send_signal, fd, 0, 0, 0);
  close(fd);
  if (sent) return 12;
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  pthread_t w;
  pthread_create(&w, 0, worker, 0);
  while (!worker_tid) nap();
  for (int k = 1; k <= n; k++) {
    int bad = check();
    if (bad) { printf("CORRUPT check %d at %d: %s\n", bad, k, strerror(errno)); return 3; }
    printf("P %d\n", k);
    nap();
  }
  printf("DONE %d\n", n);
  return 0;
}
