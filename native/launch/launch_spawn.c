/* A detached process, as the resident encoder and the coordinator daemon are
 * started: double fork, so that it is not a child of the program we are about
 * to exec (which would find it in wait()); its own session, so that no
 * terminal signal reaches it; stdio on /dev/null; exactly the descriptors it
 * is given; default signal handling. native/addon/service.cc does the same
 * for Node's callers. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "launch.h"

#define MAX_MOVES 4
#define PARK_FD 100        /* descriptors are parked above this before they move */
#define LAST_SIGNAL 64

/* Between fork and exec: async-signal-safe calls only. */
static _Noreturn void exec_child(const char *path, char *const argv[], char *const envp[],
                                 const struct fd_move *moves, int nmoves, int chdir_root) {
  int parked[MAX_MOVES];
  for (int i = 0; i < nmoves; i++) parked[i] = fcntl(moves[i].from, F_DUPFD, PARK_FD);
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
  int top = 2;
  for (int i = 0; i < nmoves; i++) {
    if (parked[i] < 0 || dup2(parked[i], moves[i].to) < 0) _exit(127);   /* dup2 clears FD_CLOEXEC */
    if (moves[i].to > top) top = moves[i].to;
  }
  syscall(SYS_close_range, top + 1, ~0U, 0);
  if (chdir_root && chdir("/") != 0) _exit(127);
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int s = 1; s <= LAST_SIGNAL; s++) if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(path, argv, envp);
  _exit(127);
}

int spawn_detached(const char *path, char *const argv[], char *const envp[],
                   const struct fd_move *moves, int nmoves, int chdir_root) {
  if (nmoves > MAX_MOVES) return -1;
  int report[2];
  if (pipe2(report, O_CLOEXEC) < 0) return -1;
  pid_t middle = fork();
  if (middle == 0) {
    setsid();
    pid_t child = fork();
    if (child == 0) exec_child(path, argv, envp, moves, nmoves, chdir_root);
    ssize_t ignored = write(report[1], &child, sizeof child);
    (void)ignored;
    _exit(child < 0);
  }
  close(report[1]);
  pid_t child = -1;
  if (middle > 0) {
    int status;
    while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
    if (read(report[0], &child, sizeof child) != sizeof child) child = -1;
  }
  close(report[0]);
  return child;
}
