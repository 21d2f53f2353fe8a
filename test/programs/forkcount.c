/* A parent and its child both count to N, one line a tick each ("P n" and
 * "C n"), each checking a heap checksum of its own and that the pids it knows
 * still hold: the child's getppid() is the parent's getpid(), the parent's
 * fork() result is the child's getpid(). At the end the parent waits for that
 * child by pid and checks its exit status, then prints DONE. A mismatch prints
 * CORRUPT and exits 3. With "clone" the child is made by clone() (SIGCHLD,
 * no CLONE_THREAD: a process) and ends by returning 7 from its function.
 * Usage: forkcount N [clone] */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned sum(const unsigned char *p, size_t n) {
  unsigned s = 0;
  for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
  return s;
}

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static void count(char who, int n, pid_t expect_ppid, pid_t my_pid) {
  size_t len = 1 << 20;
  unsigned char *buf = malloc(len);
  for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(i * 7 + who);
  unsigned want = sum(buf, len);
  for (int i = 1; i <= n; i++) {
    if (sum(buf, len) != want || getpid() != my_pid || (expect_ppid && getppid() != expect_ppid)) {
      printf("CORRUPT %c at %d (pid %d/%d ppid %d/%d)\n", who, i, getpid(), my_pid, getppid(), expect_ppid);
      fflush(stdout);
      exit(3);
    }
    printf("%c %d\n", who, i);
    fflush(stdout);
    tick();
  }
}

struct child_args { int n; pid_t parent; };

static int child_main(void *p) {
  const struct child_args *a = p;
  pid_t me = getpid();
  printf("CHILD %d of %d\n", me, getppid());
  if (getppid() != a->parent) { printf("CORRUPT ppid\n"); return 3; }
  count('C', a->n, a->parent, me);
  return 7;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 50;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t parent = getpid();
  printf("PARENT %d\n", parent);
  struct child_args a = { n, parent };
  pid_t child;
  if (argc > 2 && !strcmp(argv[2], "clone")) {
    size_t size = 1 << 20;
    char *stack = malloc(size);
    child = clone(child_main, stack + size, SIGCHLD, &a);
  } else {
    child = fork();
    if (child == 0) return child_main(&a);
  }
  if (child < 0) { perror("fork"); return 2; }
  count('P', n, 0, parent);
  int status = 0;
  pid_t w = waitpid(child, &status, 0);
  if (w != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
    printf("CORRUPT wait %d for %d status %x\n", w, child, status);
    return 3;
  }
  printf("DONE %d\n", n);
  return 0;
}
