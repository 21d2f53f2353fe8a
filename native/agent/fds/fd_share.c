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
 * CHECKPOINT barrier: offsets and owners go back as they were (every holder
 * writes the same saved value, so the order does not matter); the barrier in
 * between keeps anyone from undoing before all have read.
 * dmtcp_restart groups the holders by these names and the restorers make each
 * shared description once (docs/restart-tree.md). */
#include <fcntl.h>
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
    if (fd_kind_ops(r->kind)) continue;   /* restored by each holder alone (fd_kinds.c) */
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
    else if (r->share == SHARE_OWNER || r->share == SHARE_PIPE) rsys3(SYS_fcntl, r->fd, F_SETOWN, r->orig_owner);
  }
}
