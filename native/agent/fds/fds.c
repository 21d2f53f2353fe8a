/* The fd table: what each open descriptor is, saved at checkpoint, put back
 * at restart. Descriptions shared with other processes of the computation
 * (pipes, files inherited across fork, the tree's terminal) are recognized by
 * fd_share.c and re-created once for all of them by the restorers
 * (docs/restart-tree.md, "shared fds"); the ones they placed are `placed`
 * here and left alone. The rest are reopened by path, one by one.
 * Raw system calls only (see util.c for why). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"
#include "encoder_service.h"

#define DELETED_SUFFIX " (deleted)"
#define DELETED_FILE_MAX (1ULL << 30)   /* larger deleted files are not carried */

/* A file deleted while open has no path to reopen. Its bytes are copied into an
 * anonymous mapping before the maps are read, so they travel inside the image as
 * ordinary memory; the restart writes them back to a new file. */
static void copy_deleted_file(int fd, struct fd_record *r, const struct stat *st) {
  r->saved_data = 0;
  r->saved_len = 0;
  uint64_t len = (uint64_t)st->st_size;
  if (len == 0 || len > DELETED_FILE_MAX) return;
  long mem = rsys6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem < 0 && mem > -4096) return;
  uint64_t done = 0;
  while (done < len) {
    long n = rsys4(SYS_pread64, fd, mem + (long)done, len - done, done);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    done += (uint64_t)n;
  }
  r->saved_data = (uint64_t)mem;
  r->saved_len = done;
}

void fds_release(void) {
  sockets_release_unsent();
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->saved_data) rsys2(SYS_munmap, r->saved_data, (r->saved_len + 4095) & ~4095ULL);
    r->saved_data = 0;
    r->saved_len = 0;
  }
}

static int classify(int fd, const char *path, const struct stat *st) {
  int own = fd_kind_of(fd, path);
  if (own) return own;
  if (S_ISREG(st->st_mode)) return FD_FILE;
  if (S_ISCHR(st->st_mode) && (!strcmp(path, "/dev/ptmx") || !strcmp(path, "/dev/pts/ptmx"))) return FD_PTMX;
  if (S_ISFIFO(st->st_mode)) return FD_PIPE;
  if (S_ISSOCK(st->st_mode)) return FD_SOCKET;
  if (S_ISCHR(st->st_mode)) {
    if (!strncmp(path, "/dev/pts/", 9) || !strncmp(path, "/dev/tty", 8) || !strcmp(path, "/dev/console"))
      return FD_TTY;
    return FD_DEVICE;
  }
  if (S_ISDIR(st->st_mode)) return FD_DIR;
  return FD_OTHER;
}

static int fd_overflow_said;

static void save_one_fd(int fd) {
  if (agent.nfds == AGENT_MAX_FDS) {
    if (!fd_overflow_said++) agent_say("too many open files to save them all; the rest will be closed after a restart");
    return;
  }
  struct fd_record *r = &agent.fds[agent.nfds];
  char link[64], *e;
  e = link + agent_strlcpy(link, "/proc/self/fd/", sizeof link);
  agent_fmt_u64(e, (uint64_t)fd, 10);
  long n = rsys3(SYS_readlink, link, r->path, sizeof r->path - 1);
  if (n < 0) return;
  r->path[n] = 0;
  struct stat st;
  if (rsys2(SYS_fstat, fd, &st) < 0) return;
  r->fd = fd;
  r->kind = classify(fd, r->path, &st);
  r->status_flags = (int)rsys2(SYS_fcntl, fd, F_GETFL);
  r->fd_flags = (int)rsys2(SYS_fcntl, fd, F_GETFD);
  r->offset = (r->kind == FD_FILE || r->kind == FD_DIR) ? rsys3(SYS_lseek, fd, 0, SEEK_CUR) : 0;
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->rdev = st.st_rdev;
  size_t len = (size_t)n, slen = sizeof DELETED_SUFFIX - 1;
  r->deleted = r->kind == FD_FILE && len > slen && !strcmp(r->path + len - slen, DELETED_SUFFIX);
  if (r->deleted) r->path[len - slen] = 0;
  r->mode = st.st_mode & 07777;
  r->saved_data = 0;
  r->saved_len = 0;
  r->share = SHARE_NONE;
  r->owner_virt = 0;
  r->owner_fd = -1;
  r->drained = 0;
  r->placed = 0;
  r->ev_saved = 0;
  const struct fd_kind_ops *k = fd_kind_ops(r->kind);
  if (k) {
    k->save(r);
    if (!r->ev_saved) fd_say(r, "its state could not be read; it comes back as /dev/null at a restart");
  }
  terminal_save_fd(r);
  sockets_save_fd(r);
  if (r->kind == FD_OTHER) {
    /* inotify, io_uring, pidfd, ...: said at each checkpoint, the program goes on */
    char what[AGENT_FD_PATH_MAX + 64];
    char *e = what + agent_strlcpy(what, r->path, sizeof what);
    agent_strlcpy(e, " cannot be carried; it comes back as /dev/null at a restart", sizeof what - (size_t)(e - what));
    fd_say(r, what);
  }
  /* --checkpoint-open-files and the plugins' hooks: files that travel in the image too */
  file_policy_at_checkpoint(r, &st);
  if (r->deleted || r->ckpted) copy_deleted_file(fd, r, &st);
  if (r->ckpted && !r->saved_data && st.st_size > 0) {
    r->ckpted = 0;   /* too large to carry (or no memory for it): left as it will be */
    fd_say(r, "is too large to travel in the image (--checkpoint-open-files); a restart opens it as it is then");
  }
  agent.nfds++;
}

static void save_unless_ours(int fd, int dir, void *unused) {
  (void)unused;
  /* ours: the coordinator socket, the resident encoder's presence pipe, a
   * dmtcp.h call's connection (dmtcp_checkpoint waits on it during the
   * checkpoint) and mq_notify(SIGEV_THREAD)'s netlink socket */
  if (fd == dir || fd == agent.coord_fd || fd == ENCODER_PRESENCE_FD || fd == api_command_fd() || fd == mq_threads_fd()) return;
  save_one_fd(fd);
}

void fds_save(void) {
  agent.nfds = 0;
  fd_overflow_said = 0;
  agent_each_numbered("/proc/self/fd", save_unless_ours, 0);
}

struct fd_record *fds_find(int fd) {
  for (int i = 0; i < agent.nfds; i++) if (agent.fds[i].fd == fd) return &agent.fds[i];
  return 0;
}

/* Put `src` at number `fd` (closing src), keeping FD_CLOEXEC as saved. */
static void place_fd(int src, const struct fd_record *r) {
  if (src != r->fd) {
    rsys3(SYS_dup3, src, r->fd, (r->fd_flags & FD_CLOEXEC) ? O_CLOEXEC : 0);
    rsys1(SYS_close, src);
  } else {
    rsys3(SYS_fcntl, r->fd, F_SETFD, r->fd_flags);
  }
}

/* Write a deleted file's saved bytes to a new file at its old path, open it as
 * the program had it, and delete it again: the program keeps an fd to an unlinked
 * file with the same contents. A path taken by a new file gets a suffix instead. */
/* Whether the file at fd holds exactly the saved bytes. */
static int same_contents(int fd, const struct fd_record *r) {
  struct stat st;
  if (rsys2(SYS_fstat, fd, &st) < 0 || (uint64_t)st.st_size != r->saved_len) return 0;
  char buf[65536];
  for (uint64_t at = 0; at < r->saved_len;) {
    long n = rsys4(SYS_pread64, fd, buf, sizeof buf, at);
    if (n == -EINTR) continue;
    if (n <= 0 || memcmp(buf, (const char *)r->saved_data + at, (size_t)n)) return 0;
    at += (uint64_t)n;
  }
  return 1;
}

/* --checkpoint-open-files at a restart: a file that is gone comes back with
 * its contents of the checkpoint; one that is there must still hold them, or
 * (--allow-file-overwrite) gets them again. Otherwise the restart stops here,
 * in one line, as DMTCP's does: the program would go on with other data. */
static void restore_ckpted_file(const struct fd_record *r) {
  int fd = (int)rsys3(SYS_open, r->path, O_RDWR | O_CLOEXEC, 0);
  if (fd >= 0 && same_contents(fd, r)) { rsys1(SYS_close, fd); return; }
  if (fd >= 0 && !r->overwrite) {
    char what[AGENT_FD_PATH_MAX + 128];
    char *e = what + agent_strlcpy(what, r->path, sizeof what);
    agent_strlcpy(e, " changed since the checkpoint; launch with --allow-file-overwrite to write the checkpoint's contents over it", sizeof what - (size_t)(e - what));
    agent.config.quiet = 0;   /* an error, said even under -q -q: the restart stops here */
    fd_say(r, what);
    rsys1(SYS_exit_group, 99);
  }
  if (fd >= 0) {
    char kept[AGENT_FD_PATH_MAX + 40];
    if (file_policy_backup(fd, r->path, kept, sizeof kept) < 0) {
      fd_say(r, "changed since the checkpoint and no copy of it could be kept; it is left as it is");
      rsys1(SYS_close, fd);
      return;
    }
  }
  if (fd < 0) fd = (int)rsys3(SYS_open, r->path, O_RDWR | O_CREAT | O_CLOEXEC, r->mode ? r->mode : 0600);
  if (fd < 0) { fd_say(r, "cannot be written again with its contents of the checkpoint"); return; }
  rsys2(SYS_ftruncate, fd, 0);
  if (r->saved_len) agent_write_all(fd, (const void *)r->saved_data, r->saved_len);
  rsys1(SYS_close, fd);
}

static int recreate_deleted_file(const struct fd_record *r, int flags) {
  char path[AGENT_FD_PATH_MAX + 32];
  agent_strlcpy(path, r->path, sizeof path);
  int w = (int)rsys3(SYS_open, path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, r->mode ? r->mode : 0600);
  if (w == -EEXIST) {
    char *e = path + agent_strlcpy(path, r->path, sizeof path);
    e += agent_strlcpy(e, ".dmtcp-restored-", sizeof path - (size_t)(e - path));
    agent_fmt_u64(e, (uint64_t)agent.real_pid, 10);
    w = (int)rsys3(SYS_open, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, r->mode ? r->mode : 0600);
  }
  if (w < 0) return w;
  if (r->saved_data) agent_write_all(w, (const void *)r->saved_data, r->saved_len);
  int fd = (int)rsys3(SYS_open, path, flags | O_CLOEXEC, 0600);
  rsys1(SYS_unlink, path);
  rsys1(SYS_close, w);
  return fd;
}

void fds_restore(void) {
  for (int i = 0; i < agent.nfds; i++) {
    const struct fd_record *r = &agent.fds[i];
    /* contents first, for descriptions the restorers opened too (not the
     * restart's own stdio, which the root's 0-2 are) */
    int restart_stdio = r->fd <= 2 && agent.is_root;
    char moved[PATH_MAX];
    const char *path = file_policy_path(r, moved);
    if (r->ckpted && r->bq_type < 0 && !restart_stdio) restore_ckpted_file(r);
    if (!restart_stdio) file_policy_truncate(r, path);
    const struct fd_kind_ops *k = fd_kind_ops(r->kind);
    if (r->placed) {   /* the restorers re-created this shared description */
      if (k && k->adopt && r->ev_saved && k->adopt(r) < 0) fd_say(r, "could not be given its state again");
      continue;
    }
    /* The root's stdin/stdout/stderr are the restart's own (inherited through
     * exec): the restarted tree talks to the terminal or files of whoever
     * restarted it. */
    if (r->fd <= 2 && agent.is_root) continue;
    int src = -1;
    if (k && r->ev_saved) {
      src = k->restore(r);
      if (src < 0) fd_say(r, "could not be made again; it is /dev/null now");
    } else if (r->kind == FD_FILE || r->kind == FD_DEVICE || r->kind == FD_TTY || r->kind == FD_DIR) {
      int flags = r->status_flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
      if (r->deleted) src = recreate_deleted_file(r, flags);
      else if ((src = file_policy_restore_bq(r)) < 0) src = (int)rsys3(SYS_open, path, flags | O_CLOEXEC, 0600);
      if (src >= 0 && (r->kind == FD_FILE || r->kind == FD_DIR)) rsys3(SYS_lseek, src, r->offset, SEEK_SET);
    }
    if (src < 0) {
      /* Sockets, and pipes to outside the computation: not restored yet. Keep the number valid. */
      src = (int)rsys3(SYS_open, "/dev/null", O_RDWR | O_CLOEXEC, 0);
    }
    if (src >= 0) place_fd(src, r);
  }
  /* Every fd is in place: what refers to other fds (epoll's watches) now. */
  for (int i = 0; i < agent.nfds; i++) {
    const struct fd_record *r = &agent.fds[i];
    const struct fd_kind_ops *k = fd_kind_ops(r->kind);
    if (k && k->link_up && r->ev_saved && (!r->placed || k->adopt)) k->link_up(r);
  }
}
