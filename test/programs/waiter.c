/* A parent blocked in waitpid() on its child across checkpoints and restarts:
 * the child counts "C n" and exits with status 7; the parent, which never
 * left waitpid meanwhile, must get exactly that child and that status, then
 * a SIGCHLD it counted, and prints "REAPED <pid> 7 sigchld=1". */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
static int errno_is_eintr(void) { return errno == EINTR; }

static volatile sig_atomic_t sigchld;
static void on_chld(int s) { (void)s; sigchld++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { 0 };
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, 0);
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    for (int i = 1; i <= n; i++) {
      printf("C %d\n", i);
      struct timespec ts = { 0, 100 * 1000 * 1000 };
      while (nanosleep(&ts, &ts) != 0) {}
    }
    return 7;
  }
  printf("WAITING %d\n", child);
  int status = 0;
  pid_t w;
  do { w = waitpid(child, &status, 0); } while (w < 0 && errno_is_eintr());
  printf("REAPED %d %d sigchld=%d\n", w == child ? child : -w, WIFEXITED(status) ? WEXITSTATUS(status) : -1, (int)sigchld);
  return w == child && WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 3;
}
