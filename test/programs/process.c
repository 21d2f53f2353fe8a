/* Process facts across a restart: pid, ppid and tid as the program saw them
 * (getpid, getppid, gettid, syscall), kill/tgkill on those ids, cwd, umask, an
 * environment variable set at run time, rlimits, the clocks (vdso) moving
 * forward, and sched_getcpu (rseq). Prints "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <stddef.h>
extern const ptrdiff_t __rseq_offset;
extern const unsigned int __rseq_size;
#define RSEQ_SIG 0x53053053

/* glibc registered rseq for this thread: registering again must say EBUSY. */
static int rseq_registered(void) {
  if (__rseq_size == 0) return 1;  /* glibc did not use rseq: nothing to keep */
  void *area = (char *)__builtin_thread_pointer() + __rseq_offset;
  unsigned len = __rseq_size < 32 ? 32 : __rseq_size;
  return syscall(SYS_rseq, area, len, 0, RSEQ_SIG) == -1 && errno == EBUSY;
}

static volatile long usr1_hits;
static char failure[256];
static void on_usr1(int sig) { (void)sig; usr1_hits++; }

static void fail(const char *why, long a, long b) {
  if (!failure[0]) snprintf(failure, sizeof failure, "%s (%ld vs %ld)", why, a, b);
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 40;
  const char *subdir = argc > 2 ? argv[2] : ".";
  pid_t pid = getpid(), ppid = getppid(), tid = gettid();
  if (chdir(subdir) != 0) { printf("FAIL chdir\n"); return 1; }
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) { printf("FAIL getcwd\n"); return 1; }
  umask(027);
  setenv("PROCESS_TEST_VALUE", "kept-in-memory", 1);
  struct rlimit nofile = { 200, 300 };
  setrlimit(RLIMIT_NOFILE, &nofile);
  signal(SIGUSR1, on_usr1);
  struct timespec last_mono, last_real;
  clock_gettime(CLOCK_MONOTONIC, &last_mono);
  clock_gettime(CLOCK_REALTIME, &last_real);
  printf("pid %d ppid %d tid %d\n", pid, ppid, tid);
  for (int t = 1; t <= ticks; t++) {
    if (getpid() != pid) fail("getpid changed", getpid(), pid);
    if (syscall(SYS_getpid) != pid) fail("syscall(SYS_getpid) changed", syscall(SYS_getpid), pid);
    if (getppid() != ppid) fail("getppid changed", getppid(), ppid);
    if (gettid() != tid) fail("gettid changed", gettid(), tid);
    if (syscall(SYS_gettid) != tid) fail("syscall(SYS_gettid) changed", syscall(SYS_gettid), tid);
    long before = usr1_hits;
    if (kill(getpid(), SIGUSR1) != 0) fail("kill(getpid()) failed", errno, 0);
    if (syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1) != 0) fail("tgkill on own ids failed", errno, 0);
    if (usr1_hits != before + 2) fail("signals to own ids not delivered", usr1_hits, before + 2);
    char now[4096];
    if (!getcwd(now, sizeof now) || strcmp(now, cwd) != 0) fail("cwd changed", 0, 0);
    mode_t m = umask(027);
    if (m != 027) fail("umask changed", m, 027);
    const char *v = getenv("PROCESS_TEST_VALUE");
    if (!v || strcmp(v, "kept-in-memory") != 0) fail("environment changed", 0, 0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != 200 || rl.rlim_max != 300) fail("RLIMIT_NOFILE changed", (long)rl.rlim_cur, 200);
    struct timespec mono, real;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    if (real.tv_sec < last_real.tv_sec) fail("realtime clock went backwards", real.tv_sec, last_real.tv_sec);
    struct timeval tv;
    gettimeofday(&tv, 0);
    if (tv.tv_sec < real.tv_sec - 1) fail("gettimeofday disagrees with clock_gettime", tv.tv_sec, real.tv_sec);
    last_mono = mono;
    last_real = real;
    if (!rseq_registered()) fail("rseq not registered", 0, 0);
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= 4096) fail("sched_getcpu", cpu, 0);
    printf("tick %d\n", t);
    fflush(stdout);
    sleep_ms(50);
  }
  (void)last_mono;
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok\n");
  return 0;
}
