/* Freezing and re-creating the program's threads.
 *
 * Checkpoint: the checkpoint thread sends the checkpoint signal to every other
 * thread (found in /proc/self/task, so no wrapper on pthread_create is needed).
 * Each thread's handler saves a small context and parks on a futex. The kernel has
 * already pushed the thread's full register state, signal mask and altstack onto
 * its own stack as the signal frame, and that stack is saved with the rest of
 * memory.
 *
 * Restart: for each parked thread we clone a new kernel thread with the old thread
 * pointer (TLS), jump to the saved context, and so "return" inside the handler on
 * the thread's old stack. When the handler returns, rt_sigreturn restores every
 * register, the mask and the altstack from the frame: the thread continues exactly
 * where the signal stopped it. */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

#define PARK_POLL_MS 50
#define SUSPEND_TIMEOUT_POLLS 600      /* 30 s for a thread to reach its handler */
#define UNPARKABLE_AFTER_POLLS 4       /* 200 ms: then a thread blocking our signal is left alone */
#define REBORN_STACK_SIZE (64 * 1024)
#define RSEQ_SIG 0x53053053
#define RSEQ_ORIG_SIZE 32

/* glibc 2.35+ tells where each thread's rseq area is (thread pointer + offset). */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static struct thread_record *record_of_real(int real_tid) {
  for (int i = 0; i < agent.nthreads; i++)
    if (agent.threads[i].state != THREAD_FREE && agent.threads[i].real_tid == real_tid)
      return &agent.threads[i];
  return 0;
}

int threads_virt_of_real(int real_tid) {
  struct thread_record *t = record_of_real(real_tid);
  return t ? t->virt_tid : real_tid;
}

int threads_real_of_virt(int virt_tid) {
  for (int i = 0; i < agent.nthreads; i++)
    if (agent.threads[i].state != THREAD_FREE && agent.threads[i].virt_tid == virt_tid)
      return agent.threads[i].real_tid;
  return virt_tid;
}

static int had(const struct thread_record *t, int tid) {
  if (tid == t->virt_tid) return 1;
  int n = t->npast < AGENT_PAST_TIDS ? t->npast : AGENT_PAST_TIDS;
  for (int i = 0; i < n; i++) if (t->past_tids[i] == tid) return 1;
  return 0;
}

int threads_real_of_any(int tid) {
  for (int i = 0; i < agent.nthreads; i++) {
    const struct thread_record *t = &agent.threads[i];
    if (t->state != THREAD_FREE && (t->real_tid == tid || had(t, tid))) return t->real_tid;
  }
  return 0;
}

int64_t threads_cpu_offset(int real_tid) {
  const struct thread_record *t = record_of_real(real_tid);
  return t ? t->cpu_offset_ns : 0;
}

int threads_had_tid(int real_tid_now, int tid) {
  const struct thread_record *t = record_of_real(real_tid_now);
  return t && had(t, tid);
}

void threads_register_rseq(uint64_t fs_base) {
  if (!&__rseq_size || !&__rseq_offset || __rseq_size == 0) return;
  unsigned size = __rseq_size < RSEQ_ORIG_SIZE ? RSEQ_ORIG_SIZE : __rseq_size;
  rsys4(SYS_rseq, fs_base + __rseq_offset, size, 0, RSEQ_SIG);
}

/* ---- the handler, run by every user thread ---- */

__thread volatile unsigned agent_thread_stops __attribute__((tls_model("initial-exec")));

/* The signals whose action now is to be ignored: SIG_IGN, or SIG_DFL where
 * the kernel's default is to ignore. */
static int ignored_by_default(int s) { return s == SIGCHLD || s == SIGURG || s == SIGWINCH || s == SIGCONT; }

/* Our handler runs with every signal blocked. The kernel drops a signal sent
 * to the process whose action is to ignore it only when the process's first
 * thread does not block it; else it queues it and wakes another thread for
 * it, and an epoll_wait there ends with EINTR although nothing ran. So while
 * a thread is ours, it blocks all but those (sigreturn puts the program's
 * mask back): a child that ends, a window resized, during a checkpoint or a
 * restart, cut no wait short. */
static void unblock_ignored_signals(void) {
  uint64_t mask = ~0ULL;
  for (int s = 1; s <= 64; s++) {
    struct kernel_sigaction now;
    if (s == SIGKILL || s == SIGSTOP || rsys4(SYS_rt_sigaction, s, 0, &now, 8) != 0) continue;
    if (now.handler == SIG_IGN || (now.handler == SIG_DFL && ignored_by_default(s))) mask &= ~(1ULL << (s - 1));
  }
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &mask, 0, 8);
}

/* Whether one of these pending signals runs a handler of the program's that
 * sigwrap.c does not count: only a handler makes the kernel end the
 * interrupted wait with EINTR. A signal ignored by default or by choice
 * (above all the SIGCHLD of a child that ended while the tree was stopped or
 * restarting) does not, and must not make our EINTR look like the program's. */
static int runs_an_uncounted_handler(uint64_t signals) {
  for (int s = 1; signals && s <= 64; s++) {
    uint64_t bit = 1ULL << (s - 1);
    if (!(signals & bit)) continue;
    signals &= ~bit;
    struct kernel_sigaction now;
    if (rsys4(SYS_rt_sigaction, s, 0, &now, 8) != 0) continue;
    if (now.handler != SIG_DFL && now.handler != SIG_IGN && now.handler != (void *)agent_program_handler_trampoline) return 1;
  }
  return 0;
}

/* Whether our signal came as the thread left a system call: the pc is just
 * past a `syscall` instruction, so the call ended as we came (EINTR, a part
 * of a write) and its wrapper may call again (waits.c). Anywhere else (the
 * wrapper's code before its call, a handler of the program's that ended the
 * call) the call's end is the program's: counting our stop there made pause
 * wait again for a signal whose handler had already run. A pc at the start
 * of a page is counted as a call end: the byte before it is not read. */
#define SYSCALL_INSN_0 0x0f
#define SYSCALL_INSN_1 0x05
#define PAGE_MASK_LOW 4095u
static int came_as_a_call_ended(const void *uctx) {
  uintptr_t pc = (uintptr_t)((const ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
  if ((pc & PAGE_MASK_LOW) < 2) return 1;
  const unsigned char *p = (const unsigned char *)pc;
  return p[-2] == SYSCALL_INSN_0 && p[-1] == SYSCALL_INSN_1;
}

/* Our handler is about to return to the thread it stopped (a checkpoint, or
 * only the coordinator's nudge). A signal of the program's that came while
 * we held it is delivered as soon as we return, and its handler ends the
 * interrupted call with EINTR too: that EINTR is the program's. A handler
 * installed through sigaction or signal is counted as it runs (sigwrap.c);
 * one the program set by other means (sigset, a raw rt_sigaction) is not, so
 * for it our stop is taken back here. */
static void before_return(int sig, void *uctx, int counted) {
  uint64_t pending = 0, interrupted_mask;
  memcpy(&interrupted_mask, &((ucontext_t *)uctx)->uc_sigmask, sizeof interrupted_mask);
  rsys2(SYS_rt_sigpending, &pending, 8);
  if (counted && runs_an_uncounted_handler(pending & ~interrupted_mask & ~(1ULL << (sig - 1)))) agent_thread_stops--;
}

static void checkpoint_signal_handler(int sig, siginfo_t *info, void *uctx) {
  int saved_errno = errno;
  unblock_ignored_signals();
  if (checkpoint_thread_lazy_signal(info, uctx)) {   /* the coordinator wrote: start the thread */
    int counted = came_as_a_call_ended(uctx);
    if (counted) agent_thread_stops++;   /* an EINTR it caused is ours */
    before_return(sig, uctx, counted);
    errno = saved_errno;
    return;
  }
  struct thread_record *t = record_of_real(agent_real_gettid());
  /* Not sent by us: the program's own send (kill, raise, a timer), or ours
   * arriving after we gave up on this thread and went on without it. The
   * program's goes to what the program asked for (sigwrap.c). */
  if (!t || t->state != THREAD_SIGNALED) {
    if (!agent.suspended) agent_program_signal(sig, info, uctx);
    errno = saved_errno;
    return;
  }
  volatile int seq = agent.resume_seq;
  int counted = came_as_a_call_ended(uctx);
  if (counted) agent_thread_stops++;   /* before the save: a reborn thread sees it too */
  t->fs_base = agent_get_fs_base();
  t->cpu_at_stop_ns = agent_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  if (agent_ctx_save(&t->ctx) == 0) {
    t->state = THREAD_PARKED;
    __atomic_add_fetch(&agent.parked_count, 1, __ATOMIC_SEQ_CST);
    agent_futex_wake(&agent.parked_count);
  } else {
    /* A new kernel thread after restart, on the old stack, TLS already set;
     * its CPU clock starts again from 0. */
    t->cpu_offset_ns += t->cpu_at_stop_ns - agent_cpu_ns(CLOCK_THREAD_CPUTIME_ID);
    t->state = THREAD_REBORN;
    unblock_ignored_signals();   /* a new kernel thread: cloned with every signal blocked */
    __atomic_add_fetch(&agent.reborn_count, 1, __ATOMIC_SEQ_CST);
    agent_futex_wake(&agent.reborn_count);
  }
  while (agent.resume_seq == seq) agent_futex_wait(&agent.resume_seq, seq, -1);
  /* each thread of the program as it goes on, in itself (DMTCP 5's THREAD_RESUME) */
  if (plugins_loaded()) plugins_event(DMTCP_EVENT_THREAD_RESUME, t->state == THREAD_REBORN);
  before_return(sig, uctx, counted);
  errno = saved_errno;
}

int threads_install_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = checkpoint_signal_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  return agent_real_sigaction(agent.config.ckpt_signal, &sa, 0);
}

/* ---- checkpoint side ---- */

/* Lists live tids; returns how many were found (up to max). */
static int list_tasks(int *tids, int max) {
  char buf[8192];
  int n = 0;
  int fd = (int)rsys3(SYS_open, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  for (;;) {
    long got = rsys3(SYS_getdents64, fd, buf, sizeof buf);
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && n < max)
        tids[n++] = (int)agent_parse_u64(d->d_name, 10, 0);
      off += d->d_reclen;
    }
  }
  rsys1(SYS_close, fd);
  return n;
}

static int thread_alive(int tid) { return rsys3(SYS_tgkill, agent.real_pid, tid, 0) == 0; }

/* Threads found unparkable at an earlier checkpoint: not waited for again. */
#define UNPARKABLE_MEMORY 16
static int unparkable_tids[UNPARKABLE_MEMORY];
static int n_unparkable;

static int known_unparkable(int tid) {
  for (int i = 0; i < n_unparkable; i++) if (unparkable_tids[i] == tid) return 1;
  return 0;
}

static void remember_unparkable(int tid) {
  if (!known_unparkable(tid)) unparkable_tids[n_unparkable++ % UNPARKABLE_MEMORY] = tid;
  if (n_unparkable > UNPARKABLE_MEMORY) n_unparkable = UNPARKABLE_MEMORY;
}

/* Whether a thread blocks the checkpoint signal: our signal is still pending
 * for it (SigPnd) and blocked (SigBlk) in its status. Blocked alone is not
 * enough: a thread that is already in our handler runs with every signal
 * blocked, and it is about to park. Our wrappers keep the program from
 * blocking the signal; only raw calls do (glibc's helper thread for
 * SIGEV_THREAD timers blocks everything but its own). */
static int blocks_our_signal(int tid) {
  char path[64], buf[4096];
  agent_task_path(path, sizeof path, tid, "status");
  if (agent_read_file(path, buf, sizeof buf) <= 0) return 0;
  uint64_t bit = 1ULL << (agent.config.ckpt_signal - 1);
  return (agent_status_hex(buf, "SigPnd:") & bit) && (agent_status_hex(buf, "SigBlk:") & bit);
}

/* Drop records of threads that no longer exist and renumber the table densely. */
static void compact_table(const int *tids, int ntids) {
  int w = 0;
  for (int i = 0; i < agent.nthreads; i++) {
    struct thread_record *t = &agent.threads[i];
    int live = 0;
    for (int k = 0; k < ntids; k++) if (tids[k] == t->real_tid) live = 1;
    if (!live || t->state == THREAD_FREE || t->state == THREAD_GONE || t->state == THREAD_UNPARKABLE) continue;
    if (w != i) agent.threads[w] = *t;
    w++;
  }
  for (int i = w; i < agent.nthreads; i++) agent.threads[i].state = THREAD_FREE;
  agent.nthreads = w;
}

int threads_suspend_all(void) {
  static int tids[AGENT_MAX_THREADS];
  int self = agent_real_gettid();
  agent.parked_count = 0;
  /* Keep old records (virtual tids) but mark them unsignaled. */
  for (int i = 0; i < agent.nthreads; i++) agent.threads[i].state = THREAD_GONE;
  int signaled = 0;
  for (;;) {
    int ntids = list_tasks(tids, AGENT_MAX_THREADS);
    int fresh = 0;
    for (int k = 0; k < ntids; k++) {
      int tid = tids[k];
      if (tid == self) continue;
      struct thread_record *t = 0;
      for (int i = 0; i < agent.nthreads; i++)
        if (agent.threads[i].real_tid == tid) t = &agent.threads[i];
      if (t && t->state != THREAD_GONE) continue;      /* already signaled this round */
      if (!t) {
        if (agent.nthreads == AGENT_MAX_THREADS) { agent_say("too many threads to checkpoint"); return -1; }
        t = &agent.threads[agent.nthreads++];
        memset(t, 0, sizeof *t);
        t->real_tid = tid;
        t->virt_tid = tid;
      }
      if (known_unparkable(tid) && blocks_our_signal(tid)) {   /* no need to wait for it again */
        t->state = THREAD_UNPARKABLE;
        continue;
      }
      t->state = THREAD_SIGNALED;
      if (rsys3(SYS_tgkill, agent.real_pid, tid, agent.config.ckpt_signal) == 0) {
        signaled++;
        fresh++;
      } else {
        t->state = THREAD_GONE;
      }
    }
    /* Wait for every signaled thread to park; forget threads that exit first. */
    for (int polls = 0; agent.parked_count < signaled; polls++) {
      int seen = agent.parked_count;
      agent_futex_wait(&agent.parked_count, seen, PARK_POLL_MS);
      for (int i = 0; i < agent.nthreads; i++) {
        struct thread_record *t = &agent.threads[i];
        if (t->state != THREAD_SIGNALED) continue;
        if (!thread_alive(t->real_tid)) {
          t->state = THREAD_GONE;
          signaled--;
        } else if (polls == UNPARKABLE_AFTER_POLLS && blocks_our_signal(t->real_tid)) {
          t->state = THREAD_UNPARKABLE;
          remember_unparkable(t->real_tid);
          signaled--;
        }
      }
      if (polls > SUSPEND_TIMEOUT_POLLS) { agent_say("a thread did not stop for the checkpoint"); return -1; }
    }
    if (!fresh) {
      compact_table(tids, ntids);
      return 0;
    }
  }
}

void threads_resume_all(void) {
  __atomic_add_fetch(&agent.resume_seq, 1, __ATOMIC_SEQ_CST);
  agent_futex_wake(&agent.resume_seq);
}

/* ---- restart side ---- */

/* First C code of a re-created thread: its TLS is the old thread's already. */
void agent_thread_reborn(struct thread_record *t) __attribute__((noreturn));
void agent_thread_reborn(struct thread_record *t) {
  threads_register_rseq(t->fs_base);
  agent_ctx_jump(&t->ctx, 1);
}

static void *reborn_stacks;
static size_t reborn_stacks_len;

/* The record of the thread the kernel called the process by at checkpoint
 * time (its tid was the pid), if it was stopped with the others. */
struct thread_record *threads_leader_record(pid_t old_real_pid) {
  for (int i = 0; i < agent.nthreads; i++) {
    struct thread_record *t = &agent.threads[i];
    if (t->state == THREAD_PARKED && t->real_tid == old_real_pid) return t;
  }
  return 0;
}

static const unsigned long REBORN_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                                          CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                                          CLONE_CHILD_CLEARTID;

static void reborn_failed(void) {
  agent_say_error("restart: cannot re-create a thread");
  rsys1(SYS_exit_group, AGENT_FAIL_RC);
}

static char *reborn_stack_top(int slot) { return (char *)reborn_stacks + (size_t)(slot + 1) * REBORN_STACK_SIZE; }

/* The checkpoint thread as a record that agent_thread_reborn can start. */
static struct thread_record ckpt_rebirth;

void threads_recreate_after_restart(const struct thread_record *leader) {
  agent.reborn_count = 0;
  /* one stack per program thread, and one for the checkpoint thread */
  reborn_stacks_len = (size_t)(agent.nthreads + 1) * REBORN_STACK_SIZE;
  reborn_stacks = (void *)rsys6(SYS_mmap, 0, reborn_stacks_len, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if ((long)reborn_stacks < 0 && (long)reborn_stacks > -4096) {
    agent_say_error("restart: cannot allocate thread stacks");
    rsys1(SYS_exit_group, AGENT_FAIL_RC);
  }
  for (int i = 0; i < agent.nthreads; i++) {
    struct thread_record *t = &agent.threads[i];
    if (t->state != THREAD_PARKED || t == leader) continue;
    /* glibc keeps the kernel tid in struct pthread; pthread_join waits on it. */
    int *tid_slot = (int *)(t->fs_base + (uint64_t)agent.pthread_tid_offset);
    /* the tid glibc knew it by until now, which its mutexes may still name */
    t->past_tids[t->npast++ % AGENT_PAST_TIDS] = *tid_slot;
    long tid = agent_clone_into(REBORN_FLAGS, reborn_stack_top(i), tid_slot, tid_slot, t->fs_base, t);
    if (tid < 0) reborn_failed();
    t->real_tid = (int)tid;
  }
}

void threads_start_checkpoint_thread(void) {
  ckpt_rebirth.fs_base = agent.ckpt_fs_base;
  ckpt_rebirth.ctx = agent.ckpt_ctx;
  int *tid_slot = (int *)(agent.ckpt_fs_base + (uint64_t)agent.pthread_tid_offset);
  /* the kernel writes the new tid into both before the thread runs */
  long tid = agent_clone_into(REBORN_FLAGS | CLONE_CHILD_SETTID, reborn_stack_top(agent.nthreads),
                              &agent.ckpt_real_tid, tid_slot, agent.ckpt_fs_base, &ckpt_rebirth);
  if (tid < 0) reborn_failed();
}

void threads_become(struct thread_record *t) {
  int *tid_slot = (int *)(t->fs_base + (uint64_t)agent.pthread_tid_offset);
  t->past_tids[t->npast++ % AGENT_PAST_TIDS] = *tid_slot;
  t->real_tid = agent.real_pid;
  *tid_slot = agent.real_pid;
  agent_set_fs_base(t->fs_base);
  rsys1(SYS_set_tid_address, tid_slot);
  agent_thread_reborn(t);
}

void threads_wait_reborn(void) {
  int expected = 0;
  /* Parked threads were cloned again; the quick ones are already reborn. */
  for (int i = 0; i < agent.nthreads; i++) {
    int st = agent.threads[i].state;
    if (st == THREAD_PARKED || st == THREAD_REBORN) expected++;
  }
  while (agent.reborn_count < expected) {
    int seen = agent.reborn_count;
    agent_futex_wait(&agent.reborn_count, seen, PARK_POLL_MS);
  }
  /* Every reborn thread has left its temporary stack for its own. */
  rsys2(SYS_munmap, reborn_stacks, reborn_stacks_len);
}
