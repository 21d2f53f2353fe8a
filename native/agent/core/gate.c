/* The checkpoint gate: fork and exec must not be cut in half by a checkpoint.
 *
 * A fork is complete for us when the child has joined the coordinator (its
 * checkpoint thread runs), so that a checkpoint that begins afterwards
 * includes it. An exec is complete when the new program's agent has taken the
 * coordinator connection over. The wrappers hold the gate open while they
 * work (gate_enter/gate_leave); the checkpoint thread closes it before it
 * suspends anyone and waits for the wrappers in flight to leave. A wrapper
 * that finds the gate closed waits: the checkpoint signal then parks it where
 * it waits, like any other thread, and it goes on after the resume.
 *
 * Futexes on two words of the agent's state, no locks of libc: the gate is
 * used between fork and exec, where only async-signal-safe calls belong. */
#include "agent.h"

#define GATE_POLL_MS 100

/* How many times this thread holds the gate open: a thread inside a critical
 * section of its own (dmtcp_disable_ckpt) that forks or execs must not wait
 * for a checkpoint that waits for it. */
static __thread int held_here __attribute__((tls_model("initial-exec")));

void gate_enter(void) {
  if (held_here) {
    __atomic_add_fetch(&agent.gate_in_flight, 1, __ATOMIC_SEQ_CST);
    held_here++;
    return;
  }
  for (;;) {
    while (agent.gate_closed) agent_futex_wait(&agent.gate_closed, 1, GATE_POLL_MS);
    __atomic_add_fetch(&agent.gate_in_flight, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&agent.gate_closed, __ATOMIC_SEQ_CST)) { held_here++; return; }
    /* Closed meanwhile: step back out and let the checkpoint go first. */
    __atomic_sub_fetch(&agent.gate_in_flight, 1, __ATOMIC_SEQ_CST);
    agent_futex_wake(&agent.gate_in_flight);
  }
}

int gate_held_here(void) { return held_here; }

/* A forked child starts with the gate of its own, held by no one. */
void gate_child_reset(void) { AGENT_SET(held_here, 0); }

void gate_leave(void) {
  if (held_here > 0) held_here--;
  /* Only a closing gate has a waiter (every fork comes here: no wake for
   * nobody). Both sides are sequentially consistent: either gate_close reads
   * our 0, or we read its 1 and wake it. */
  if (__atomic_sub_fetch(&agent.gate_in_flight, 1, __ATOMIC_SEQ_CST) == 0 && __atomic_load_n(&agent.gate_closed, __ATOMIC_SEQ_CST))
    agent_futex_wake(&agent.gate_in_flight);
}

void gate_close(void) {
  __atomic_store_n(&agent.gate_closed, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    int n = __atomic_load_n(&agent.gate_in_flight, __ATOMIC_SEQ_CST);
    if (n == 0) return;
    agent_futex_wait(&agent.gate_in_flight, n, GATE_POLL_MS);
  }
}

void gate_open(void) {
  __atomic_store_n(&agent.gate_closed, 0, __ATOMIC_SEQ_CST);
  agent_futex_wake(&agent.gate_closed);
}
