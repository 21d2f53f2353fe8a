/* inotify across restarts. Watches DIR for IN_CREATE (wd a), watched a
 * second folder and removed that watch (its wd is a gap), and watches the
 * file DIR/log, named relative to the cwd, for IN_MODIFY (wd b). Each step
 * creates DIR/f<k> and appends to DIR/log; both events must come with the
 * program's wds and the right name. "N k" per step; anything else: CORRUPT.
 * Events still queued when a restart's image was taken do not come back
 * (docs/event-fds.md): a step during which the process was restarted (its
 * real pid, /proc/self, changed) may miss them; it prints "LOST k" instead
 * of CORRUPT when the file it created is there, and goes on.
 * Usage: inotifyw N DIR */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int real_pid(void) {
  char buf[32] = { 0 };
  return readlink("/proc/self", buf, sizeof buf - 1) > 0 ? atoi(buf) : 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  const char *dir = argv[2];
  setvbuf(stdout, 0, _IOLBF, 0);
  if (chdir(dir) < 0) { printf("CORRUPT chdir\n"); return 3; }
  mkdir("gap", 0700);
  close(open("log", O_CREAT | O_WRONLY, 0600));
  int in = inotify_init1(IN_NONBLOCK);
  int a = inotify_add_watch(in, dir, IN_CREATE);
  int gap = inotify_add_watch(in, "gap", IN_CREATE);
  inotify_rm_watch(in, gap);
  int b = inotify_add_watch(in, "log", IN_MODIFY);
  char buf[4096];
  while (read(in, buf, sizeof buf) > 0) {}   /* the IN_IGNORED of the gap */
  for (int k = 1; k <= n; k++) {
    char name[32];
    snprintf(name, sizeof name, "f%d", k);
    int pid = real_pid();
    close(open(name, O_CREAT | O_WRONLY, 0600));
    int logfd = open("log", O_WRONLY | O_APPEND);
    write(logfd, "x", 1);
    close(logfd);
    int created = 0, modified = 0;
    for (int tries = 0; tries < 20 && !(created && modified); tries++) {
      struct pollfd p = { in, POLLIN, 0 };
      if (poll(&p, 1, 100) <= 0) continue;
      ssize_t len = read(in, buf, sizeof buf);
      for (char *q = buf; len > 0 && q < buf + len;) {
        struct inotify_event *e = (struct inotify_event *)q;
        if (e->wd == a && (e->mask & IN_CREATE) && !strcmp(e->name, name)) created = 1;
        else if (e->wd == b && (e->mask & IN_MODIFY)) modified = 1;
        else if (!(e->wd == a && (e->mask & (IN_CLOSE | IN_OPEN)))) { printf("CORRUPT event wd %d mask %x '%s' at %d\n", e->wd, e->mask, e->len ? e->name : "", k); return 3; }
        q += sizeof *e + e->len;
      }
    }
    struct stat st;
    if ((!created || !modified) && real_pid() != pid && stat(name, &st) == 0) printf("LOST %d\n", k);
    else if (!created || !modified) { printf("CORRUPT step %d: created %d modified %d (wds %d %d)\n", k, created, modified, a, b); return 3; }
    printf("N %d\n", k);
    struct timespec ts = { 0, 40000000 };
    nanosleep(&ts, 0);
  }
  printf("DONE %d\n", n);
  return 0;
}
