/* /proc paths of the pids a program knows, across restarts: every tick the
 * child opens /proc/<its parent's pid>/comm and /proc/<its own pid>/status
 * (with open, fopen, stat and opendir) and checks what they say: the parent
 * is named "procfs", and the status is its own ("Name: procfs"); and it
 * stats, lstats, accesses and reads links under /proc/<its own pid> with every
 * call that takes a path (the *at forms and statx too); a path at a bad
 * address fails with EFAULT (DMTCP's stat test); /proc/self/exe and
 * /proc/<pid>/exe name the program as at the start. After a
 * restart both pids are virtual: without translation the first path names
 * another process or none. Usage: procfs N */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static char exe_at_start[4096];

static int check(pid_t parent) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/comm", parent);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 2;
  buf[n] = 0;
  if (strcmp(buf, "procfs\n")) return 3;
  snprintf(path, sizeof path, "/proc/%d/status", getpid());
  FILE *f = fopen(path, "r");
  if (!f || !fgets(buf, sizeof buf, f)) return 4;
  fclose(f);
  if (strncmp(buf, "Name:\tprocfs", 12)) return 5;
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d", parent);
  if (stat(path, &st) != 0) return 6;
  snprintf(path, sizeof path, "/proc/%d/task", getpid());
  DIR *d = opendir(path);
  if (!d) return 7;
  closedir(d);
  /* every call that takes a path, on /proc/<getpid()>/... */
  snprintf(path, sizeof path, "/proc/%d/fd", getpid());
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return 8;
  if (access(path, R_OK) != 0 || faccessat(AT_FDCWD, path, R_OK, 0) != 0) return 9;
  if (fstatat(AT_FDCWD, path, &st, 0) != 0 || !S_ISDIR(st.st_mode)) return 10;
  struct statx sx;
  if (statx(AT_FDCWD, path, 0, STATX_MODE, &sx) != 0 || !S_ISDIR(sx.stx_mode)) return 11;
  snprintf(path, sizeof path, "/proc/%d/cwd", getpid());
  if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) return 12;
  char cwd[256];
  if (!getcwd(cwd, sizeof cwd)) return 13;
  ssize_t l = readlink(path, buf, sizeof buf - 1);
  if (l <= 0 || (buf[l] = 0, strcmp(buf, cwd))) return 13;
  l = readlinkat(AT_FDCWD, path, buf, sizeof buf - 1);
  if (l <= 0 || (buf[l] = 0, strcmp(buf, cwd))) return 14;
  /* our own program, as at the start (the kernel names the restorer after a restart) */
  char exe[4096] = { 0 };
  snprintf(path, sizeof path, "/proc/%d/exe", getpid());
  if (readlink("/proc/self/exe", exe, sizeof exe - 1) <= 0 || strcmp(exe, exe_at_start)) return 17;
  memset(exe, 0, sizeof exe);
  if (readlinkat(AT_FDCWD, path, exe, sizeof exe - 1) <= 0 || strcmp(exe, exe_at_start)) return 18;
  /* a path at an address no program can read: EFAULT, as the kernel says, not a crash */
  static const char *const bad_address = (const char *)0xffffffffff000000UL;
  errno = 0;
  if (stat(bad_address, &st) != -1 || errno != EFAULT) return 15;
  errno = 0;
  if (open((const char *)16, O_RDONLY) != -1 || errno != EFAULT) return 16;
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t parent = getpid();
  if (readlink("/proc/self/exe", exe_at_start, sizeof exe_at_start - 1) <= 0) return 3;
  pid_t child = fork();
  if (child == 0) {
    for (int i = 1; i <= n; i++) {
      int bad = check(parent);
      if (bad) { char me[64] = {0}; readlink("/proc/self", me, 63); printf("CORRUPT check %d at %d (pid %d, real %s, errno %d)\n", bad, i, getpid(), me, errno); return 3; }
      printf("C %d\n", i);
      tick();
    }
    return 0;
  }
  int status;
  waitpid(child, &status, 0);
  printf("DONE %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
