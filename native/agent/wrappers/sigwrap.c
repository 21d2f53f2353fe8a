/* The checkpoint signal belongs to the agent. A program that installs a handler
 * for it, or blocks it, would stop checkpoints from working: we keep the handler
 * and drop the signal from masks, and report the program's wish back to it.
 * The program's own sends of the signal (kill, raise, a timer) still reach it
 * as it asked: our handler passes every one it did not send on to
 * agent_program_signal below, which runs the program's handler, ignores it or
 * takes the default action, and holds it while the thread's program mask
 * blocks it, until the program unblocks it. (--mtcp-checkpoint-signal N moves
 * checkpoints to another signal altogether.) */
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static struct sigaction program_wish;   /* what the program asked for our signal */

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

int agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  static sigaction_fn real;
  if (!real) real = (sigaction_fn)next_symbol("sigaction");
  return real(sig, act, old);
}

static int is_ours(int sig) { return agent.active && sig == agent.config.ckpt_signal; }

/* Signals the program catches with a handler that blocks its own signal while
 * it runs (lazy_thread.c: a mask with one of them blocked may be such a handler). */
static uint64_t program_handled;

uint64_t agent_program_handled_signals(void) { return program_handled; }

static void note_program_handler(int sig, void (*handler)(int), int flags) {
  if (sig < 1 || sig > 64) return;
  uint64_t bit = 1ULL << (sig - 1);
  if (handler != SIG_DFL && handler != SIG_IGN && !(flags & SA_NODEFER)) program_handled |= bit;
  else program_handled &= ~bit;
}

/* The program's handlers run through a trampoline of ours that counts them
 * on their thread (agent_program_handlers_run): a wait our checkpoint ended
 * is made again only if no handler of the program's ran during it (waits.c).
 * Only the kernel's word tells it apart otherwise, and it cannot: pause()
 * resumed after its handler looks to our signal exactly like a pause() our
 * signal cut short, when the thread was not on a CPU as its handler returned.
 * The program is told its own handler back (sigaction's old action). */
__thread volatile unsigned agent_program_handlers_run __attribute__((tls_model("initial-exec")));
#define MAX_SIGNAL 64
static struct sigaction program_actions[MAX_SIGNAL + 1];

void agent_program_handler_trampoline(int sig, siginfo_t *info, void *uctx) {
  agent_program_handlers_run++;
  if (sig < 1 || sig > MAX_SIGNAL) return;
  /* SA_RESETHAND: the kernel has put SIG_DFL back already, and sigaction
   * tells the kernel's action then, not ours */
  struct sigaction a = program_actions[sig];
  if (a.sa_flags & SA_SIGINFO) a.sa_sigaction(sig, info, uctx);
  else if (a.sa_handler != SIG_DFL && a.sa_handler != SIG_IGN) a.sa_handler(sig);
}

static int catches(const struct sigaction *act) {
  return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

static int program_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig < 1 || sig > MAX_SIGNAL || !agent.active) {
    int r = agent_real_sigaction(sig, act, old);
    if (r == 0 && act) note_program_handler(sig, act->sa_handler, act->sa_flags);
    return r;
  }
  struct sigaction was = program_actions[sig], installed, kernel_old;
  const struct sigaction *give = act;
  if (act && catches(act)) {
    program_actions[sig] = *act;   /* before the kernel can call the trampoline for it */
    installed = *act;
    installed.sa_sigaction = agent_program_handler_trampoline;
    installed.sa_flags |= SA_SIGINFO;
    give = &installed;
  }
  int r = agent_real_sigaction(sig, give, &kernel_old);
  if (r != 0) { program_actions[sig] = was; return r; }
  if (old) *old = kernel_old.sa_sigaction == agent_program_handler_trampoline ? was : kernel_old;
  if (act) note_program_handler(sig, act->sa_handler, act->sa_flags);
  return 0;
}

AGENT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (!is_ours(sig)) return program_sigaction(sig, act, old);
  if (old) *old = program_wish;
  if (act) program_wish = *act;
  return 0;
}

/* signal() as glibc makes it (BSD semantics): the signal blocked during its
 * handler, calls restarted; sysv_signal: one shot, not blocked, not restarted. */
static sighandler_t via_sigaction(int sig, sighandler_t handler, int flags) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  if (!(flags & SA_NODEFER) && sig >= 1 && sig <= MAX_SIGNAL) sigaddset(&act.sa_mask, sig);
  act.sa_flags = flags;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

AGENT_EXPORT sighandler_t signal(int sig, sighandler_t handler) { return via_sigaction(sig, handler, SA_RESTART); }
AGENT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) { return via_sigaction(sig, handler, SA_RESTART); }
AGENT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) { return via_sigaction(sig, handler, SA_RESETHAND | SA_NODEFER); }
AGENT_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler) { return via_sigaction(sig, handler, SA_RESETHAND | SA_NODEFER); }

/* Per thread: whether the program's mask blocks our signal, and a send of
 * the program's that waits for it to unblock (TLS: read in the handler). */
static __thread int program_blocks __attribute__((tls_model("initial-exec")));
static __thread int program_held __attribute__((tls_model("initial-exec")));

static void send_to_self(int sig) { rsys3(SYS_tgkill, agent.real_pid, agent_real_gettid(), sig); }

static const sigset_t *without_ours(const sigset_t *set, sigset_t *copy) {
  if (!set || !agent.active) return set;
  *copy = *set;
  sigdelset(copy, agent.config.ckpt_signal);
  return copy;
}

/* The mask the program last set on this thread (lazy_thread.c tells from it
 * a program handler's mask). The main thread's is read at start; a thread the
 * program made and that never set one has the mask it inherited, which we do
 * not know: nothing is told from it there. */
static __thread uint64_t program_mask __attribute__((tls_model("initial-exec")));
static __thread int program_mask_known __attribute__((tls_model("initial-exec")));

void agent_note_program_mask(void) {
  if (rsys4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &program_mask, 8) == 0) program_mask_known = 1;
}

uint64_t agent_signals_blocked_beyond_program(uint64_t mask) { return program_mask_known ? mask & ~program_mask : 0; }

/* The mask the program asked for, kept for our signal; a send held while it
 * was blocked is sent again once it is not. */
static int masked(sigmask_fn real, int how, const sigset_t *set, sigset_t *old) {
  int sig = agent.config.ckpt_signal, was = program_blocks;
  sigset_t copy, before;
  if (!old) old = &before;
  int r = real(how, how == SIG_UNBLOCK ? set : without_ours(set, &copy), old);
  if (r != 0 || !agent.active) return r;
  if (set) {
    uint64_t prev, want;
    memcpy(&prev, old, sizeof prev);
    memcpy(&want, set, sizeof want);
    program_mask = how == SIG_BLOCK ? prev | want : how == SIG_UNBLOCK ? prev & ~want : want;
    program_mask_known = 1;
  }
  if (old && was) sigaddset(old, sig);
  if (set && sigismember(set, sig)) program_blocks = how != SIG_UNBLOCK;
  else if (set && how == SIG_SETMASK) program_blocks = 0;
  if (!program_blocks && program_held) { program_held = 0; send_to_self(sig); }
  return r;
}

AGENT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  if (!real) real = (sigmask_fn)next_symbol("sigprocmask");
  return masked(real, how, set, old);
}

AGENT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  static sigmask_fn real;
  if (!real) real = (sigmask_fn)next_symbol("pthread_sigmask");
  return masked(real, how, set, old);
}

/* Runs in our handler (every signal blocked) for a send of the program's. */
void agent_program_signal(int sig, siginfo_t *info, void *uctx) {
  if (program_blocks) { program_held = 1; return; }
  struct sigaction wish = program_wish;
  if (wish.sa_handler == SIG_IGN) return;
  uint64_t all = ~0ULL, during;
  if (wish.sa_handler == SIG_DFL) {
    /* the kernel's own default (for SIGUSR2: the process ends) */
    struct sigaction dfl, ours;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    agent_real_sigaction(sig, &dfl, &ours);
    uint64_t one = 1ULL << (sig - 1);
    send_to_self(sig);
    rsys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, 0, 8);
    rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
    agent_real_sigaction(sig, &ours, 0);
    return;
  }
  /* The program's handler with the mask it would have run with: the thread's
   * mask at the signal, the handler's sa_mask, and the signal itself. */
  const ucontext_t *uc = (const ucontext_t *)uctx;
  memcpy(&during, &uc->uc_sigmask, sizeof during);
  uint64_t extra;
  memcpy(&extra, &wish.sa_mask, sizeof extra);
  during |= extra;
  if (!(wish.sa_flags & SA_NODEFER)) during |= 1ULL << (sig - 1);
  if (wish.sa_flags & SA_RESETHAND) { memset(&program_wish, 0, sizeof program_wish); program_wish.sa_handler = SIG_DFL; }
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &during, 0, 8);
  if (wish.sa_flags & SA_SIGINFO) wish.sa_sigaction(sig, info, uctx);
  else wish.sa_handler(sig);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
}
