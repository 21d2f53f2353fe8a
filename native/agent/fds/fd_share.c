/* Which open file descriptions are shared, and with whom (the DMTCP way: an
 * election among the holders, not a wrapper on every open).
 *
 * SUSPEND barrier: every process saves its fd table (offsets untouched).
 * ELECT barrier (everyone is suspended): every process marks each of its
 * descriptions as its own. A seekable file gets its offset set to a tag
 * naming this process and fd; anything else gets F_SETOWN(this process).
 * Both live in the open file description, which the holders share, so when
 * every process has marked, the last one to do so owns it, and every holder
 * reads the same owner.
 * DRAIN barrier: every process reads who won: that is the description's name
 * across the computation (owner's virtual pid, and fd for files). Pipes are
 * named by their inode, and the owner of a read end drains it (pipes.c).
 * An epoll set, signalfd or timerfd has no inode or id of its own (every
 * anonymous inode is the same one): its owner's fd for it is found by asking
 * the kernel whether the owner's fds are the same description (kcmp, allowed
 * between processes of one user), the lowest one naming it.
 * CHECKPOINT barrier: offsets and owners go back as they were (every holder
 * writes the same saved value, so the order does not matter); the barrier in
 * between keeps anyone from undoing before all have read.
 * dmtcp_restart groups the holders by these names and the restorers make each
 * shared description once (docs/restart-tree.md). */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"

#define TAG_BASE (1LL << 40)            /* below every filesystem's largest offset */
#define TAG_FD_BITS 16
#define TAG_LIMIT (TAG_BASE + (1LL << (22 + TAG_FD_BITS)))   /* pids below 2^22 */

static int taggable(const struct fd_record *r) {
  if (r->kind != FD_FILE && r->kind != FD_DIR) return 0;
  /* seq_file and sysfs offsets are positions in generated text: leave them */
  return strncmp(r->path, "/proc/", 6) && strncmp(r->path, "/sys/", 5) && r->fd < (1 << TAG_FD_BITS);
}

static long tag_of(int fd) { return TAG_BASE + ((long)agent.real_pid << TAG_FD_BITS) + fd; }

void fd_share_elect(void) {
  if (!agent.fds_saved) return;   /* saved at SUSPEND: the offsets before anyone tagged */
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    const struct fd_kind_ops *k = fd_kind_ops(r->kind);
    if (k && !(k->adopt && r->ev_saved)) continue;   /* restored by each holder alone (fd_kinds.c) */
    if (k) {
      r->orig_owner = (int)rsys2(SYS_fcntl, r->fd, F_GETOWN);
      r->share = rsys3(SYS_fcntl, r->fd, F_SETOWN, agent.real_pid) < 0 ? SHARE_NONE : SHARE_ANON;
      continue;
    }
    if (taggable(r)) {
      r->share = rsys3(SYS_lseek, r->fd, tag_of(r->fd), SEEK_SET) == tag_of(r->fd) ? SHARE_TAG : SHARE_NONE;
      continue;
    }
    r->orig_owner = (int)rsys2(SYS_fcntl, r->fd, F_GETOWN);
    if (rsys3(SYS_fcntl, r->fd, F_SETOWN, agent.real_pid) < 0) continue;
    r->share = r->kind == FD_PIPE ? SHARE_PIPE : SHARE_OWNER;
    if (r->kind == FD_PIPE) r->pipe_size = (int)rsys2(SYS_fcntl, r->fd, F_GETPIPE_SZ);
  }
}

struct same_search { int fd; long owner; int best; };

static void lowest_same(int n, int dir, void *ctx) {
  (void)dir;
  struct same_search *s = ctx;
  if ((s->best < 0 || n < s->best) && rsys5(SYS_kcmp, agent.real_pid, s->owner, KCMP_FILE, s->fd, n) == 0) s->best = n;
}

/* The lowest fd of process `owner` (real pid, maybe ours) that is the same
 * description as our `fd`, or -1. */
static int owner_fd_of(int fd, long owner) {
  char path[40];
  char *e = path + agent_strlcpy(path, "/proc/", sizeof path);
  e = agent_fmt_u64(e, (uint64_t)owner, 10);
  agent_strlcpy(e, "/fd", sizeof path - (size_t)(e - path));
  struct same_search s = { fd, owner, -1 };
  agent_each_numbered(path, lowest_same, &s);
  return s.best;
}

void fd_share_read(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->share == SHARE_TAG) {
      long pos = rsys3(SYS_lseek, r->fd, 0, SEEK_CUR);
      if (pos < TAG_BASE || pos >= TAG_LIMIT) { r->share = SHARE_NONE; continue; }
      r->owner_virt = pid_virt_of_real((pid_t)((pos - TAG_BASE) >> TAG_FD_BITS));
      r->owner_fd = (int)((pos - TAG_BASE) & ((1 << TAG_FD_BITS) - 1));
    } else if (r->share == SHARE_OWNER || r->share == SHARE_PIPE) {
      long owner = rsys2(SYS_fcntl, r->fd, F_GETOWN);
      r->owner_virt = owner > 0 ? pid_virt_of_real((pid_t)owner) : 0;
      if (!r->owner_virt && r->share == SHARE_OWNER) r->share = SHARE_NONE;
    } else if (r->share == SHARE_ANON) {
      long owner = rsys2(SYS_fcntl, r->fd, F_GETOWN);
      r->owner_virt = owner > 0 ? pid_virt_of_real((pid_t)owner) : 0;
      r->owner_fd = owner > 0 ? owner_fd_of(r->fd, owner) : -1;
      if (!r->owner_virt || r->owner_fd < 0) r->share = SHARE_NONE;   /* made again by this holder alone */
    }
  }
  pipes_drain();
  sockets_peek();
  terminal_drain();
  fd_kinds_drain();
}

void fd_share_undo(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->share == SHARE_TAG) rsys3(SYS_lseek, r->fd, r->offset, SEEK_SET);
    else if (r->share == SHARE_OWNER || r->share == SHARE_PIPE || r->share == SHARE_ANON) rsys3(SYS_fcntl, r->fd, F_SETOWN, r->orig_owner);
  }
}
