/* mq_notify across restarts: the program registers for SIGUSR1 with a value
 * (77) on an empty POSIX queue, then each tick sends itself a message, which
 * must raise SIGUSR1 with that value; it takes the message and registers
 * again. A restart must bring the registration back (the program does not
 * know it was restarted). "M i" each tick, "DONE N"; a notification that does
 * not come or comes wrong: "CORRUPT <why>", exit 3. With "thread", the
 * registration is SIGEV_THREAD: the notification runs a function, with the
 * value, in a thread of its own. Usage: mqnotify NAME N [thread] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got, value;
static void on_usr1(int sig, siginfo_t *si, void *u) { (void)sig; (void)u; value = si->si_value.sival_int; got++; }

static int by_thread;
static pthread_t main_thread;
static void on_notify(union sigval v) {
  if (pthread_equal(pthread_self(), main_thread)) return;   /* never in the main thread: got stays */
  value = v.sival_int;
  __atomic_add_fetch(&got, 1, __ATOMIC_SEQ_CST);
}

static void nap_ms(long ms) {
  struct timespec s = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&s, &s)) {}
}

static int reg(mqd_t q) {
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = by_thread ? SIGEV_THREAD : SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_notify_function = on_notify;
  ev.sigev_value.sival_int = 77;
  return mq_notify(q, &ev);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[2]);
  by_thread = argc > 3 && !strcmp(argv[3], "thread");
  main_thread = pthread_self();
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);
  struct mq_attr a = { 0, 4, 32, 0, { 0 } };
  mq_unlink(argv[1]);
  mqd_t q = mq_open(argv[1], O_RDWR | O_CREAT, 0600, &a);
  if (q == (mqd_t)-1 || reg(q) != 0) { printf("CORRUPT mq_open or mq_notify\n"); return 3; }
  for (int i = 1; i <= n; i++) {
    nap_ms(100);
    int before = got;
    char msg[32];
    int len = snprintf(msg, sizeof msg, "m%d", i);
    if (mq_send(q, msg, (size_t)len, 0) != 0) { printf("CORRUPT mq_send %d\n", i); return 3; }
    for (int w = 0; w < 500 && got == before; w++) nap_ms(10);
    if (got != before + 1 || value != 77) { printf("CORRUPT no notification for %d (got %d, value %d)\n", i, (int)got - before, (int)value); return 3; }
    char in[64];
    if (mq_receive(q, in, sizeof in, 0) != len || memcmp(in, msg, (size_t)len)) { printf("CORRUPT message %d\n", i); return 3; }
    if (reg(q) != 0) { printf("CORRUPT mq_notify again at %d\n", i); return 3; }
    printf("M %d\n", i);
  }
  mq_unlink(argv[1]);
  printf("DONE %d\n", n);
  return 0;
}
