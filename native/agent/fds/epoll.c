/* epoll: a set of watched descriptors. Capture: every watch from fdinfo (the
 * fd it was added as, its events with EPOLLET/EPOLLONESHOT/EPOLLEXCLUSIVE
 * bits, its data), each checked to still name the same file at that number.
 * Restore, in two steps: an empty epoll first, like any other fd; once every
 * fd of the process is in place (files, pipes, sockets, other epolls: nested
 * sets), the watches are added again. A level-triggered watch on a ready fd
 * reports at once, as before; an edge-triggered one reports the readiness
 * once more, which a program that reads until EAGAIN already expects.
 * A set several processes hold (made before a fork) is made once by the
 * restorers and placed in each (fd_share.c names it); each holder then adds
 * the watches it saw, which are the set's: the second finds them there. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <string.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

#define FDINFO_MAX (1UL << 20)   /* about 14000 watches */
#define PAGE 4096UL

struct epoll_watch { int32_t fd; uint32_t events; uint64_t data; };

static const struct epoll_watch *watches(const struct fd_record *r, size_t *n) {
  *n = r->saved_data ? r->saved_len / sizeof(struct epoll_watch) : 0;
  return (const struct epoll_watch *)r->saved_data;
}

/* "tfd:        5 events:       19 data:                5  pos:0 ino:3c85 sdev:f" */
static size_t parse_watches(const char *info, struct epoll_watch *out, size_t cap, const struct fd_record *r) {
  size_t n = 0;
  for (const char *p = strstr(info, "tfd:"); p && n < cap; p = strstr(p + 4, "tfd:")) {
    struct epoll_watch w;
    w.fd = (int32_t)fdinfo_u64(p, "tfd:", 10, 0);
    const char *ev = strstr(p, "events:"), *data = strstr(p, "data:"), *ino = strstr(p, "ino:");
    if (!ev || !data || !ino) break;
    w.events = (uint32_t)fdinfo_u64(ev, "events:", 16, 0);
    w.data = fdinfo_u64(data, "data:", 16, 0);
    struct stat st;
    if (rsys2(SYS_fstat, w.fd, &st) < 0 || st.st_ino != fdinfo_u64(ino, "ino:", 16, 0)) {
      fd_say(r, "watches a file no longer open at the number it was added as; that watch is lost at a restart");
      continue;
    }
    out[n++] = w;
  }
  return n;
}

static void epoll_save(struct fd_record *r) {
  long mem = rsys6(SYS_mmap, 0, FDINFO_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem < 0 && mem > -4096) return;
  char *info = (char *)mem;
  int len = fdinfo_read(r->fd, info, FDINFO_MAX);
  if (len <= 0) { rsys2(SYS_munmap, mem, FDINFO_MAX); return; }
  if ((size_t)len >= FDINFO_MAX - 1) fd_say(r, "has more watches than a checkpoint keeps; the rest are lost at a restart");
  size_t lines = 0;
  for (const char *p = strstr(info, "tfd:"); p; p = strstr(p + 4, "tfd:")) lines++;
  size_t cap = lines ? lines : 1, bytes = (cap * sizeof(struct epoll_watch) + PAGE - 1) & ~(PAGE - 1);
  long out = rsys6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (out < 0 && out > -4096) { rsys2(SYS_munmap, mem, FDINFO_MAX); return; }
  size_t n = parse_watches(info, (struct epoll_watch *)out, cap, r);
  rsys2(SYS_munmap, mem, FDINFO_MAX);
  r->saved_data = (uint64_t)out;
  r->saved_len = n * sizeof(struct epoll_watch);
  r->ev_saved = 1;
}

static int epoll_restore(const struct fd_record *r) {
  (void)r;
  return (int)rsys1(SYS_epoll_create1, EPOLL_CLOEXEC);
}

static void epoll_link_up(const struct fd_record *r) {
  size_t n;
  const struct epoll_watch *w = watches(r, &n);
  for (size_t i = 0; i < n; i++) {
    struct epoll_event ev = { .events = w[i].events, .data = { .u64 = w[i].data } };
    long added = rsys4(SYS_epoll_ctl, r->fd, EPOLL_CTL_ADD, w[i].fd, &ev);
    if (added == -EEXIST && r->placed) continue;   /* another holder of the set added it */
    if (added < 0) {
      char what[96], *e = what + agent_strlcpy(what, "could not watch fd ", sizeof what);
      e = agent_fmt_u64(e, (uint64_t)w[i].fd, 10);
      agent_strlcpy(e, " again (it did not come back as it was)", sizeof what - (size_t)(e - what));
      fd_say(r, what);
    }
  }
}

static void epoll_describe(struct jbuf *b, const struct fd_record *r) {
  size_t n;
  const struct epoll_watch *w = watches(r, &n);
  json_member(b, "watches");
  json_raw(b, "[");
  for (size_t i = 0; i < n; i++) {
    json_raw(b, i ? ",{\"fd\":" : "{\"fd\":"); json_num(b, w[i].fd);
    json_member(b, "events"); json_hex(b, w[i].events);
    json_member(b, "data"); json_hex(b, w[i].data);
    json_raw(b, "}");
  }
  json_raw(b, "]");
}

/* a shared set: empty, as made; the watches come at link_up */
static int epoll_adopt(const struct fd_record *r) { (void)r; return 0; }

const struct fd_kind_ops epoll_kind = {
  .kind = FD_EPOLL, .name = "epoll", .link = "anon_inode:[eventpoll]",
  .save = epoll_save, .restore = epoll_restore, .link_up = epoll_link_up, .describe = epoll_describe, .adopt = epoll_adopt,
};
