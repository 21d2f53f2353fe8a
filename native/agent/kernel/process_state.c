/* Per-process kernel state that memory does not carry: signal dispositions,
 * pending signals, cwd, umask, limits (and the fd table: fds.c). Saved by the checkpoint thread
 * while the program is frozen; restored by the restore entry before the program's
 * threads run again. Raw system calls only (see util.c for why). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"
#include "encoder_service.h"

/* ---- signals ---- */

static void save_sigactions(void) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    rsys4(SYS_rt_sigaction, sig, 0, &agent.sigactions[sig], 8);
  }
}

static void restore_sigactions(void) {
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    rsys4(SYS_rt_sigaction, sig, &agent.sigactions[sig], 0, 8);
  }
}

/* "SigPnd:\t0000000000000200" → bit mask (bit n-1 for signal n) */
static uint64_t read_pending_field(const char *status_path, const char *field) {
  char buf[4096];
  if (agent_read_file(status_path, buf, sizeof buf) <= 0) return 0;
  return agent_status_hex(buf, field);
}

/* The process's pending signals, each taken out with its siginfo and queued
 * again at once (rt_sigqueueinfo to ourselves keeps every field): nothing
 * changes for a computation that resumes, and a restart queues them again as
 * they were, not as bare kill()s. Signals pending on one thread keep only
 * their number. */
static void save_pending_info(void) {
  agent.npending_info = 0;
  uint64_t ours = 1ULL << (agent.config.ckpt_signal - 1);
  for (int sig = 1; sig <= 64; sig++) {
    uint64_t bit = 1ULL << (sig - 1);
    if (!(agent.process_pending & bit) || (bit & ours) || sig == SIGKILL || sig == SIGSTOP) continue;
    int first = agent.npending_info;
    while (agent.npending_info < AGENT_MAX_PENDING_INFO) {
      uint64_t set = bit;
      struct timespec none = { 0, 0 };
      unsigned char *info = agent.pending_info[agent.npending_info].info;
      if (rsys4(SYS_rt_sigtimedwait, &set, info, &none, 8) != sig) break;
      agent.pending_info[agent.npending_info++].sig = sig;
      if (sig < 32) break;   /* a standard signal is pending once */
    }
    for (int i = first; i < agent.npending_info; i++)
      rsys3(SYS_rt_sigqueueinfo, agent.real_pid, sig, agent.pending_info[i].info);
  }
}

static void save_pending(void) {
  agent.process_pending = read_pending_field("/proc/self/status", "ShdPnd:");
  save_pending_info();
  for (int i = 0; i < agent.nthreads; i++) {
    struct thread_record *t = &agent.threads[i];
    char path[64];
    agent_task_path(path, sizeof path, t->real_tid, "status");
    t->pending = read_pending_field(path, "SigPnd:");
  }
}

void process_state_raise_pending(void) {
  uint64_t ours = 1ULL << (agent.config.ckpt_signal - 1);
  for (int sig = 1; sig <= 64; sig++) {
    uint64_t bit = 1ULL << (sig - 1);
    if (bit & ours) continue;
    int queued = 0;
    for (int i = 0; i < agent.npending_info; i++)
      if (agent.pending_info[i].sig == sig && rsys3(SYS_rt_sigqueueinfo, agent.real_pid, sig, agent.pending_info[i].info) == 0) queued = 1;
    if ((agent.process_pending & bit) && !queued) rsys2(SYS_kill, agent.real_pid, sig);
    for (int i = 0; i < agent.nthreads; i++)
      if (agent.threads[i].pending & bit)
        rsys3(SYS_tgkill, agent.real_pid, agent.threads[i].real_tid, sig);
  }
}

/* ---- the rest ---- */

void process_state_release(void) { fds_release(); sysv_release(); }

/* The fd table is saved earlier, at the ELECT barrier (fd_share.c needs it);
 * a checkpoint that skipped it (nothing shared) saves it here. */
void process_state_save(void) {
  if (!agent.fds_saved) fds_save();
  agent.fds_saved = 0;
  children_save();
  terminal_save();
  /* After a restart the kernel names us after the restorer: keep the name ps shows. */
  char comm[sizeof agent.comm + 1];
  int got = agent_read_file("/proc/self/comm", comm, sizeof comm);
  if (got > 0) {
    if (comm[got - 1] == '\n') comm[got - 1] = 0;
    agent_strlcpy(agent.comm, comm, sizeof agent.comm);
  }
  save_sigactions();
  save_pending();
  long n = rsys3(SYS_readlink, "/proc/self/cwd", agent.cwd, sizeof agent.cwd - 1);
  agent.cwd[n > 0 ? n : 0] = 0;
  for (int r = 0; r < 16; r++) rsys4(SYS_prlimit64, 0, r, 0, &agent.rlimits[r]);
  agent.umask_value = (unsigned)rsys1(SYS_umask, 022);
  rsys1(SYS_umask, agent.umask_value);
}

void process_state_restore_early(void) {
  if (agent.cwd[0]) rsys1(SYS_chdir, agent.cwd);
  rsys1(SYS_umask, agent.umask_value);
  fds_restore();
  restore_sigactions();
}

/* After the coordinator socket is back: a lowered RLIMIT_NOFILE must not stop us
 * from opening it at its high number. Lowering a limit always works; raising a
 * hard limit needs privilege, so an ordinary user's restart keeps the new host's
 * hard limit there. */
void process_state_restore_limits(void) {
  for (int r = 0; r < 16; r++) {
    if (rsys4(SYS_prlimit64, 0, r, &agent.rlimits[r], 0) < 0) {
      uint64_t now[2];
      rsys4(SYS_prlimit64, 0, r, 0, now);
      uint64_t soft[2] = { agent.rlimits[r].cur < now[1] ? agent.rlimits[r].cur : now[1], now[1] };
      rsys4(SYS_prlimit64, 0, r, soft, 0);
    }
  }
}
