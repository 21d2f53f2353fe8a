/* One call the agent wraps, N times in a loop (bench/wrappers.sh): write of
 * 1 byte to /dev/null, pthread_mutex_lock+unlock, poll with a zero timeout,
 * clock_gettime(CLOCK_MONOTONIC), open+close of /dev/null, dup+close,
 * pthread_create+join of a thread that returns at once, pipe+close of both
 * ends, malloc+free of 4 KiB, mmap+munmap of 64 KiB anonymous memory.
 * Usage: hotcalls write|mutex|poll|clock|open|dup|thread|pipe|malloc|mmap N */
#include <sys/mman.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *nothing(void *arg) { return arg; }

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  int null = open("/dev/null", O_WRONLY);
  struct timespec t;
  if (!strcmp(argv[1], "write")) { for (long i = 0; i < n; i++) if (write(null, "x", 1) != 1) return 3; }
  else if (!strcmp(argv[1], "mutex")) { for (long i = 0; i < n; i++) { pthread_mutex_lock(&m); pthread_mutex_unlock(&m); } }
  else if (!strcmp(argv[1], "poll")) { for (long i = 0; i < n; i++) poll(0, 0, 0); }
  else if (!strcmp(argv[1], "clock")) { for (long i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &t); }
  else if (!strcmp(argv[1], "open")) { for (long i = 0; i < n; i++) { int fd = open("/dev/null", O_RDONLY); if (fd < 0) return 3; close(fd); } }
  else if (!strcmp(argv[1], "dup")) { for (long i = 0; i < n; i++) { int fd = dup(null); if (fd < 0) return 3; close(fd); } }
  else if (!strcmp(argv[1], "thread")) {
    for (long i = 0; i < n; i++) { pthread_t th; if (pthread_create(&th, 0, nothing, 0) || pthread_join(th, 0)) return 3; }
  }
  else if (!strcmp(argv[1], "pipe")) { for (long i = 0; i < n; i++) { int p[2]; if (pipe(p)) return 3; close(p[0]); close(p[1]); } }
  else if (!strcmp(argv[1], "malloc")) {
    for (long i = 0; i < n; i++) { char *volatile b = malloc(4096); if (!b) return 3; b[0] = 1; free(b); }
  }
  else if (!strcmp(argv[1], "mmap")) {
    for (long i = 0; i < n; i++) {
      char *b = mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (b == MAP_FAILED) return 3;
      b[0] = 1;
      munmap(b, 65536);
    }
  }
  else return 2;
  return 0;
}
