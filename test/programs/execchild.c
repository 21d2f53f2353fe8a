/* fork (or vfork) + exec inside the computation. The parent forks a child that
 * prints "FORKED <pid>" and execs this program again as "child N"; the exec'd
 * program prints "EXECED <pid> <ppid>" and counts "C n"; the parent counts
 * "P n". After restarts the exec'd child's pid and parent must be the ones it
 * had: it checks getpid()/getppid() against what it printed first, and the
 * parent reaps it by pid with status 7. Usage: execchild fork|vfork N */
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

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (argc > 2 && !strcmp(argv[1], "child")) return child_main(atoi(argv[2]));
  int n = argc > 2 ? atoi(argv[2]) : 40;
  int use_vfork = argc > 1 && !strcmp(argv[1], "vfork");
  char count[16];
  snprintf(count, sizeof count, "%d", n);
  pid_t parent = getpid();
  pid_t child = use_vfork ? vfork() : fork();
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
