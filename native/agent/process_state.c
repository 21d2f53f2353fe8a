/* Per-process kernel state that memory does not carry: open files, signal
 * dispositions, pending signals, cwd and umask. Saved by the checkpoint thread
 * while the program is frozen; restored by the restore entry before the program's
 * threads run again. Raw system calls only (see util.c for why). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "../common/raw_syscall.h"
#include "../common/encoder_service.h"

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

void process_state_release(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->saved_data) rsys2(SYS_munmap, r->saved_data, (r->saved_len + 4095) & ~4095ULL);
    r->saved_data = 0;
  }
}

/* ---- open files ---- */

static int classify(const char *path, const struct stat *st) {
  if (S_ISREG(st->st_mode)) return FD_FILE;
  if (S_ISFIFO(st->st_mode)) return FD_PIPE;
  if (S_ISSOCK(st->st_mode)) return FD_SOCKET;
  if (S_ISCHR(st->st_mode)) {
    if (!strncmp(path, "/dev/pts/", 9) || !strncmp(path, "/dev/tty", 8) || !strcmp(path, "/dev/console"))
      return FD_TTY;
    return FD_DEVICE;
  }
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
  r->kind = classify(r->path, &st);
  r->status_flags = (int)rsys2(SYS_fcntl, fd, F_GETFL);
  r->fd_flags = (int)rsys2(SYS_fcntl, fd, F_GETFD);
  r->offset = r->kind == FD_FILE ? rsys3(SYS_lseek, fd, 0, SEEK_CUR) : 0;
  size_t len = (size_t)n, slen = sizeof DELETED_SUFFIX - 1;
  r->deleted = r->kind == FD_FILE && len > slen && !strcmp(r->path + len - slen, DELETED_SUFFIX);
  if (r->deleted) r->path[len - slen] = 0;
  r->mode = st.st_mode & 07777;
  r->saved_data = 0;
  if (r->deleted) copy_deleted_file(fd, r, &st);
  agent.nfds++;
}

static void save_fds(void) {
  char buf[4096];
  agent.nfds = 0;
  fd_overflow_said = 0;
  int dir = (int)rsys3(SYS_open, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (dir < 0) return;
  for (;;) {
    long got = rsys3(SYS_getdents64, dir, buf, sizeof buf);
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      int fd = (int)agent_parse_u64(d->d_name, 10, 0);
      /* ours: the coordinator socket, and the resident encoder's presence pipe */
      if (fd == dir || fd == agent.coord_fd || fd == ENCODER_PRESENCE_FD) continue;
      save_one_fd(fd);
    }
  }
  rsys1(SYS_close, dir);
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

static void restore_fds(void) {
  for (int i = 0; i < agent.nfds; i++) {
    const struct fd_record *r = &agent.fds[i];
    /* stdin/stdout/stderr are the restart's own (inherited through exec): the
     * restarted program talks to the terminal or files of whoever restarted it. */
    if (r->fd <= 2) continue;
    int src = -1;
    if (r->kind == FD_FILE || r->kind == FD_DEVICE || r->kind == FD_TTY) {
      int flags = r->status_flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY);
      if (r->deleted) src = recreate_deleted_file(r, flags);
      else src = (int)rsys3(SYS_open, r->path, flags | O_CLOEXEC, 0600);
      if (src >= 0 && r->kind == FD_FILE) rsys3(SYS_lseek, src, r->offset, SEEK_SET);
    }
    if (src < 0) {
      /* Pipes and sockets are not restored yet: keep the number valid. */
      src = (int)rsys3(SYS_open, "/dev/null", O_RDWR | O_CLOEXEC, 0);
    }
    if (src >= 0) place_fd(src, r);
  }
  process_state_release();
}

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
  const char *p = strstr(buf, field);
  if (!p) return 0;
  p += strlen(field);
  while (*p == ' ' || *p == '\t') p++;
  return agent_parse_u64(p, 16, 0);
}

static void save_pending(void) {
  agent.process_pending = read_pending_field("/proc/self/status", "ShdPnd:");
  for (int i = 0; i < agent.nthreads; i++) {
    struct thread_record *t = &agent.threads[i];
    char path[64], *e = path + agent_strlcpy(path, "/proc/self/task/", sizeof path);
    e = agent_fmt_u64(e, (uint64_t)t->real_tid, 10);
    agent_strlcpy(e, "/status", sizeof path - (size_t)(e - path));
    t->pending = read_pending_field(path, "SigPnd:");
  }
}

void process_state_raise_pending(void) {
  uint64_t ours = 1ULL << (agent.config.ckpt_signal - 1);
  for (int sig = 1; sig <= 64; sig++) {
    uint64_t bit = 1ULL << (sig - 1);
    if (bit & ours) continue;
    if (agent.process_pending & bit) rsys2(SYS_kill, agent.real_pid, sig);
    for (int i = 0; i < agent.nthreads; i++)
      if (agent.threads[i].pending & bit)
        rsys3(SYS_tgkill, agent.real_pid, agent.threads[i].real_tid, sig);
  }
}

/* ---- the rest ---- */

void process_state_save(void) {
  save_fds();
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
  restore_fds();
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
