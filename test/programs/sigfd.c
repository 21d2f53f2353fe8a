/* signalfd across checkpoints. SIGUSR1 and SIGALRM are blocked and read
 * through a signalfd. Each step reads the signal raised by the step before
 * (SIGUSR1 after an odd step, SIGALRM after an even one; SIGUSR2 is the
 * checkpoint signal by default), so one signal is
 * always pending, across every checkpoint, and raises the next. A signal lost,
 * the wrong one, or a signalfd that no longer reads them is CORRUPT. Prints
 * "S k" per step. Usage: sigfd N */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGALRM);
  sigprocmask(SIG_BLOCK, &mask, 0);
  int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  kill(getpid(), SIGALRM);
  for (int k = 1; k <= n; k++) {
    int want = (k % 2) ? SIGALRM : SIGUSR1;
    struct pollfd p = { fd, POLLIN, 0 };
    if (poll(&p, 1, 2000) != 1) { printf("CORRUPT no signal to read at step %d\n", k); return 3; }
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != sizeof si) { printf("CORRUPT read errno %d\n", errno); return 3; }
    if ((int)si.ssi_signo != want) { printf("CORRUPT got signal %u, expected %d\n", si.ssi_signo, want); return 3; }
    kill(getpid(), (k % 2) ? SIGUSR1 : SIGALRM);
    printf("S %d\n", k);
    nap(40);
  }
  printf("DONE %d\n", n);
  return 0;
}
