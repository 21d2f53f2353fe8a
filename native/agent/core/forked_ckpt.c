/* Forked checkpointing (docs/forked-checkpoint.md): the program is frozen only
 * while a copy-on-write child of it is made; the child, the image writer,
 * streams that frozen copy to the encoder while the program runs on.
 *
 * The writer is made with a raw clone whose exit signal is 0: the program's
 * wait()/waitpid(-1) never sees it and no SIGCHLD is sent for it; glibc's
 * fork (pthread_atfork handlers) and our fork wrapper are not involved, so it
 * never says HELLO to the coordinator. It has one thread (the checkpoint
 * thread's copy) with every signal blocked, and it makes raw system calls
 * only. It tells the coordinator itself, on its copy of our connection, that
 * the image is written (or why not), so the news gets out even when the
 * program exits meanwhile; the checkpoint thread reaps it (forked_poll_fd,
 * forked_reap) and only reports on its behalf when it died without a word. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "agent.h"
#include "raw_syscall.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* The writer's exit codes: what it told the coordinator. */
#define WRITER_WRITTEN 0
#define WRITER_FAILED 1
#define WRITER_UNREPORTED 2     /* the coordinator heard nothing: the parent says it */
#define WRITER_AREAS_MISSING 3  /* told; and this process must not fork again */
#define PIDFD_AT (AGENT_COORD_FD_MIN + 20)   /* among our fds, above the program's */
#define GO_AT (AGENT_COORD_FD_MIN + 21)
#define LINE_SIZE 4096

static pid_t writer;            /* the writer in flight (real pid), 0: none */
static pid_t writer_owner;      /* the process that made it: a forked program child is not */
static int writer_pidfd = -1;
static int writer_gen;
static char writer_path[PATH_MAX];

/* ---- the line to the coordinator (async-signal-safe) ---- */

static char *put_encoded(char *e, char *lim, const char *v) {
  for (; *v && e + 4 < lim; v++) {
    unsigned char c = (unsigned char)*v;
    if (c == '%' || c == ' ' || c == '=' || c == '\n' || c == '\r') {
      *e++ = '%'; *e++ = "0123456789ABCDEF"[c >> 4]; *e++ = "0123456789ABCDEF"[c & 15];
    } else *e++ = (char)c;
  }
  *e = 0;
  return e;
}

/* WRITTEN gen=<g> ok=1 image=<path>   or   WRITTEN gen=<g> ok=0 reason=<text> */
static int send_written(int gen, int ok, const char *text) {
  char line[LINE_SIZE], *e = line, *lim = line + sizeof line;
  e += agent_strlcpy(e, "WRITTEN gen=", (size_t)(lim - e));
  e = agent_fmt_u64(e, (uint64_t)gen, 10);
  e += agent_strlcpy(e, ok ? " ok=1 image=" : " ok=0 reason=", (size_t)(lim - e));
  put_encoded(e, lim, text);
  return coord_send(line);
}

/* ---- is it safe? ---- */

/* A writable shared area (MAP_SHARED, System V shared memory): others, or the
 * program itself once resumed, change it while the writer copies it, so its
 * image would not be of one moment. */
static int has_writable_shared(const char *maps) {
  for (const char *line = maps; *line;) {
    const char *p = line;
    while (*p && *p != ' ') p++;          /* start-end */
    if (*p == ' ' && p[2] == 'w' && p[4] == 's') return 1;
    const char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  return 0;
}

/* MADV_DONTFORK areas are missing in a fork's copy (MADV_WIPEONFORK ones read
 * as zeros there). Only /proc/self/smaps tells beforehand, and reading it
 * costs tens of milliseconds of frozen time at a few GiB (it counts every
 * page). So: a program that asks for MADV_DONTFORK through libc's madvise (V8
 * does, for Node; a JVM may) is noted by our wrapper (image_memory.c) and not
 * forked; for the rest, the writer compares its own maps with ours as soon as
 * it exists and says so before the program runs on (one byte on a pipe):
 * when an area is missing, this checkpoint is written by the process itself,
 * as are all its later ones. */
#define MAPS_WINDOW 65536
static char maps_window[MAPS_WINDOW];   /* bss: no new area in the writer */
static int fork_loses_areas;

static int writer_sees_every_area(const char *ours) {
  int fd = (int)rsys3(SYS_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  size_t at = 0, len = strlen(ours);
  int same = 1;
  for (;;) {
    long n = rsys3(SYS_read, fd, maps_window, MAPS_WINDOW);
    if (n == -EINTR) continue;
    if (n < 0) { same = 0; break; }
    if (n == 0) break;
    if (at + (size_t)n > len || memcmp(maps_window, ours + at, (size_t)n)) { same = 0; break; }
    at += (size_t)n;
  }
  rsys1(SYS_close, fd);
  return same && at == len;
}

static uint64_t read_number_file(const char *path, int *ok) {
  char text[64];
  int n = agent_read_file(path, text, sizeof text);
  *ok = n > 0 && text[0] >= '0' && text[0] <= '9';   /* "max": no limit */
  return *ok ? agent_parse_u64(text, 10, 0) : 0;
}

/* The memory the program's cgroups may still take. The writer's copy costs
 * nothing until the program writes a page, then a page for each page written
 * before the image is done: at worst its whole private resident memory.
 * /proc/self/cgroup names our cgroup (v2: "0::/path"; v1: "N:...memory...:/path");
 * each folder from it up to the mount's root may set a limit. In a container
 * the path may not exist under the mount (its root is our cgroup): then only
 * the root's files count. */
#define CGROUP_TEXT 4096

static void room_in(const char *base, const char *rel, const char *limit_file, const char *used_file, uint64_t *room) {
  char dir[PATH_MAX], path[PATH_MAX];
  size_t n = agent_strlcpy(dir, base, sizeof dir);
  agent_strlcpy(dir + n, rel, sizeof dir - n);
  for (;;) {
    int ok_limit, ok_used;
    size_t d = agent_strlcpy(path, dir, sizeof path);
    agent_strlcpy(path + d, limit_file, sizeof path - d);
    uint64_t limit = read_number_file(path, &ok_limit);
    agent_strlcpy(path + d, used_file, sizeof path - d);
    uint64_t used = read_number_file(path, &ok_used);
    if (ok_limit && ok_used) {
      uint64_t r = limit > used ? limit - used : 0;
      if (r < *room) *room = r;
    }
    char *slash = strrchr(dir + strlen(base), '/');
    if (!slash) break;
    *slash = 0;   /* the parent folder; "" after the last: the base itself */
  }
}

static uint64_t cgroup_headroom(void) {
  static char text[CGROUP_TEXT];
  uint64_t room = UINT64_MAX;
  if (agent_read_file("/proc/self/cgroup", text, sizeof text) <= 0) return room;
  for (char *line = text; *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : 0;
    if (c2) {
      *c1 = *c2 = 0;
      const char *controllers = c1 + 1, *rel = c2 + 1;
      if (!strcmp(line, "0") && !*controllers) {
        room_in("/sys/fs/cgroup", rel, "/memory.max", "/memory.current", &room);
      } else {
        for (const char *m = controllers; (m = strstr(m, "memory")); m += 6)
          if ((m == controllers || m[-1] == ',') && (m[6] == 0 || m[6] == ',')) {
            room_in("/sys/fs/cgroup/memory", rel, "/memory.limit_in_bytes", "/memory.usage_in_bytes", &room);
            break;
          }
      }
    }
    if (!nl) break;
    line = nl + 1;
  }
  return room;
}

#define PAGE_SIZE_BYTES 4096ULL
#define HEADROOM_MARGIN (64ULL << 20)   /* the writer's own pages, the encoder's pipe */

/* statm: size resident shared ... in pages; resident - shared ~ private pages. */
static uint64_t private_resident_bytes(void) {
  char text[256];
  if (agent_read_file("/proc/self/statm", text, sizeof text) <= 0) return UINT64_MAX;
  const char *p;
  agent_parse_u64(text, 10, &p);
  uint64_t resident = agent_parse_u64(p + 1, 10, &p);
  uint64_t shared = agent_parse_u64(p + 1, 10, &p);
  return (resident > shared ? resident - shared : 0) * PAGE_SIZE_BYTES;
}

const char *forked_why_not(const char *maps) {
  if (agent.config.forked == FORKED_OFF) return "off";
  if (agent.config.no_coordinator) return "no coordinator";
  if (fork_loses_areas) return "an area is not inherited by a fork (MADV_DONTFORK)";
  if (agent.config.forked == FORKED_ON) return 0;
  /* The default: only when it is safe. */
  if (has_writable_shared(maps)) return "writable shared memory";
  uint64_t room = cgroup_headroom();
  if (room != UINT64_MAX && room < private_resident_bytes() + HEADROOM_MARGIN)
    return "the cgroup's memory limit is too close";
  return 0;
}

/* ---- the writer ---- */

/* Everything the program has open goes: a pipe's write end or a socket held
 * here would keep its reader from seeing the end, a listening port bound.
 * We keep stderr and our coordinator connection; 0 and 1 read /dev/null. */
static void writer_close_fds(int go) {
  int keep = agent.coord_fd;
  int null = (int)rsys3(SYS_open, "/dev/null", O_RDWR, 0);
  if (null >= 0) {
    rsys3(SYS_dup3, go >= 0 ? go : null, 0, 0);   /* the go pipe, read at 0 */
    rsys3(SYS_dup3, null, 1, 0);
  }
  if (keep > 3) rsys3(SYS_close_range, 3, (unsigned)keep - 1, 0);
  rsys3(SYS_close_range, (unsigned)keep + 1, ~0U, 0);
}

/* The writer starts once the program runs again (the parent closes the go
 * pipe at RESUME, when it exits or loses the coordinator): its work and the
 * encoder's then never take a core from the last steps of the freeze. */
static void await_go(void) {
  char c;
  long n;
  do { n = rsys3(SYS_read, 0, &c, 1); } while (n == -EINTR);
  rsys3(SYS_dup3, 1, 0, 0);   /* /dev/null again */
}

void forked_note_dontfork(void) { fork_loses_areas = 1; }

#define VERDICT_WHOLE 'y'
#define VERDICT_MISSING 'n'

static void __attribute__((noreturn)) writer_main(int go, int verdict) {
  static char why[512];
  char v = writer_sees_every_area(capture_maps_text()) ? VERDICT_WHOLE : VERDICT_MISSING;
  rsys3(SYS_write, verdict, &v, 1);
  if (v != VERDICT_WHOLE) rsys1(SYS_exit_group, WRITER_AREAS_MISSING);   /* the parent writes it */
  writer_close_fds(go);
  if (go >= 0) await_go();
  int r = capture_stream_prepared(writer_path, why, sizeof why);
  int told = send_written(writer_gen, r == 0, r == 0 ? writer_path : why) == 0;
  rsys1(SYS_exit_group, !told ? WRITER_UNREPORTED : r == 0 ? WRITER_WRITTEN : WRITER_FAILED);
  __builtin_unreachable();
}

static int writer_go = -1;   /* the go pipe's write end, while the writer waits */

void forked_release(void) {
  if (writer_go >= 0) rsys1(SYS_close, writer_go);
  writer_go = -1;
}

int forked_start(const char *path, int gen, int after_resume, char *why, size_t why_size) {
  agent_strlcpy(writer_path, path, sizeof writer_path);
  writer_gen = gen;
  int pidfd = -1, go[2] = { -1, -1 }, verdict[2];
  if (rsys2(SYS_pipe2, verdict, O_CLOEXEC) < 0) {
    agent_strlcpy(why, "cannot make a pipe for the image writer", why_size);
    return -1;
  }
  if (after_resume && rsys2(SYS_pipe2, go, O_CLOEXEC) < 0) go[0] = go[1] = -1;
  /* Exit signal 0 (the low byte of the flags), no CLONE_VM: a copy of us,
   * on a copy of this stack. */
  long pid = rsys5(SYS_clone, CLONE_PIDFD, 0, &pidfd, 0, 0);
  if (pid == -EINVAL) { pidfd = -1; pid = rsys5(SYS_clone, 0, 0, 0, 0, 0); }   /* before Linux 5.2 */
  if (pid == 0) writer_main(go[0], verdict[1]);
  rsys1(SYS_close, verdict[1]);
  if (go[0] >= 0) rsys1(SYS_close, go[0]);
  if (go[1] >= 0) {
    writer_go = (int)rsys3(SYS_fcntl, go[1], F_DUPFD_CLOEXEC, GO_AT);
    rsys1(SYS_close, go[1]);
  }
  if (pid < 0) {
    rsys1(SYS_close, verdict[0]);
    forked_release();
    agent_strlcpy(why, "cannot fork the image writer", why_size);
    return -1;
  }
  /* The writer's first word: does its copy hold every area of ours? */
  char v = 0;
  long n;
  do { n = rsys3(SYS_read, verdict[0], &v, 1); } while (n == -EINTR);
  rsys1(SYS_close, verdict[0]);
  if (n != 1 || v != VERDICT_WHOLE) {
    int status;
    long w;
    do { w = rsys4(SYS_wait4, pid, &status, __WALL, 0); } while (w == -EINTR);
    if (pidfd >= 0) rsys1(SYS_close, pidfd);
    forked_release();
    if (v == VERDICT_MISSING) fork_loses_areas = 1;
    agent_strlcpy(why, v == VERDICT_MISSING ? "an area is not inherited by a fork (MADV_DONTFORK)"
                                            : "the image writer died before it began", why_size);
    return -1;
  }
  if (pidfd >= 0) {
    int high = (int)rsys3(SYS_fcntl, pidfd, F_DUPFD_CLOEXEC, PIDFD_AT);
    rsys1(SYS_close, pidfd);
    pidfd = high;
  }
  writer = (pid_t)pid;
  writer_owner = (pid_t)rsys0(SYS_getpid);
  writer_pidfd = pidfd;
  return 0;
}

/* A writer that is ours: a child the program forked inherits our variables. */
static int writer_is_ours(void) {
  if (!writer) return 0;
  if (writer_owner == (pid_t)rsys0(SYS_getpid)) return 1;
  if (writer_pidfd >= 0) rsys1(SYS_close, writer_pidfd);
  forked_release();
  writer = 0;
  writer_pidfd = -1;
  return 0;
}

int forked_writing(void) { return writer_is_ours(); }

int forked_poll_fd(void) { return writer_is_ours() ? writer_pidfd : -1; }

/* Someone closed our pidfd (a program's closefrom): watch by time instead. */
void forked_pidfd_lost(void) { writer_pidfd = -1; }

/* Collects the writer's status; `block`: wait for it. Returns 1 when it is
 * gone (or there was none). A writer that died without telling the
 * coordinator (a signal, say) is reported here. */
int forked_reap(int block) {
  if (!writer_is_ours()) return 1;
  int status = 0;
  long w;
  do { w = rsys4(SYS_wait4, writer, &status, __WALL | (block ? 0 : WNOHANG), 0); } while (w == -EINTR);
  if (w == 0) return 0;
  forked_release();
  if (writer_pidfd >= 0) rsys1(SYS_close, writer_pidfd);
  writer_pidfd = -1;
  writer = 0;
  int code = w < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == WRITER_WRITTEN) {
    agent_strlcpy(agent.last_image, writer_path, sizeof agent.last_image);
    return 1;
  }
  agent.generation--;   /* this checkpoint did not happen */
  if (code == WRITER_AREAS_MISSING) fork_loses_areas = 1;
  if (code != WRITER_FAILED && code != WRITER_AREAS_MISSING) {
    char why[128], *e = why;
    e += agent_strlcpy(e, "the image writer died", sizeof why);
    if (w > 0 && WIFSIGNALED(status)) {
      e += agent_strlcpy(e, " (signal ", sizeof why - (size_t)(e - why));
      e = agent_fmt_u64(e, (uint64_t)WTERMSIG(status), 10);
      agent_strlcpy(e, ")", sizeof why - (size_t)(e - why));
    }
    agent_say(why);
    send_written(writer_gen, 0, why);
  }
  return 1;
}

/* dmtcp_command -k while the writer writes: the image is dropped (the encoder
 * never renames a stream that did not end). */
void forked_kill(void) {
  if (!writer_is_ours()) return;
  forked_release();
  rsys2(SYS_kill, writer, SIGKILL);
  int status;
  long w;
  do { w = rsys4(SYS_wait4, writer, &status, __WALL, 0); } while (w == -EINTR);
  writer = 0;
}
