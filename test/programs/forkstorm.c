/* Forks in a tight loop while checkpoints are taken back to back.
 *
 * A storm thread forks children that exit at once (and reaps them) for as
 * long as the rounds go on. Each round the main thread forks one long-lived
 * child and at once asks for a checkpoint (dmtcp_checkpoint): that checkpoint
 * must count the child (it publishes its own checkpoint count in shared
 * memory) and must not wait for the storm's children that ended before they
 * ever connected. Prints "ROUND i ms=<checkpoint time> child=ok|MISSED".
 * Then the storm stops, "READY" is printed, and the parent counts "P n" for
 * TICKS ticks of 100 ms while every long-lived child beats; at the end each
 * child is told to leave, is reaped by its pid with its own exit status, and
 * the parent prints "DONE <rounds>". A child that is gone (after a restart)
 * or a wrong status prints CORRUPT.
 * Usage: forkstorm ROUNDS TICKS */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dmtcp.h>

#define MAX_ROUNDS 64
#define SEEN_WAIT_MS 1000   /* a child counted by the checkpoint sees it within its poll */
#define CHILD_POLL_NS 1000000L
#define STATUS_BASE 20
#define STILL_TICKS 10      /* a child that did not beat for 1 s is gone (a checkpoint holds it less) */

struct shared {
  volatile int seen[MAX_ROUNDS];    /* child i's checkpoint count, as it last read it */
  volatile int beats[MAX_ROUNDS];
  volatile int stop_children;
  volatile int stop_storm;
};
static struct shared *sh;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void nap(long ns) {
  struct timespec t = { ns / 1000000000L, ns % 1000000000L };
  while (nanosleep(&t, &t) == -1 && errno == EINTR) {}
}

static void *storm(void *unused) {
  (void)unused;
  while (!sh->stop_storm) {
    pid_t c = fork();
    if (c == 0) _exit(0);
    if (c > 0) while (waitpid(c, 0, 0) < 0 && errno == EINTR) {}
  }
  return 0;
}

static void long_child(int i) {
  while (!sh->stop_children) {
    sh->seen[i] = (int)dmtcp_get_generation();
    sh->beats[i]++;
    nap(CHILD_POLL_NS);
  }
  _exit(STATUS_BASE + i);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 8, ticks = argc > 2 ? atoi(argv[2]) : 20;
  if (rounds < 1 || rounds > MAX_ROUNDS) { fprintf(stderr, "rounds: 1..%d\n", MAX_ROUNDS); return 99; }
  sh = mmap(0, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) return 1;
  pthread_t t;
  pthread_create(&t, 0, storm, 0);
  pid_t kids[MAX_ROUNDS];
  for (int i = 0; i < rounds; i++) {
    nap(20 * 1000000L);   /* the storm forks meanwhile */
    kids[i] = fork();
    if (kids[i] == 0) long_child(i);
    double t0 = now_ms();
    dmtcp_checkpoint();
    double ms = now_ms() - t0;
    while (sh->seen[i] == 0 && now_ms() - t0 - ms < SEEN_WAIT_MS) nap(CHILD_POLL_NS);
    printf("ROUND %d ms=%.0f child=%s\n", i + 1, ms, sh->seen[i] ? "ok" : "MISSED");
    fflush(stdout);
  }
  sh->stop_storm = 1;
  pthread_join(t, 0);
  printf("READY\n");
  fflush(stdout);
  int last[MAX_ROUNDS], still[MAX_ROUNDS] = { 0 };
  for (int i = 0; i < rounds; i++) last[i] = sh->beats[i];
  for (int n = 1; n <= ticks; n++) {
    nap(100 * 1000000L);
    for (int i = 0; i < rounds; i++) {
      still[i] = sh->beats[i] == last[i] ? still[i] + 1 : 0;
      last[i] = sh->beats[i];
      if (still[i] >= STILL_TICKS) { printf("CORRUPT child %d stopped beating at tick %d\n", i + 1, n); fflush(stdout); return 3; }
    }
    printf("P %d\n", n);
    fflush(stdout);
  }
  sh->stop_children = 1;
  for (int i = 0; i < rounds; i++) {
    int status = 0;
    if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != STATUS_BASE + i) {
      printf("CORRUPT child %d: pid %d status %d\n", i + 1, kids[i], status);
      return 3;
    }
  }
  printf("DONE %d\n", rounds);
  return 0;
}
