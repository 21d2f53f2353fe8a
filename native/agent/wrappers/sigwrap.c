/* The checkpoint signal belongs to the agent. A program that installs a handler
 * for it, or blocks it, would stop checkpoints from working: we keep the handler
 * and drop the signal from masks, and report the program's wish back to it.
 * Programs that use SIGUSR2 themselves run with --mtcp-checkpoint-signal N. */
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include "agent.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static struct sigaction program_wish;   /* what the program asked for our signal */

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

int agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  static sigaction_fn real;
  if (!real) real = (sigaction_fn)next_symbol("sigaction");
  return real(sig, act, old);
}

static int is_ours(int sig) { return agent.active && sig == agent.config.ckpt_signal; }

AGENT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!is_ours(sig)) return agent_real_sigaction(sig, act, old);
  if (old) *old = program_wish;
  if (act) program_wish = *act;
  return 0;
}

AGENT_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
  static signal_fn real;
  if (!real) real = (signal_fn)next_symbol("signal");
  if (!is_ours(sig)) return real(sig, handler);
  sighandler_t previous = program_wish.sa_handler;
  program_wish.sa_handler = handler;
  return previous;
}

static const sigset_t *without_ours(const sigset_t *set, sigset_t *copy) {
  if (!set || !agent.active) return set;
  *copy = *set;
  sigdelset(copy, agent.config.ckpt_signal);
  return copy;
}

AGENT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  sigset_t copy;
  if (!real) real = (sigmask_fn)next_symbol("sigprocmask");
  return real(how, how == SIG_UNBLOCK ? set : without_ours(set, &copy), old);
}

AGENT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  sigset_t copy;
  if (!real) real = (sigmask_fn)next_symbol("pthread_sigmask");
  return real(how, how == SIG_UNBLOCK ? set : without_ours(set, &copy), old);
}
