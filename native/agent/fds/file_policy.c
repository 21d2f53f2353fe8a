/* What happens to a regular file the program has open, at a checkpoint and
 * at a restart, and the plugin hooks of DMTCP 5's dmtcp.h that decide it
 * (each declared weak there: a plugin defines it, the agent asks it):
 *
 *  - carried in the image: --checkpoint-open-files for the user's own files,
 *    or a file for which dmtcp_must_ckpt_file(path) says 1 (any owner); the
 *    batch-queue plugin's spool files (dmtcp_is_bq_file and
 *    dmtcp_bq_should_ckpt_file) too, given back at restart through
 *    dmtcp_bq_restore_file, which opens what the program gets;
 *  - a carried file that changed since is written over at restart with
 *    --allow-file-overwrite, or when dmtcp_must_overwrite_file(path) says 1,
 *    after a copy of it as it was is kept beside it (<path>-<UTC time>.bk, the
 *    name DMTCP gives its backup): nothing is lost;
 *  - a file moved since: dmtcp_get_new_file_path(path, cwd, newpath) names
 *    where the restart opens it;
 *  - a file open for writing that grew after the checkpoint is cut back to
 *    its size at the checkpoint when the process restarts (what it wrote
 *    after is written again by the restarted program, not twice), unless
 *    dmtcp_skip_truncate_file_at_restart(path) says 1 or
 *    DMTCP_SKIP_TRUNCATE_FILE_AT_RESTART is set, as DMTCP 5 does.
 *
 * The hooks run on the checkpoint thread while the program's threads are
 * stopped (as DMTCP's do): they must not wait for a lock of the program's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

#define NO_BQ_TYPE -1

static int writable(const struct fd_record *r) { return (r->status_flags & O_ACCMODE) != O_RDONLY; }

void file_policy_at_checkpoint(struct fd_record *r, const struct stat *st) {
  r->bq_type = NO_BQ_TYPE;
  r->overwrite = 0;
  r->size_at_ckpt = (int64_t)st->st_size;
  r->ckpted = 0;
  if (r->kind != FD_FILE || r->deleted) return;
  int type = 0;
  if (dmtcp_is_bq_file && dmtcp_bq_should_ckpt_file && dmtcp_is_bq_file(r->path) &&
      dmtcp_bq_should_ckpt_file(r->path, &type)) {
    r->bq_type = type;
    r->ckpted = 1;
    return;
  }
  r->ckpted = (dmtcp_must_ckpt_file && dmtcp_must_ckpt_file(r->path)) ||
              (agent.config.ckpt_open_files && st->st_uid == (uid_t)rsys0(SYS_getuid));
  r->overwrite = r->ckpted && (agent.config.allow_file_overwrite ||
                               (dmtcp_must_overwrite_file && dmtcp_must_overwrite_file(r->path)));
}

/* Where the restart finds the file: the plugin's answer, or where it was. */
const char *file_policy_path(const struct fd_record *r, char *buf) {
  if (!dmtcp_get_new_file_path) return r->path;
  buf[0] = 0;
  dmtcp_get_new_file_path(r->path, agent.cwd, buf);
  return buf[0] ? buf : r->path;
}

/* A batch-queue file: its saved bytes go to a file beside the image, whose
 * path the plugin's restore hook gets; the fd it opens is the program's. */
int file_policy_restore_bq(const struct fd_record *r) {
  if (r->bq_type == NO_BQ_TYPE || !dmtcp_bq_restore_file) return -1;
  char saved[PATH_MAX];
  const char *dir = dmtcp_get_ckpt_files_subdir();
  if (!dir) return -1;
  rsys2(SYS_mkdir, dir, 0700);
  char *e = saved + agent_strlcpy(saved, dir, sizeof saved);
  const char *base = strrchr(r->path, '/');
  agent_strlcpy(e, base ? base : "/file", sizeof saved - (size_t)(e - saved));
  int w = (int)rsys3(SYS_open, saved, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (w < 0) return -1;
  if (r->saved_len) agent_write_all(w, (const void *)r->saved_data, r->saved_len);
  rsys1(SYS_close, w);
  return dmtcp_bq_restore_file(r->path, saved, r->status_flags, r->bq_type);
}

static int skip_truncate(const char *path) {
  if (dmtcp_skip_truncate_file_at_restart) return dmtcp_skip_truncate_file_at_restart(path);
  return getenv("DMTCP_SKIP_TRUNCATE_FILE_AT_RESTART") != 0;
}

void file_policy_truncate(const struct fd_record *r, const char *path) {
  if (r->kind != FD_FILE || r->deleted || r->ckpted || !writable(r) || r->size_at_ckpt < 0) return;
  struct stat st;
  if (rsys2(SYS_stat, path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= r->size_at_ckpt) return;
  if (skip_truncate(path)) return;
  rsys2(SYS_truncate, path, r->size_at_ckpt);
}

/* ---- --allow-file-overwrite keeps what it writes over ---- */

#define SECONDS_PER_DAY 86400
#define COPY_CHUNK 65536
#define BACKUP_TRIES 1000

/* Days since 1970-01-01 as a civil date (proleptic Gregorian, UTC). */
static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static char *two_digits(char *e, int v) { *e++ = (char)('0' + v / 10 % 10); *e++ = (char)('0' + v % 10); return e; }

/* `<path>-YYYY-MM-DD-HH-MM-SS.bk` (UTC), DMTCP's name for the copy it keeps. */
static void backup_name(const char *path, char *out, size_t size) {
  struct timespec now;
  rsys2(SYS_clock_gettime, CLOCK_REALTIME, &now);
  int64_t s = now.tv_sec;
  int y, mo, d;
  civil_from_days(s / SECONDS_PER_DAY, &y, &mo, &d);
  int64_t t = s % SECONDS_PER_DAY;
  char stamp[32], *e = stamp;
  *e++ = '-';
  e = agent_fmt_u64(e, (uint64_t)y, 10);
  *e++ = '-'; e = two_digits(e, mo); *e++ = '-'; e = two_digits(e, d);
  *e++ = '-'; e = two_digits(e, (int)(t / 3600)); *e++ = '-'; e = two_digits(e, (int)(t / 60 % 60));
  *e++ = '-'; e = two_digits(e, (int)(t % 60));
  agent_strlcpy(e, ".bk", sizeof stamp - (size_t)(e - stamp));
  char *o = out + agent_strlcpy(out, path, size);
  agent_strlcpy(o, stamp, size - (size_t)(o - out));
}

/* Copies the file at fd, as it is, beside it before it is written over (the
 * fd stays the same file, which the restorers may have opened already).
 * 0, or -1 when no copy could be made (then it is not written over). */
int file_policy_backup(int fd, const char *path, char *made, size_t size) {
  backup_name(path, made, size);
  size_t base = strlen(made);
  int out = (int)rsys3(SYS_open, made, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  /* another restart in the same second kept one already: .bk.1, .bk.2, ... */
  for (int k = 1; out == -EEXIST && k < BACKUP_TRIES && base + 8 < size; k++) {
    made[base] = '.';
    agent_fmt_u64(made + base + 1, (uint64_t)k, 10);
    out = (int)rsys3(SYS_open, made, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (out < 0) return -1;
  char buf[COPY_CHUNK];
  for (int64_t at = 0;;) {
    long n = rsys4(SYS_pread64, fd, buf, sizeof buf, at);
    if (n == -EINTR) continue;
    if (n < 0) { rsys1(SYS_close, out); rsys1(SYS_unlink, made); return -1; }
    if (n == 0) break;
    if (agent_write_all(out, buf, (size_t)n) < 0) { rsys1(SYS_close, out); rsys1(SYS_unlink, made); return -1; }
    at += n;
  }
  rsys1(SYS_close, out);
  return 0;
}
