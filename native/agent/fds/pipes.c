/* Bytes in flight in pipes and FIFOs: neither lost nor duplicated.
 *
 * At the DRAIN barrier the elected owner of each pipe's read end (fd_share.c)
 * reads everything the pipe holds into memory, which the image carries; the
 * other processes are suspended, so nobody reads or writes meanwhile. After
 * the image is written the same process writes the bytes back, before the
 * RESUME barrier lets anyone run. At restart the restorers created the pipe
 * anew (with its old capacity) and the same process refills it, before the
 * tree's refill barrier lets any process of the tree run (checkpoint_thread.c).
 * Writing needs a write end, which the drainer may not hold: it opens one
 * through /proc/self/fd, which for a pipe gives a new description of the
 * same pipe. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"

#define PAGE 4096UL

static int readable(const struct fd_record *r) {
  int acc = r->status_flags & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}

static int drained_already(const struct fd_record *r) {
  for (const struct fd_record *o = agent.fds; o < r; o++)
    if (o->drained && o->dev == r->dev && o->ino == r->ino) return 1;
  return 0;
}

static void drain_one(struct fd_record *r) {
  uint64_t cap = r->pipe_size > 0 ? (uint64_t)r->pipe_size : 65536;
  uint64_t len = (cap + PAGE - 1) & ~(PAGE - 1);
  long mem = rsys6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem < 0 && mem > -4096) return;
  rsys3(SYS_fcntl, r->fd, F_SETFL, r->status_flags | O_NONBLOCK);
  uint64_t got = 0;
  while (got < cap) {
    long n = rsys3(SYS_read, r->fd, mem + (long)got, cap - got);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    got += (uint64_t)n;
  }
  rsys3(SYS_fcntl, r->fd, F_SETFL, r->status_flags);
  r->drained = 1;
  if (got == 0) { rsys2(SYS_munmap, mem, len); return; }
  r->saved_data = (uint64_t)mem;
  r->saved_len = got;
}

void pipes_drain(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->share != SHARE_PIPE || r->owner_virt != agent.virt_pid || !readable(r) || drained_already(r)) continue;
    drain_one(r);
  }
}

void pipes_refill(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->kind != FD_PIPE || !r->drained || !r->saved_data || !r->saved_len) continue;
    struct stat st;
    if (rsys2(SYS_fstat, r->fd, &st) < 0 || !S_ISFIFO(st.st_mode)) continue;   /* not a pipe any more (fds_release frees) */
    char link[64], *e = link + agent_strlcpy(link, "/proc/self/fd/", sizeof link);
    agent_fmt_u64(e, (uint64_t)r->fd, 10);
    int w = (int)rsys3(SYS_open, link, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (w < 0) { agent_say("cannot write a pipe's data back: its bytes in flight are lost"); continue; }
    long n = agent_write_all(w, (const void *)r->saved_data, r->saved_len);
    if (n != (long)r->saved_len) agent_say("a pipe took back less than it held: some of its bytes in flight are lost");
    rsys1(SYS_close, w);
    /* once only: a failed checkpoint's RESUME calls us again */
    rsys2(SYS_munmap, r->saved_data, (r->saved_len + PAGE - 1) & ~(PAGE - 1));
    r->saved_data = 0;
    r->saved_len = 0;
  }
}
