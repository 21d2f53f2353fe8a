/* The descriptor kinds that have a file of their own (eventfd.c, timerfd.c,
 * signalfd.c, epoll.c, inotify.c, mqueue.c), in one table, as CRIU registers its file kinds: each
 * file holds the kind's capture (at SUSPEND, from /proc/self/fdinfo and the
 * kind's own calls) and its restore (at restart, a new object with the same
 * state, put at the old number by fds.c) side by side. Kinds without a path
 * are known by what /proc/self/fd/N links to ("anon_inode:[eventfd]").
 *
 * Every anonymous inode has the same dev/ino, so a description held by several
 * processes is named otherwise: an eventfd by its kernel id, an epoll set,
 * signalfd or timerfd by its elected owner's fd for it (fd_share.c, kinds
 * with `adopt`); the restorers make it once and each holder adopts it. The
 * rest (inotify, mqueue) each holder restores alone (docs/event-fds.md). */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

extern const struct fd_kind_ops eventfd_kind, timerfd_kind, signalfd_kind, epoll_kind, inotify_kind, mqueue_kind;

static const struct fd_kind_ops *const kinds[] = { &eventfd_kind, &timerfd_kind, &signalfd_kind, &epoll_kind, &inotify_kind, &mqueue_kind };
#define NKINDS (sizeof kinds / sizeof kinds[0])

const struct fd_kind_ops *fd_kind_ops(int kind) {
  for (unsigned i = 0; i < NKINDS; i++) if (kinds[i]->kind == kind) return kinds[i];
  return 0;
}

int fd_kind_of(int fd, const char *link) {
  for (unsigned i = 0; i < NKINDS; i++) {
    if (kinds[i]->link && !strcmp(kinds[i]->link, link)) return kinds[i]->kind;
    if (kinds[i]->claims && kinds[i]->claims(fd)) return kinds[i]->kind;
  }
  return 0;
}

void fd_kinds_drain(void) {
  for (int i = 0; i < agent.nfds; i++) {
    const struct fd_kind_ops *k = fd_kind_ops(agent.fds[i].kind);
    if (k && k->drain && agent.fds[i].ev_saved) k->drain(&agent.fds[i]);
  }
}

const char *fd_kind_name(int kind) {
  const struct fd_kind_ops *k = fd_kind_ops(kind);
  if (k) return k->name;
  switch (kind) {
    case FD_FILE: return "file";
    case FD_TTY: return "tty";
    case FD_PIPE: return "pipe";
    case FD_SOCKET: return "socket";
    case FD_DEVICE: return "device";
    case FD_DIR: return "dir";
    case FD_PTMX: return "ptymaster";
    default: return "other";
  }
}

void fd_say(const struct fd_record *r, const char *what) {
  char line[256], *e = line;
  e += agent_strlcpy(e, "fd ", sizeof line);
  e = agent_fmt_u64(e, (uint64_t)r->fd, 10);
  e += agent_strlcpy(e, " (", sizeof line - (size_t)(e - line));
  e += agent_strlcpy(e, fd_kind_name(r->kind), sizeof line - (size_t)(e - line));
  e += agent_strlcpy(e, ") of process ", sizeof line - (size_t)(e - line));
  e = agent_fmt_u64(e, (uint64_t)agent.virt_pid, 10);
  e += agent_strlcpy(e, ": ", sizeof line - (size_t)(e - line));
  agent_strlcpy(e, what, sizeof line - (size_t)(e - line));
  agent_say(line);
}

int fdinfo_read(int fd, char *buf, size_t size) {
  char path[48];
  char *e = path + agent_strlcpy(path, "/proc/self/fdinfo/", sizeof path);
  agent_fmt_u64(e, (uint64_t)fd, 10);
  return agent_read_file(path, buf, size);
}

uint64_t fdinfo_u64(const char *info, const char *key, int base, uint64_t dflt) {
  size_t klen = strlen(key);
  for (const char *p = info; p && *p;) {
    if (!strncmp(p, key, klen)) {
      p += klen;
      while (*p == ' ' || *p == '\t') p++;
      if (*p == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2;
      return agent_parse_u64(p, base, 0);
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return dflt;
}

/* The lock files this process made at this checkpoint's DRAIN: removed at
 * the CHECKPOINT barrier, when every process is past DRAIN. */
#define CLAIMS_MAX 32
static char claimed[CLAIMS_MAX][AGENT_FD_PATH_MAX + 64];
static int nclaimed;

void first_this_checkpoint_done(void) {
  while (nclaimed) rsys1(SYS_unlink, claimed[--nclaimed]);
}

int first_this_checkpoint(const char *name) {
  char path[AGENT_FD_PATH_MAX + 64], mark[64], seen[64];
  char *e = path + agent_strlcpy(path, "/tmp/.dmtcp-", sizeof path);
  e = agent_fmt_u64(e, (uint64_t)rsys0(SYS_getuid), 10);
  *e++ = '-';
  for (const char *p = name; *p && e < path + sizeof path - 1; p++) *e++ = *p == '/' ? '-' : *p;
  *e = 0;
  e = agent_fmt_u64(mark, (uint64_t)agent.config.coord_port, 10);
  *e++ = ':';
  e = agent_fmt_u64(e, (uint64_t)agent.barrier_gen, 10);
  size_t mlen = (size_t)(e - mark);
  int fd = (int)rsys3(SYS_open, path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return 1;   /* no lock: take it (a second drain puts everything back as the first did) */
  rsys2(SYS_flock, fd, LOCK_EX);
  long n = rsys4(SYS_pread64, fd, seen, sizeof seen, 0);
  int first = !(n == (long)mlen && !memcmp(seen, mark, mlen));
  if (first) {
    rsys2(SYS_ftruncate, fd, 0);
    rsys4(SYS_pwrite64, fd, mark, mlen, 0);
    if (nclaimed < CLAIMS_MAX) agent_strlcpy(claimed[nclaimed++], path, sizeof claimed[0]);
  }
  rsys2(SYS_flock, fd, LOCK_UN);
  rsys1(SYS_close, fd);
  return first;
}
