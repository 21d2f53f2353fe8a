/* When does the checkpoint thread start? Each tick prints how many threads the
 * process has ("tick <i> threads <n>"), so a test sees a process run alone
 * until the coordinator first writes to it, and a checkpoint taken wherever
 * the program happens to be:
 *   sleep    asleep in nanosleep between ticks
 *   malloc   allocating and freeing all the time (inside libc when the
 *            coordinator writes, mostly): 64 blocks with known contents are
 *            checked at every tick
 *   handler  as malloc, with a 1 ms interval timer whose handler spins
 *   child    a forked child ticks ("child <i> threads <n>") while the parent waits
 * Built with -DOWN_MALLOC the program has its own malloc (as with jemalloc):
 * then the thread starts at once. Prints CORRUPT on any broken state, DONE n. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 100000000L
#define BLOCKS 64

#ifdef OWN_MALLOC
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
#endif

static int threads_now(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000L + t.tv_nsec;
}

static unsigned char *blocks[BLOCKS];
static size_t sizes[BLOCKS];
static uint32_t seed = 12345;
static uint32_t next_rand(void) { seed = seed * 1103515245u + 12345u; return seed >> 8; }

static void refill(int i) {
  free(blocks[i]);
  sizes[i] = 16 + next_rand() % 4000;
  blocks[i] = malloc(sizes[i]);
  memset(blocks[i], (int)(i + sizes[i]) & 0xff, sizes[i]);
}

static int blocks_intact(void) {
  for (int i = 0; i < BLOCKS; i++)
    for (size_t k = 0; k < sizes[i]; k++)
      if (blocks[i][k] != (unsigned char)((i + sizes[i]) & 0xff)) return 0;
  return 1;
}

static volatile long handler_runs;
static void on_alarm(int sig) {
  (void)sig;
  for (volatile int spin = 0; spin < 20000; spin++) {}
  handler_runs++;
}

static void ticks(const char *tag, int n, int busy) {
  for (int i = 1; i <= n; i++) {
    int64_t until = now_ns() + TICK_NS;
    if (busy) {
      while (now_ns() < until) refill((int)(next_rand() % BLOCKS));
      if (!blocks_intact()) printf("CORRUPT heap blocks changed at %s %d\n", tag, i);
    } else {
      struct timespec t = { 0, TICK_NS };
      while (nanosleep(&t, &t) != 0) {}
    }
    printf("%s %d threads %d\n", tag, i, threads_now());
    fflush(stdout);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "sleep";
  int n = argc > 2 ? atoi(argv[2]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  for (int i = 0; i < BLOCKS; i++) refill(i);
  if (!strcmp(mode, "child")) {
    pid_t c = fork();
    if (c == 0) { ticks("child", n, 0); _exit(0); }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st)) printf("CORRUPT child ended badly\n");
  } else if (!strcmp(mode, "handler")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval every = { { 0, 1000 }, { 0, 1000 } };
    setitimer(ITIMER_REAL, &every, 0);
    long before = handler_runs;
    ticks("tick", n, 1);
    if (handler_runs <= before) printf("CORRUPT the timer's handler never ran\n");
  } else {
    ticks("tick", n, !strcmp(mode, "malloc"));
  }
  printf("DONE %d\n", n);
  return 0;
}
