/* Signal state across a restart: a SIGUSR1 handler that runs on a sigaltstack, a
 * blocked SIGINT in the main thread's mask, a SIGTERM kept pending (blocked and
 * raised before any checkpoint), and the handler's use of SA_RESTART/SA_ONSTACK.
 * Every tick re-checks all of it; at the end SIGTERM is unblocked and must be
 * delivered. Prints "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
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

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void check_state(void) {
  struct sigaction sa;
  sigaction(SIGUSR1, 0, &sa);
  if (sa.sa_handler != on_usr1) fail("SIGUSR1 handler lost");
  if (!(sa.sa_flags & SA_ONSTACK)) fail("SA_ONSTACK lost");
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
