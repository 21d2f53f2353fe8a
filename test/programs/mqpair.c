/* POSIX message queues between a parent and its child across restarts. Each
 * step the parent queues three messages, "k a" (priority 1), "k b" (5) and
 * "k c" (1); the child waits 60 ms (they wait in the queue, at checkpoints
 * too), then must receive them as b, a, c and answers "k" on a second queue.
 * Both queues keep their attributes (maxmsg 8, msgsize 64). "Q k" per step;
 * a lost, repeated or misordered message: CORRUPT. Usage: mqpair N */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int get(mqd_t q, char *buf, unsigned *prio) {
  for (;;) {
    ssize_t n = mq_receive(q, buf, 64, prio);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
  }
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  char down[64], up[64];
  snprintf(down, sizeof down, "/dmtcp-test-down-%d", getpid());
  snprintf(up, sizeof up, "/dmtcp-test-up-%d", getpid());
  struct mq_attr attr = { .mq_maxmsg = 8, .mq_msgsize = 64 };
  mqd_t d = mq_open(down, O_CREAT | O_RDWR, 0600, &attr), u = mq_open(up, O_CREAT | O_RDWR, 0600, &attr);
  if (d < 0 || u < 0) { printf("CORRUPT mq_open errno %d\n", errno); return 3; }
  pid_t pid = fork();
  if (pid == 0) {
    char buf[65], want[3][32];
    unsigned prio;
    for (int k = 1; k <= n; k++) {
      nap(60);
      snprintf(want[0], 32, "%d b", k); snprintf(want[1], 32, "%d a", k); snprintf(want[2], 32, "%d c", k);
      for (int i = 0; i < 3; i++) {
        if (get(d, buf, &prio) < 0) { printf("CORRUPT receive errno %d\n", errno); _exit(3); }
        if (strcmp(buf, want[i])) { printf("CORRUPT got '%s' (priority %u), expected '%s'\n", buf, prio, want[i]); _exit(3); }
      }
      struct mq_attr now;
      mq_getattr(d, &now);
      if (now.mq_maxmsg != 8 || now.mq_msgsize != 64) { printf("CORRUPT attributes %ld %ld\n", now.mq_maxmsg, now.mq_msgsize); _exit(3); }
      snprintf(buf, sizeof buf, "%d", k);
      mq_send(u, buf, strlen(buf), 0);
    }
    _exit(0);
  }
  for (int k = 1; k <= n; k++) {
    char m[32], buf[65];
    unsigned prio;
    snprintf(m, sizeof m, "%d a", k); mq_send(d, m, strlen(m), 1);
    snprintf(m, sizeof m, "%d b", k); mq_send(d, m, strlen(m), 5);
    snprintf(m, sizeof m, "%d c", k); mq_send(d, m, strlen(m), 1);
    if (get(u, buf, &prio) < 0 || atoi(buf) != k) { printf("CORRUPT answer '%s' to %d\n", buf, k); return 3; }
    printf("Q %d\n", k);
  }
  int status;
  waitpid(pid, &status, 0);
  mq_unlink(down);
  mq_unlink(up);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
