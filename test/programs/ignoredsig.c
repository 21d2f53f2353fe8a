/* Signals the program ignores must not turn a checkpoint's EINTR into one the
 * program sees. Two threads wait N times for T ms each (poll without fds,
 * epoll_wait on an empty set) while the test sends the process SIGURG and
 * SIGCHLD, which it leaves at their default action, to ignore them (as
 * a child's ending while the tree is stopped would). The wait must end
 * with 0 after T ms, never with EINTR. Prints "W poll|epoll <k>" per wait
 * and "DONE" at the end; CORRUPT on a failed wait.
 * Usage: ignoredsig N T_MS */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static int N, T_MS;

static void *waiter(void *arg) {
  int use_epoll = arg != 0;
  int ep = use_epoll ? epoll_create1(0) : -1;
  for (int k = 1; k <= N; k++) {
    int r;
    struct epoll_event e;
    r = use_epoll ? epoll_wait(ep, &e, 1, T_MS) : poll(0, 0, T_MS);
    if (r != 0) { printf("CORRUPT %s returned %d: %s\n", use_epoll ? "epoll" : "poll", r, strerror(errno)); exit(3); }
    printf("W %s %d\n", use_epoll ? "epoll" : "poll", k);
  }
  return 0;
}

int main(int argc, char **argv) {
  N = argc > 1 ? atoi(argv[1]) : 10;
  T_MS = argc > 2 ? atoi(argv[2]) : 1000;
  setvbuf(stdout, 0, _IOLBF, 0);
  pthread_t a, b;
  pthread_create(&a, 0, waiter, 0);
  pthread_create(&b, 0, waiter, (void *)1);
  pthread_join(a, 0);
  pthread_join(b, 0);
  printf("DONE\n");
  return 0;
}
