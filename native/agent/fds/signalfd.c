/* signalfd: reads the signals of its mask. Capture: the mask from fdinfo.
 * Restore: a new signalfd with that mask. The signals themselves are pending
 * on the process or its threads and come back with them (process_state.c).
 * One that several processes hold is made once by the restorers; each holder
 * gives it the mask (signalfd4 on an fd it already is sets the mask). */
#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

#define KERNEL_SIGSET_SIZE 8

static void signalfd_save(struct fd_record *r) {
  char info[512];
  if (fdinfo_read(r->fd, info, sizeof info) <= 0) return;
  r->ev_mask = fdinfo_u64(info, "sigmask:", 16, 0);
  r->ev_saved = 1;
}

static int signalfd_restore(const struct fd_record *r) {
  int flags = SFD_CLOEXEC | ((r->status_flags & O_NONBLOCK) ? SFD_NONBLOCK : 0);
  return (int)rsys4(SYS_signalfd4, -1, &r->ev_mask, KERNEL_SIGSET_SIZE, flags);
}

static int signalfd_adopt(const struct fd_record *r) {
  long fd = rsys4(SYS_signalfd4, r->fd, &r->ev_mask, KERNEL_SIGSET_SIZE, 0);
  return fd < 0 ? (int)fd : 0;
}

static void signalfd_describe(struct jbuf *b, const struct fd_record *r) {
  json_member(b, "mask"); json_hex(b, r->ev_mask);
}

const struct fd_kind_ops signalfd_kind = {
  .kind = FD_SIGNALFD, .name = "signalfd", .link = "anon_inode:[signalfd]",
  .save = signalfd_save, .restore = signalfd_restore, .describe = signalfd_describe, .adopt = signalfd_adopt,
};
