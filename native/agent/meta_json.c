/* The process metadata an image carries for restart and for readdmtcp. */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "meta_json.h"
#include "../common/raw_syscall.h"

#define META_BUF_SIZE (4UL << 20)
#define CMDLINE_MAX (128 * 1024)

extern char **environ;

struct jbuf { char *p; size_t used, cap; };

static void put_raw(struct jbuf *b, const char *s, size_t n) {
  if (b->used + n >= b->cap) n = b->cap - 1 - b->used;   /* truncate rather than overflow */
  memcpy(b->p + b->used, s, n);
  b->used += n;
}
static void put(struct jbuf *b, const char *s) { put_raw(b, s, strlen(s)); }

static void put_str(struct jbuf *b, const char *s, size_t n) {
  put(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; put_raw(b, e, 2); }
    else if (c < 0x20) {
      char e[7] = { '\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15], 0 };
      put_raw(b, e, 6);
    } else put_raw(b, (const char *)&c, 1);
  }
  put(b, "\"");
}
static void put_cstr(struct jbuf *b, const char *s) { put_str(b, s, strlen(s)); }

static void put_num(struct jbuf *b, int64_t v) {
  char tmp[24];
  if (v < 0) { put(b, "-"); v = -v; }
  agent_fmt_u64(tmp, (uint64_t)v, 10);
  put(b, tmp);
}

static void put_hex(struct jbuf *b, uint64_t v) {
  char tmp[24];
  tmp[0] = '"'; tmp[1] = '0'; tmp[2] = 'x';
  char *e = agent_fmt_u64(tmp + 3, v, 16);
  e[0] = '"'; e[1] = 0;
  put(b, tmp);
}

static void key(struct jbuf *b, const char *k, int first) {
  if (!first) put(b, ",");
  put_cstr(b, k);
  put(b, ":");
}

/* Field 47 of /proc/self/stat (1-based, start_brk): where the kernel started the heap. */
static uint64_t read_start_brk(void) {
  char buf[2048];
  if (agent_read_file("/proc/self/stat", buf, sizeof buf) <= 0) return 0;
  const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
  if (!p) return 0;
  int field = 2;
  for (; *p && field < 47; p++) if (*p == ' ') field++;
  return agent_parse_u64(p, 10, 0);
}

static void put_argv(struct jbuf *b) {
  static char cmdline[CMDLINE_MAX];
  int n = agent_read_file("/proc/self/cmdline", cmdline, sizeof cmdline);
  put(b, "[");
  int first = 1;
  for (int i = 0; i < n;) {
    size_t len = strlen(cmdline + i);
    if (!first) put(b, ",");
    put_str(b, cmdline + i, len);
    first = 0;
    i += (int)len + 1;
  }
  put(b, "]");
}

static const char *fd_kind_name(int kind) {
  switch (kind) {
    case FD_FILE: return "file";
    case FD_TTY: return "tty";
    case FD_PIPE: return "pipe";
    case FD_SOCKET: return "socket";
    case FD_DEVICE: return "device";
    default: return "other";
  }
}

const char *meta_json_build(size_t *len) {
  static char *buf;
  if (!buf) {
    buf = (char *)rsys6(SYS_mmap, 0, META_BUF_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  struct jbuf b = { buf, 0, META_BUF_SIZE };
  char exe[PATH_MAX];
  long n = rsys3(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;

  put(&b, "{");
  key(&b, "prog", 1); put_cstr(&b, agent.prog);
  key(&b, "argv", 0); put_argv(&b);
  key(&b, "exe", 0); put_cstr(&b, exe);
  key(&b, "pid", 0); put_num(&b, agent.virt_pid);
  key(&b, "realPid", 0); put_num(&b, agent.real_pid);
  key(&b, "ppid", 0); put_num(&b, agent.virt_ppid);
  key(&b, "pgid", 0); put_num(&b, rsys1(SYS_getpgid, 0));
  key(&b, "sid", 0); put_num(&b, rsys1(SYS_getsid, 0));
  key(&b, "uid", 0); put_num(&b, rsys0(SYS_getuid));
  key(&b, "gid", 0); put_num(&b, rsys0(SYS_getgid));
  key(&b, "host", 0); put_cstr(&b, agent.hostname);
  key(&b, "cwd", 0); put_cstr(&b, agent.cwd);
  key(&b, "umask", 0); put_num(&b, agent.umask_value);
  key(&b, "time", 0); put_num(&b, rsys1(SYS_time, 0));
  key(&b, "uniqueId", 0); put_cstr(&b, agent.unique_id);
  key(&b, "generation", 0); put_num(&b, agent.generation);
  key(&b, "ckptSignal", 0); put_num(&b, agent.config.ckpt_signal);
  key(&b, "brk", 0); put_hex(&b, (uint64_t)rsys1(SYS_brk, 0));
  key(&b, "startBrk", 0); put_hex(&b, read_start_brk());
  key(&b, "restoreEntry", 0); put_hex(&b, (uint64_t)(uintptr_t)&agent_restore_entry);
  key(&b, "restoreArg", 0);
  put_hex(&b, (uint64_t)(uintptr_t)(agent.restore_stack + AGENT_RESTORE_STACK_SIZE));

  key(&b, "threads", 0);
  put(&b, "[{\"tid\":");
  put_num(&b, agent.ckpt_real_tid);
  put(&b, ",\"role\":\"checkpoint\",\"fsBase\":");
  put_hex(&b, agent.ckpt_fs_base);
  put(&b, "}");
  for (int i = 0; i < agent.nthreads; i++) {
    const struct thread_record *t = &agent.threads[i];
    put(&b, ",{\"tid\":"); put_num(&b, t->virt_tid);
    put(&b, ",\"realTid\":"); put_num(&b, t->real_tid);
    put(&b, ",\"fsBase\":"); put_hex(&b, t->fs_base);
    put(&b, "}");
  }
  put(&b, "]");

  key(&b, "fds", 0);
  put(&b, "[");
  for (int i = 0; i < agent.nfds; i++) {
    const struct fd_record *f = &agent.fds[i];
    if (i) put(&b, ",");
    put(&b, "{\"fd\":"); put_num(&b, f->fd);
    put(&b, ",\"kind\":"); put_cstr(&b, fd_kind_name(f->kind));
    put(&b, ",\"path\":"); put_cstr(&b, f->path);
    put(&b, ",\"flags\":"); put_num(&b, f->status_flags);
    put(&b, ",\"offset\":"); put_num(&b, f->offset);
    put(&b, ",\"deleted\":"); put(&b, f->deleted ? "true" : "false");
    put(&b, "}");
  }
  put(&b, "]");

  key(&b, "env", 0);
  put(&b, "[");
  for (char **e = environ; e && *e; e++) {
    if (e != environ) put(&b, ",");
    put_cstr(&b, *e);
  }
  put(&b, "]}");
  *len = b.used;
  return buf;
}
