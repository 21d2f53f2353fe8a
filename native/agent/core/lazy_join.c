/* A forked child joins the coordinator when it first matters.
 *
 * Most children of a computation live a few hundred microseconds: a shell's
 * child execs at once, a fork + wait loop's child exits at once. Connecting
 * each one to the coordinator and saying HELLO doubled the price of such a
 * fork. So a child of our fork wrapper does not connect in fork: its parent
 * has told the coordinator of it on its own link (FORKED, coord_link.c), and
 * the coordinator, until the child says HELLO or is gone from /proc, does not
 * let a checkpoint's SUSPEND complete (docs/protocol.md). The child joins:
 * - JOIN_DELAY_NS after the fork, from a one-shot timer of its own whose
 *   signal is our checkpoint signal (the handler joins: raw system calls
 *   only), so a child that lives on is counted by `dmtcp_command -s` soon and
 *   a checkpoint waits for it at most that long;
 * - before it execs, forks, or asks for its checkpoint thread, whichever
 *   comes first (lazy_join_now).
 * A child that ends before any of these never connects; the coordinator sees
 * it gone. Only over the abstract socket (coordinator on this host: it can
 * read /proc) and only for children of our wrapper (their parent said
 * FORKED); the others connect in fork as before. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define JOIN_DELAY_NS 10000000L      /* 10 ms: longer than a fork + exit, short for a checkpoint */
#define JOIN_TIMER_MAGIC 0x444d544a  /* sigev_value of our timer ("DMTJ") */
#define JOIN_POLL_MS 10

enum { JOINED = 0, DEFERRED = 1, JOINING = 2 };
static volatile int state = JOINED;
/* The kernel's id of our timer + 1 (0: none): zero-initialised beside
 * `state`, so that a child writes one page of ours, not two. */
static int join_timer_1;

int lazy_join_defer(void) {
  if (agent.config.no_coordinator || !coord_link_is_local()) return 0;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = agent.config.ckpt_signal;
  sev.sigev_value.sival_int = JOIN_TIMER_MAGIC;
  int id = -1;
  if (rsys3(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) < 0) return 0;
  /* field by field: a constant initializer would be read from .rodata, a
   * page the child would fault in for it */
  struct itimerspec once;
  memset(&once, 0, sizeof once);
  once.it_value.tv_nsec = JOIN_DELAY_NS;
  state = DEFERRED;   /* before the timer runs: its signal may come at once */
  join_timer_1 = id + 1;
  if (rsys4(SYS_timer_settime, id, 0, &once, 0) < 0) {
    rsys1(SYS_timer_delete, id);
    join_timer_1 = 0;
    state = JOINED;
    return 0;
  }
  return 1;
}

int lazy_join_pending(void) { return __atomic_load_n(&state, __ATOMIC_SEQ_CST) != JOINED; }

/* We moved state from DEFERRED to JOINING: connect, say HELLO, watch the link. */
static void join(void *uctx) {
  if (join_timer_1) rsys1(SYS_timer_delete, join_timer_1 - 1);
  join_timer_1 = 0;
  if (coord_connect_and_send_hello(0, 0) < 0) {
    agent_say("a child process cannot reach the coordinator; it runs without checkpoints");
    agent.active = 0;
  } else if (uctx) {
    checkpoint_thread_arm_in_handler(uctx);
  } else {
    checkpoint_thread_arm();
  }
  __atomic_store_n(&state, JOINED, __ATOMIC_SEQ_CST);
  agent_futex_wake(&state);
}

static int claim(void) {
  int expected = DEFERRED;
  return __atomic_compare_exchange_n(&state, &expected, JOINING, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void lazy_join_now(void) {
  for (;;) {
    int s = __atomic_load_n(&state, __ATOMIC_SEQ_CST);
    if (s == JOINED) return;
    if (s == DEFERRED && claim()) { join(0); return; }
    /* another thread joins (or its handler does): it ends soon */
    if (s == JOINING) agent_futex_wait(&state, JOINING, JOIN_POLL_MS);
  }
}

int lazy_join_signal(const siginfo_t *info, void *uctx) {
  if (info->si_code != SI_TIMER || info->si_value.sival_int != JOIN_TIMER_MAGIC) return 0;
  /* a handler never waits: whoever holds JOINING finishes without us */
  if (claim()) join(uctx);
  return 1;
}

void lazy_join_forget(void) {
  /* fork: timers are not inherited; the state is the parent's */
  AGENT_SET(join_timer_1, 0);
  AGENT_SET(state, JOINED);
}
