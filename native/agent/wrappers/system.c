/* system(), popen() and pclose() of our own.
 *
 * glibc runs the shell through its internal posix_spawn and waits for it with
 * its internal waitpid, which our pid table cannot reach: a restart while
 * system() waits would leave it waiting for the old real pid (ECHILD, -1).
 * These do the same with our fork, exec and waitpid, so the shell is a
 * process of the computation from its first instruction and the wait
 * survives restarts. Semantics as POSIX gives them: system() ignores SIGINT
 * and SIGQUIT and blocks SIGCHLD while it waits; a NULL command asks whether
 * a shell exists; popen's stream is close-on-exec; pclose returns the
 * shell's wait status. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "agent.h"

#define SHELL_PATH "/bin/sh"
#define POPEN_MAX 256

extern char **environ;

static int shell_exists(void) { return access(SHELL_PATH, X_OK) == 0; }

AGENT_EXPORT int system(const char *command) {
  if (!command) return shell_exists();
  struct sigaction ignore, old_int, old_quit;
  memset(&ignore, 0, sizeof ignore);
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  sigset_t chld, old_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old_mask);

  int status = -1;
  pid_t pid = fork();
  if (pid == 0) {
    sigaction(SIGINT, &old_int, 0);
    sigaction(SIGQUIT, &old_quit, 0);
    sigprocmask(SIG_SETMASK, &old_mask, 0);
    execl(SHELL_PATH, "sh", "-c", "--", command, (char *)0);
    _exit(127);
  }
  if (pid > 0) {
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) { status = -1; break; }
    }
  }
  int saved = errno;
  sigaction(SIGINT, &old_int, 0);
  sigaction(SIGQUIT, &old_quit, 0);
  sigprocmask(SIG_SETMASK, &old_mask, 0);
  errno = saved;
  return status;
}

/* Streams popen opened, and the shells behind them. */
static struct { FILE *stream; pid_t pid; } opened[POPEN_MAX];

AGENT_EXPORT FILE *popen(const char *command, const char *mode) {
  int reading = mode && mode[0] == 'r', writing = mode && mode[0] == 'w';
  int cloexec = mode && strchr(mode, 'e') != 0;
  if (!reading && !writing) { errno = EINVAL; return 0; }
  int slot = -1;
  for (int i = 0; i < POPEN_MAX; i++) if (!opened[i].stream) { slot = i; break; }
  if (slot < 0) { errno = EMFILE; return 0; }
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return 0;
  int ours = reading ? p[0] : p[1], theirs = reading ? p[1] : p[0];
  pid_t pid = fork();
  if (pid < 0) { close(p[0]); close(p[1]); return 0; }
  if (pid == 0) {
    int target = reading ? 1 : 0;
    if (theirs == target) fcntl(theirs, F_SETFD, 0);
    else dup2(theirs, target);
    /* POSIX: streams of earlier popen calls are closed in the new shell. */
    for (int i = 0; i < POPEN_MAX; i++) if (opened[i].stream) close(fileno(opened[i].stream));
    execl(SHELL_PATH, "sh", "-c", "--", command, (char *)0);
    _exit(127);
  }
  close(theirs);
  if (!cloexec) fcntl(ours, F_SETFD, 0);
  FILE *f = fdopen(ours, reading ? "r" : "w");
  if (!f) { close(ours); waitpid(pid, 0, 0); return 0; }
  opened[slot].stream = f;
  opened[slot].pid = pid;
  return f;
}

AGENT_EXPORT int pclose(FILE *stream) {
  pid_t pid = -1;
  for (int i = 0; i < POPEN_MAX; i++) {
    if (opened[i].stream == stream) { pid = opened[i].pid; opened[i].stream = 0; break; }
  }
  if (pid < 0) { errno = ECHILD; return -1; }
  fclose(stream);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}
