/* process_vm_readv/writev between a parent and its child across restarts.
 * The child counts in its own memory and echoes what appears in its mailbox;
 * the parent reads the child's counter (it must have moved on) and writes k
 * into the mailbox, then reads the child's echo of k, all by the child's pid
 * as the program knows it. "V k" per step; a failed call or a wrong value:
 * CORRUPT. Usage: vmpeek N */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long counter, mailbox, echo;

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static long peek(pid_t pid, volatile long *where) {
  long v = -1;
  struct iovec local = { &v, sizeof v }, remote = { (void *)where, sizeof v };
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == sizeof v ? v : -1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) { counter++; echo = mailbox; if (mailbox < 0) _exit(0); nap(5); }
  }
  long last = -1;
  for (long k = 1; k <= n; k++) {
    long c = peek(pid, &counter);
    if (c < 0 || c <= last) { printf("CORRUPT read the child's counter: %ld after %ld (errno %d)\n", c, last, errno); kill(pid, SIGKILL); return 3; }
    last = c;
    struct iovec local = { &k, sizeof k }, remote = { (void *)&mailbox, sizeof k };
    if (process_vm_writev(pid, &local, 1, &remote, 1, 0) != sizeof k) { printf("CORRUPT write errno %d\n", errno); kill(pid, SIGKILL); return 3; }
    long e = -1;
    for (int tries = 0; tries < 400 && (e = peek(pid, &echo)) != k; tries++) nap(5);
    if (e != k) { printf("CORRUPT the child echoed %ld, not %ld\n", e, k); kill(pid, SIGKILL); return 3; }
    printf("V %ld\n", k);
    nap(40);
  }
  long stop = -1;
  struct iovec local = { &stop, sizeof stop }, remote = { (void *)&mailbox, sizeof stop };
  process_vm_writev(pid, &local, 1, &remote, 1, 0);
  int status;
  waitpid(pid, &status, 0);
  printf("DONE %d\n", n);
  return 0;
}
