/* Children join the computation.
 *
 * Every fork of the program, ours or glibc's own (daemon(), the atfork
 * handlers run for all of them), ends in fork_child_join in the child: it
 * drops the parent's coordinator connection, connects as a new process with
 * its own unique id and virtual pid, and starts its own checkpoint thread
 * (threads do not survive fork). Its parent is the process that forked it,
 * under the pid that one believes it has.
 *
 * Our fork wrapper also makes the fork whole with respect to checkpoints,
 * without waiting for the child: it notes the child while it holds the
 * checkpoint gate (gate.c), and the coordinator is told of it (FORKED, on our
 * own link) before this process reaches SUSPEND (coord_link.c, forked_note),
 * so that a checkpoint that starts after fork returns waits for the child's
 * HELLO (docs/protocol.md). The child of our wrapper then joins when it first
 * matters (lazy_join.c); one of a fork we did not wrap joins at once. vfork
 * is a fork here: the child of a vfork would run our join on its parent's
 * memory.
 *
 * clone() without CLONE_THREAD is a fork too (see clone below).
 *
 * After a restart the kernel hands out pids that the program may know as
 * other processes' virtual pids; such a child leaves at once and we fork
 * again (pid_table_conflicts, which parent and child read alike). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

#define FORK_RETRIES 64

typedef pid_t (*fork_fn)(void);

/* Set by our wrapper around its fork, for the forking thread only: the child
 * knows that its parent tells the coordinator of it. 0: a fork we did not wrap. */
static __thread int wrapped_fork __attribute__((tls_model("initial-exec")));
/* ...and may leave over a pid conflict: the wrapper forks again. */
static __thread int may_retry __attribute__((tls_model("initial-exec")));
/* In vfork (made a fork here): plugins hear the VFORK_ events instead. */
static __thread int in_vfork __attribute__((tls_model("initial-exec")));
#define FORK_EVENT(name) (in_vfork ? DMTCP_EVENT_VFORK_##name : DMTCP_EVENT_ATFORK_##name)

void fork_child_join(void) {
  /* AGENT_SET: a page the child only reads is not copied (AGENT_FORK_PATH) */
  int wrapped = wrapped_fork;
  AGENT_SET(wrapped_fork, 0);
  AGENT_SET(agent_in_fork, 0);
  checkpoint_thread_forget();
  lazy_join_forget();
  forked_child_forget();
  if (!agent.active) return;
  /* The parent's connection is the parent's: this process gets its own (at
   * the same number: coord_link.c) when it joins. */
  if (agent.coord_fd >= 0) rsys1(SYS_close, agent.coord_fd);
  agent.virt_ppid = agent.virt_pid;
  agent.parent_real = agent.real_pid;
  agent.real_pid = agent.virt_pid = (pid_t)rsys0(SYS_getpid);
  agent.restarted = 0;
  agent.is_root = 0;
  agent.unique_id[0] = 0;
  if (agent.generation) agent.last_image[0] = 0;   /* set by a checkpoint only */
  agent.generation = 0;
  AGENT_SET(agent.nthreads, 0);
  AGENT_SET(agent.gate_in_flight, 0);
  AGENT_SET(agent.gate_closed, 0);
  gate_child_reset();
  if (may_retry && pid_table_conflicts(agent.real_pid)) rsys1(SYS_exit_group, 0);   /* the parent forks again */
  AGENT_SET(may_retry, 0);
  if (wrapped && lazy_join_defer()) {
    if (plugins_loaded()) plugins_event(FORK_EVENT(CHILD), 0);
    return;
  }
  if (coord_connect_and_send_hello(0, 0) < 0) {
    agent_say("a child process cannot reach the coordinator; it runs without checkpoints");
    agent.active = 0;
    return;
  }
  /* Our checkpoint thread starts when the coordinator first writes to us
   * (lazy_thread.c); it takes our WELCOME, if any. */
  plugins_event(FORK_EVENT(CHILD), 0);
  checkpoint_thread_arm();
}

AGENT_FORK_PATH static pid_t real_fork(void) {
  static fork_fn real;
  if (!real) real = (fork_fn)dlsym(RTLD_NEXT, "fork");
  return real();
}

/* Makes a new process with make(ctx), which returns 0 in the child after
 * fork_child_join ran there, and tells the coordinator of it before the
 * program sees it (or, over a pid conflict, reaps it and forks again). */
AGENT_FORK_PATH static pid_t joined_child(pid_t (*make)(void *), void *ctx) {
  lazy_join_now();   /* our FORKED goes on our own link */
  gate_enter();
  for (int attempt = 0;; attempt++) {
    plugins_event(FORK_EVENT(PREPARE), 0);
    wrapped_fork = agent.active && !agent.config.no_coordinator;
    may_retry = attempt < FORK_RETRIES;
    agent_in_fork = 1;
    pid_t child = make(ctx);
    if (child == 0) return 0;   /* ATFORK_CHILD: fork_child_join */
    int saved_errno = errno;
    agent_in_fork = 0;
    wrapped_fork = 0;
    if (child > 0 && may_retry && pid_table_conflicts(child)) {
      /* the child saw the same conflict and left */
      long w;
      do { w = rsys4(SYS_wait4, child, 0, __WALL, 0); } while (w == -EINTR);
      continue;
    }
    may_retry = 0;
    if (child > 0 && agent.active) forked_note(child);
    gate_leave();
    plugins_event(child > 0 ? FORK_EVENT(PARENT) : FORK_EVENT(FAILED), 0);
    errno = saved_errno;
    return child;   /* a new process keeps its kernel pid as its virtual pid */
  }
}

/* fork_child_join runs in the child in our atfork handler. */
AGENT_FORK_PATH static pid_t make_by_fork(void *unused) { (void)unused; return real_fork(); }

AGENT_EXPORT AGENT_FORK_PATH pid_t fork(void) {
  if (!agent.active) return real_fork();
  return joined_child(make_by_fork, 0);
}

/* clone() without CLONE_THREAD makes a process, as fork does, but glibc runs
 * no atfork handler for it: the child joins in our start function before the
 * program's. A child that shares its parent's memory (CLONE_VM: the join
 * would run on the parent's agent) or lives in new namespaces (its pids are
 * not the tree's) is made as asked, unobserved, with one line. */
#define CLONE_UNOBSERVED (CLONE_VM | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
typedef int (*clone_fn)(int (*)(void *), void *, int, void *, ...);
struct clone_call {
  int (*fn)(void *);
  void *arg, *stack, *tls;
  int flags;
  pid_t *parent_tid, *child_tid;
};

static clone_fn real_clone(void) {
  static clone_fn real;
  if (!real) real = (clone_fn)dlsym(RTLD_NEXT, "clone");
  return real;
}

/* libc's clone, for the agent's own children (the image encoder). */
int agent_libc_clone(int (*fn)(void *), void *stack, int flags, void *arg) { return real_clone()(fn, stack, flags, arg); }

/* In the child, on its own stack, with a copy of the parent's memory (so the
 * call's description is there too). */
static int clone_child_start(void *p) {
  const struct clone_call *c = p;
  fork_child_join();
  /* glibc ends the child with exit() when fn returns, which would end only
   * this thread: the process has our checkpoint thread too now */
  rsys1(SYS_exit_group, c->fn(c->arg));
  return 0;
}

static pid_t make_by_clone(void *p) {
  struct clone_call *c = p;
  return (pid_t)real_clone()(clone_child_start, c->stack, c->flags, c, c->parent_tid, c->tls, c->child_tid);
}

AGENT_EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
  va_list ap;
  va_start(ap, arg);
  pid_t *parent_tid = va_arg(ap, pid_t *);
  void *tls = va_arg(ap, void *);
  pid_t *child_tid = va_arg(ap, pid_t *);
  va_end(ap);
  if (!agent.active || (flags & CLONE_THREAD)) return real_clone()(fn, stack, flags, arg, parent_tid, tls, child_tid);
  if (flags & CLONE_UNOBSERVED) {
    agent_say("a process made by clone() sharing its parent's memory or in new namespaces is not checkpointed");
    return real_clone()(fn, stack, flags, arg, parent_tid, tls, child_tid);
  }
  struct clone_call c = { fn, arg, stack, tls, flags, parent_tid, child_tid };
  pid_t child = joined_child(make_by_clone, &c);
  return child;   /* the child returns from clone_child_start, never here */
}

/* vfork's child may only exec or _exit, which a fork's child may too; a fork
 * lets our agent run in the child (its own stack, its own memory). */
AGENT_EXPORT pid_t vfork(void) {
  in_vfork = 1;
  pid_t child = fork();
  in_vfork = 0;
  return child;
}
