/* Signal state across a restart: a SIGUSR1 handler that runs on a sigaltstack, a
 * blocked SIGINT in the main thread's mask, a SIGTERM kept pending (blocked and
 * raised before any checkpoint), and the handler's use of SA_RESTART/SA_ONSTACK;
 * a SA_SIGINFO handler that gets sigqueue's value; sigaction and signal telling
 * the program its own handlers and flags back; a SA_RESETHAND handler that runs
 * once, after which the action is SIG_DFL.
 * Every tick re-checks all of it; at the end SIGTERM is unblocked and must be
 * delivered. Prints "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALT_SIZE (64 * 1024)

static char altstack[ALT_SIZE];
static volatile long usr1_hits, usr1_on_altstack;
static volatile int term_seen;
static char failure[256];

static void fail(const char *why) { if (!failure[0]) snprintf(failure, sizeof failure, "%s", why); }

static void on_usr1(int sig) {
  char here;
  (void)sig;
  usr1_hits++;
  if (&here >= altstack && &here < altstack + ALT_SIZE) usr1_on_altstack++;
}

static void on_term(int sig) { (void)sig; term_seen = 1; }

#define SIG_INFO (SIGRTMIN + 6)
static volatile int info_value;
static void on_info(int sig, siginfo_t *si, void *uc) { (void)sig; (void)uc; info_value = si->si_value.sival_int; }
static volatile int hup_hits;
static void on_hup(int sig) { (void)sig; hup_hits++; }
static void on_pipe_a(int sig) { (void)sig; }
static void on_pipe_b(int sig) { (void)sig; }

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void check_state(void) {
  struct sigaction sa;
  sigaction(SIGUSR1, 0, &sa);
  if (sa.sa_handler != on_usr1) fail("SIGUSR1 handler lost");
  if (!(sa.sa_flags & SA_ONSTACK)) fail("SA_ONSTACK lost");
  if (sa.sa_flags & SA_SIGINFO) fail("SIGUSR1 told back with SA_SIGINFO it was not given");
  sigaction(SIG_INFO, 0, &sa);
  if (sa.sa_sigaction != on_info || !(sa.sa_flags & SA_SIGINFO)) fail("SA_SIGINFO handler lost");
  static int value = 1000;
  pthread_sigqueue(pthread_self(), SIG_INFO, (union sigval){ .sival_int = ++value });
  if (info_value != value) fail("SA_SIGINFO handler did not get sigqueue's value");
  if (signal(SIGPIPE, on_pipe_b) != on_pipe_a || signal(SIGPIPE, on_pipe_a) != on_pipe_b) fail("signal() did not tell the handler before");
  stack_t ss;
  sigaltstack(0, &ss);
  if (ss.ss_sp != altstack || ss.ss_size != ALT_SIZE) fail("sigaltstack lost");
  sigset_t mask, pending;
  sigprocmask(SIG_BLOCK, 0, &mask);
  if (!sigismember(&mask, SIGINT)) fail("SIGINT no longer blocked");
  if (!sigismember(&mask, SIGTERM)) fail("SIGTERM no longer blocked");
  sigpending(&pending);
  if (!sigismember(&pending, SIGTERM)) fail("pending SIGTERM lost");
  long before = usr1_hits;
  raise(SIGUSR1);
  if (usr1_hits != before + 1) fail("SIGUSR1 handler did not run");
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 40;
  stack_t ss = { .ss_sp = altstack, .ss_size = ALT_SIZE, .ss_flags = 0 };
  sigaltstack(&ss, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK | SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);
  sa.sa_handler = on_term;
  sa.sa_flags = 0;
  sigaction(SIGTERM, &sa, 0);
  sa.sa_sigaction = on_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIG_INFO, &sa, 0);
  sa.sa_handler = on_hup;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGHUP, &sa, 0);
  raise(SIGHUP);
  sigaction(SIGHUP, 0, &sa);
  if (hup_hits != 1 || sa.sa_handler != SIG_DFL) fail("SA_RESETHAND: the handler did not run once, or the action is not SIG_DFL after");
  signal(SIGPIPE, on_pipe_a);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, 0);
  raise(SIGTERM);
  for (int t = 1; t <= ticks; t++) {
    check_state();
    printf("tick %d usr1 %ld\n", t, usr1_hits);
    fflush(stdout);
    sleep_ms(50);
  }
  if (usr1_on_altstack != usr1_hits) fail("SIGUSR1 handler ran off the altstack");
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &term, 0);
  if (!term_seen) fail("pending SIGTERM was not delivered");
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok usr1 %ld\n", usr1_hits);
  return 0;
}
