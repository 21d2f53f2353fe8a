/* inotify: watches on paths. The kernel keeps a watch by inode (fdinfo shows
 * its wd, inode, device and mask, not its path), so the agent notes each path
 * the program watches as it adds it (the inotify_add_watch wrapper below),
 * with that path's inode. Capture: every watch from fdinfo, its path found by
 * inode. Restore: a new inotify instance, every watch added again by path
 * with its mask, in wd order, so that the program's wd numbers stay valid
 * (the kernel hands wds out in order; a wd the program had removed is taken
 * and given back). Events that happened while the computation was down are
 * not reported (docs/event-fds.md). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

#define FDINFO_MAX (256 * 1024)
#define PAGE 4096UL

struct inotify_watch { int32_t wd; uint32_t mask; int32_t path; int32_t pad; };

/* The kernel's dev_t (MAJOR << 20 | MINOR), as fdinfo prints it. */
static uint64_t kernel_dev(uint64_t d) {
  uint64_t major = ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfffULL), minor = (d & 0xff) | ((d >> 12) & ~0xffULL);
  return (major << 20) | minor;
}

static void note_path(const char *path, uint32_t mask) {
  char full[AGENT_WATCH_PATH_MAX];
  size_t n = 0;
  if (path[0] != '/') {
    long got = rsys2(SYS_getcwd, full, sizeof full);
    if (got <= 0) return;
    n = (size_t)got - 1;   /* getcwd counts the NUL */
    if (n + 1 < sizeof full) full[n++] = '/';
  }
  if (n + agent_strlcpy(full + n, path, sizeof full - n) >= sizeof full) return;   /* too long to keep */
  struct stat st;
  int flags = (mask & IN_DONT_FOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
  if (rsys4(SYS_newfstatat, AT_FDCWD, full, &st, flags) < 0) return;
  uint64_t kdev = kernel_dev(st.st_dev);
  int slot = -1;
  for (int i = 0; i < agent.nwatched; i++) if (agent.watched[i].ino == st.st_ino && agent.watched[i].kdev == kdev) slot = i;
  if (slot < 0 && agent.nwatched < AGENT_MAX_WATCHED) slot = agent.nwatched++;
  if (slot < 0) return;
  agent.watched[slot].kdev = kdev;
  agent.watched[slot].ino = st.st_ino;
  agent_strlcpy(agent.watched[slot].path, full, sizeof agent.watched[slot].path);
}

AGENT_EXPORT int inotify_add_watch(int fd, const char *path, uint32_t mask) {
  long wd = rsys3(SYS_inotify_add_watch, fd, path, mask);
  if (wd < 0 && wd > -4096) { errno = (int)-wd; return -1; }
  note_path(path, mask);
  return (int)wd;
}

static int path_of(uint64_t ino, uint64_t kdev) {
  for (int i = 0; i < agent.nwatched; i++) if (agent.watched[i].ino == ino && agent.watched[i].kdev == kdev) return i;
  return -1;
}

/* "inotify wd:1 ino:a0d sdev:f mask:100 ignored_mask:0 fhandle-bytes:8 ..." */
static void inotify_save(struct fd_record *r) {
  long mem = rsys6(SYS_mmap, 0, FDINFO_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem < 0 && mem > -4096) return;
  char *info = (char *)mem;
  if (fdinfo_read(r->fd, info, FDINFO_MAX) < 0) { rsys2(SYS_munmap, mem, FDINFO_MAX); return; }
  size_t lines = 0;
  for (const char *p = strstr(info, "inotify wd:"); p; p = strstr(p + 11, "inotify wd:")) lines++;
  size_t bytes = ((lines ? lines : 1) * sizeof(struct inotify_watch) + PAGE - 1) & ~(PAGE - 1);
  long out = rsys6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (out < 0 && out > -4096) { rsys2(SYS_munmap, mem, FDINFO_MAX); return; }
  struct inotify_watch *w = (struct inotify_watch *)out;
  size_t n = 0;
  for (const char *p = strstr(info, "inotify wd:"); p && n < lines; p = strstr(p + 11, "inotify wd:")) {
    const char *ino_at = strstr(p, " ino:"), *dev_at = strstr(p, " sdev:"), *mask_at = strstr(p, " mask:");
    if (!ino_at || !dev_at || !mask_at) break;
    /* fdinfo_u64 reads the key where it starts: each field is found first */
    w[n].wd = (int32_t)fdinfo_u64(p, "inotify wd:", 16, 0);
    uint64_t ino = fdinfo_u64(ino_at, " ino:", 16, 0), kdev = fdinfo_u64(dev_at, " sdev:", 16, 0);
    w[n].mask = (uint32_t)fdinfo_u64(mask_at, " mask:", 16, 0);
    w[n].path = path_of(ino, kdev);
    if (w[n].path < 0) { fd_say(r, "watches a file whose path was not seen (added before the agent ran?); that watch is lost at a restart"); continue; }
    n++;
  }
  rsys2(SYS_munmap, mem, FDINFO_MAX);
  r->saved_data = (uint64_t)out;
  r->saved_len = n * sizeof *w;
  r->ev_saved = 1;
}

static int inotify_restore(const struct fd_record *r) {
  int fd = (int)rsys1(SYS_inotify_init1, IN_CLOEXEC | IN_NONBLOCK);   /* the program's flags at the end */
  if (fd < 0) return fd;
  const struct inotify_watch *w = (const struct inotify_watch *)r->saved_data;
  size_t n = r->saved_data ? r->saved_len / sizeof *w : 0;
  /* fdinfo lists watches newest first: add them oldest (lowest wd) first */
  int last = 0;
  for (;;) {
    const struct inotify_watch *next = 0;
    for (size_t i = 0; i < n; i++) if (w[i].wd > last && (!next || w[i].wd < next->wd)) next = &w[i];
    if (!next) break;
    const char *path = agent.watched[next->path].path;
    long wd = rsys3(SYS_inotify_add_watch, fd, path, next->mask & ~IN_MASK_ADD);
    /* wds the program had given back come first: take and return them */
    while (wd > 0 && wd < next->wd) {
      rsys2(SYS_inotify_rm_watch, fd, wd);
      wd = rsys3(SYS_inotify_add_watch, fd, path, next->mask & ~IN_MASK_ADD);
    }
    if (wd != next->wd) {
      char what[AGENT_WATCH_PATH_MAX + 64], *e = what + agent_strlcpy(what, "could not watch ", sizeof what);
      e += agent_strlcpy(e, path, sizeof what - (size_t)(e - what));
      agent_strlcpy(e, " again with its old number", sizeof what - (size_t)(e - what));
      fd_say(r, what);
    }
    last = next->wd;
  }
  /* The wds taken and given back queued an IN_IGNORED each: not the program's. */
  char events[4096];
  while (rsys3(SYS_read, fd, events, sizeof events) > 0) {}
  if (!(r->status_flags & O_NONBLOCK)) rsys3(SYS_fcntl, fd, F_SETFL, r->status_flags & ~O_NONBLOCK);
  return fd;
}

static void inotify_describe(struct jbuf *b, const struct fd_record *r) {
  const struct inotify_watch *w = (const struct inotify_watch *)r->saved_data;
  size_t n = r->saved_data ? r->saved_len / sizeof *w : 0;
  json_member(b, "watches");
  json_raw(b, "[");
  for (size_t i = 0; i < n; i++) {
    json_raw(b, i ? ",{\"wd\":" : "{\"wd\":"); json_num(b, w[i].wd);
    json_member(b, "mask"); json_hex(b, w[i].mask);
    json_member(b, "path"); json_str(b, agent.watched[w[i].path].path);
    json_raw(b, "}");
  }
  json_raw(b, "]");
}

const struct fd_kind_ops inotify_kind = {
  .kind = FD_INOTIFY, .name = "inotify", .link = "anon_inode:inotify",
  .save = inotify_save, .restore = inotify_restore, .describe = inotify_describe,
};
