/* eventfd: a 64-bit counter (libuv's and many servers' wake-up call).
 * Capture: the counter, the semaphore mode and the kernel's id for it from
 * fdinfo (nothing is read out of it, so a checkpoint it resumes from finds it
 * untouched). Restore: a new eventfd, its counter written back in one write.
 * One held at several fds or by several processes (a parent and the children
 * it forked) is made once for all of them by the restorers, by that id
 * (src/restart/shared-fds.ts); the holders find it placed. */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

static void eventfd_save(struct fd_record *r) {
  char info[512];
  if (fdinfo_read(r->fd, info, sizeof info) <= 0) return;
  r->ev_count = fdinfo_u64(info, "eventfd-count:", 16, 0);
  /* Kernels before 6.4 do not show the mode: such an eventfd comes back counting. */
  r->ev_flags = fdinfo_u64(info, "eventfd-semaphore:", 10, 0) ? EFD_SEMAPHORE : 0;
  /* every eventfd has the same anonymous inode; the id (Linux 6.0+, 0
   * before) names the description across the computation */
  r->ev_value_ns = (int64_t)fdinfo_u64(info, "eventfd-id:", 10, 0);
  r->ev_saved = 1;
}

static int eventfd_restore(const struct fd_record *r) {
  int flags = EFD_CLOEXEC | r->ev_flags | ((r->status_flags & O_NONBLOCK) ? EFD_NONBLOCK : 0);
  int fd = (int)rsys2(SYS_eventfd2, 0, flags);
  /* eventfd2 takes an unsigned int; a write takes any value below 2^64-1. */
  if (fd >= 0 && r->ev_count) rsys3(SYS_write, fd, &r->ev_count, sizeof r->ev_count);
  return fd;
}

static void eventfd_describe(struct jbuf *b, const struct fd_record *r) {
  json_member(b, "count"); json_num(b, (int64_t)r->ev_count);
  json_member(b, "semaphore"); json_bool(b, r->ev_flags & EFD_SEMAPHORE);
  if (r->ev_value_ns) { json_member(b, "id"); json_num(b, r->ev_value_ns); }
}

const struct fd_kind_ops eventfd_kind = {
  .kind = FD_EVENTFD, .name = "eventfd", .link = "anon_inode:[eventfd]",
  .save = eventfd_save, .restore = eventfd_restore, .describe = eventfd_describe,
};
