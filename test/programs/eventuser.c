/* Makes every thread, fork and descriptor event of DMTCP 5's plugin interface
 * happen once, under test/programs/plugin_events.c (which maps /virtual to a
 * real folder holding data.txt = "virtual data\n" and link -> its data.txt):
 * a thread that returns, one that calls pthread_exit; reads /virtual/data.txt
 * through open, fopen and a reopen (the plugin's path, the file's bytes) and
 * lists /virtual; dup, dup2, fcntl(F_DUPFD); readlink /virtual/link answers
 * /virtual/data.txt; vfork + exec of true; usleep once (the plugin wraps
 * it, ahead of the agent). Prints "FD <n>" for the open and
 * "SETUP ok", then "N i" for i = 1..N every 100 ms with a second thread
 * asleep (both resume after each restart). Anything wrong: "CORRUPT <why>", exit 3.
 * Usage: eventuser N */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WANT "virtual data\n"

static int corrupt(const char *why) { printf("CORRUPT %s\n", why); return 3; }
static void *returns(void *arg) { return arg; }
static void *exits(void *arg) { pthread_exit(arg); }
static void *sleeper(void *arg) { for (;;) sleep(1); return arg; }

static int reads_want(int fd) {
  char buf[64] = "";
  ssize_t n = read(fd, buf, sizeof buf - 1);
  return n == (ssize_t)strlen(WANT) && !strcmp(buf, WANT);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  pthread_t a, b, c;
  void *r;
  if (pthread_create(&a, 0, returns, (void *)1) || pthread_join(a, &r) || r != (void *)1) return corrupt("returning thread");
  if (pthread_create(&b, 0, exits, (void *)2) || pthread_join(b, &r) || r != (void *)2) return corrupt("exiting thread");

  int fd = open("/virtual/data.txt", O_RDONLY);
  if (fd < 0 || !reads_want(fd)) return corrupt("open of the virtual path");
  printf("FD %d\n", fd);
  int d1 = dup(fd), d2 = dup2(fd, 40), d3 = fcntl(fd, F_DUPFD, 50);
  if (d1 < 0 || d2 != 40 || d3 < 50) return corrupt("dup");
  close(d1); close(d2); close(d3); close(fd);

  FILE *f = fopen("/virtual/data.txt", "r");
  char line[64] = "";
  if (!f || !fgets(line, sizeof line, f) || strcmp(line, WANT)) return corrupt("fopen of the virtual path");
  if (!freopen("/virtual/data.txt", "r", f) || !fgets(line, sizeof line, f) || strcmp(line, WANT)) return corrupt("freopen");
  fclose(f);
  DIR *dir = opendir("/virtual");
  int seen = 0;
  for (struct dirent *e; dir && (e = readdir(dir));) seen += !strcmp(e->d_name, "data.txt");
  if (!dir || seen != 1) return corrupt("opendir of the virtual folder");
  closedir(dir);
  char link[256];
  ssize_t len = readlink("/virtual/link", link, sizeof link - 1);
  if (len < 0) return corrupt("readlink");
  link[len] = 0;
  if (strcmp(link, "/virtual/data.txt")) { printf("CORRUPT readlink said %s\n", link); return 3; }

  pid_t child = vfork();
  if (child == 0) { execl("/bin/true", "true", (char *)0); _exit(9); }
  int status = -1;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return corrupt("vfork + exec");
  if (usleep(1000) != 0) return corrupt("usleep");
  printf("SETUP ok\n");

  pthread_create(&c, 0, sleeper, 0);
  for (int i = 1; i <= n; i++) {
    printf("N %d\n", i);
    struct timespec t = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&t, &t) != 0) {}
  }
  return 0;
}
