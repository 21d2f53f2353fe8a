/* /proc paths of the pids a program knows, across restarts: every tick the
 * child opens /proc/<its parent's pid>/comm and /proc/<its own pid>/status
 * (with open, fopen, stat and opendir) and checks what they say: the parent
 * is named "procfs", and the status is its own ("Name: procfs"). After a
 * restart both pids are virtual: without translation the first path names
 * another process or none. Usage: procfs N */
#include <dirent.h>
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
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    for (int i = 1; i <= n; i++) {
      int bad = check(parent);
      if (bad) { printf("CORRUPT check %d at %d\n", bad, i); return 3; }
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
