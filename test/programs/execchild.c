/* fork (or vfork) + exec inside the computation. The parent forks a child that
 * prints "FORKED <pid>" and execs this program again as "child N"; the exec'd
 * program prints "EXECED <pid> <ppid>" and counts "C n"; the parent counts
 * "P n". After restarts the exec'd child's pid and parent must be the ones it
 * had: it checks getpid()/getppid() against what it printed first, and the
 * parent reaps it by pid with status 7. Usage: execchild fork|vfork|spawn|system|popen N
 *   spawn:  posix_spawn of the child, reaped by pid;
 *   system: system("exec <self> child N") on a thread of the parent, which
 *           must return the child's status 7 ("SYSTEM 7");
 *   popen:  popen of the same on a thread that relays the child's lines
 *           ("R C n") and checks that pclose returns status 7 ("PCLOSE 7").
 * The parent counts "P n" on its main thread meanwhile. */
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int child_main(int n) {
  pid_t me = getpid(), parent = getppid();
  printf("EXECED %d %d\n", me, parent);
  for (int i = 1; i <= n; i++) {
    if (getpid() != me || getppid() != parent) {
      printf("CORRUPT child pid %d/%d ppid %d/%d\n", getpid(), me, getppid(), parent);
      return 3;
    }
    printf("C %d\n", i);
    tick();
  }
  return 7;
}

extern char **environ;
static char command[PATH_MAX + 64];
static volatile int helper_status = -1;

static void *run_system(void *unused) {
  (void)unused;
  int st = system(command);
  printf("SYSTEM %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -st);
  helper_status = st;
  return 0;
}

static void *run_popen(void *unused) {
  (void)unused;
  FILE *f = popen(command, "r");
  if (!f) { printf("CORRUPT popen\n"); helper_status = 1; return 0; }
  char line[128];
  while (fgets(line, sizeof line, f)) printf("R %s", line);
  int st = pclose(f);
  printf("PCLOSE %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -st);
  helper_status = st;
  return 0;
}

/* system and popen run on a thread while the main thread counts. */
static int through_helper(int n, void *(*helper)(void *)) {
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return 2;
  self[len] = 0;
  snprintf(command, sizeof command, "exec '%s' child %d", self, n);
  pthread_t t;
  pthread_create(&t, 0, helper, 0);
  for (int i = 1; i <= n + 5; i++) {
    printf("P %d\n", i);
    tick();
  }
  pthread_join(t, 0);
  if (!WIFEXITED(helper_status) || WEXITSTATUS(helper_status) != 7) { printf("CORRUPT status %x\n", helper_status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (argc > 2 && !strcmp(argv[1], "child")) return child_main(atoi(argv[2]));
  int n = argc > 2 ? atoi(argv[2]) : 40;
  const char *how = argc > 1 ? argv[1] : "fork";
  if (!strcmp(how, "system")) return through_helper(n, run_system);
  if (!strcmp(how, "popen")) return through_helper(n, run_popen);
  int use_vfork = !strcmp(how, "vfork");
  char count[16];
  snprintf(count, sizeof count, "%d", n);
  pid_t parent = getpid();
  pid_t child;
  if (!strcmp(how, "spawn")) {
    char *args[] = { "execchild", "child", count, 0 };
    if (posix_spawn(&child, "/proc/self/exe", 0, 0, args, environ) != 0) { perror("posix_spawn"); return 2; }
  } else {
    child = use_vfork ? vfork() : fork();
  }
  if (child < 0) { perror("fork"); return 2; }
  if (child == 0) {
    if (!use_vfork) printf("FORKED %d\n", getpid());
    execl("/proc/self/exe", "execchild", "child", count, (char *)0);
    _exit(127);
  }
  printf("SPAWNED %d\n", child);
  for (int i = 1; i <= n + 5; i++) {
    if (getpid() != parent) { printf("CORRUPT parent pid\n"); return 3; }
    printf("P %d\n", i);
    tick();
  }
  int status = 0;
  pid_t w = waitpid(child, &status, 0);
  if (w != child || !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
    printf("CORRUPT wait %d for %d status %x\n", w, child, status);
    return 3;
  }
  printf("DONE %d\n", n);
  return 0;
}
