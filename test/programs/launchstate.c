/* What a launched program inherits, one fact a line, for comparing two
 * launchers: its environment in order, the open descriptors, the
 * descriptor limit, ignored and blocked signals, stdio's flags. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

extern char **environ;

int main(void) {
  for (char **e = environ; *e; e++) printf("env %s\n", *e);
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  while (d && (de = readdir(d))) {
    int fd = atoi(de->d_name);
    if (de->d_name[0] != '.' && fd != dirfd(d)) printf("fd %d flags %x\n", fd, fcntl(fd, F_GETFD));
  }
  if (d) closedir(d);
  for (int fd = 0; fd <= 2; fd++) printf("stdio %d fl %x\n", fd, fcntl(fd, F_GETFL));
  struct rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  printf("nofile %llu %llu\n", (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max);
  sigset_t blocked;
  sigprocmask(SIG_BLOCK, NULL, &blocked);
  for (int s = 1; s <= 64; s++) {
    struct sigaction sa;
    if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) printf("ignored %d\n", s);
    if (sigismember(&blocked, s) == 1) printf("blocked %d\n", s);
  }
  return 0;
}
