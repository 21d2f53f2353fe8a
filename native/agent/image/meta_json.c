/* The process metadata an image carries for restart and for readdmtcp. */
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "meta_json.h"
#include "raw_syscall.h"

#define META_BUF_SIZE (4UL << 20)
#define CMDLINE_MAX (128 * 1024)

extern char **environ;


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

/* Raw bytes (a socket address) as a hex string. */
static void put_bytes_hex(struct jbuf *b, const unsigned char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  put(b, "\"");
  for (size_t i = 0; i < n; i++) { char e[2] = { hex[p[i] >> 4], hex[p[i] & 15] }; put_raw(b, e, 2); }
  put(b, "\"");
}

static void key(struct jbuf *b, const char *k, int first) {
  if (!first) put(b, ",");
  put_cstr(b, k);
  put(b, ":");
}

void json_member(struct jbuf *b, const char *k) { key(b, k, 0); }
void json_num(struct jbuf *b, int64_t v) { put_num(b, v); }
void json_hex(struct jbuf *b, uint64_t v) { put_hex(b, v); }
void json_bool(struct jbuf *b, int v) { put(b, v ? "true" : "false"); }
void json_raw(struct jbuf *b, const char *s) { put(b, s); }
void json_str(struct jbuf *b, const char *s) { put_cstr(b, s); }

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

/* After a restart the kernel's view of our command line and executable is the
 * restorer's: what the program was started with is what we read before. */
static void put_argv(struct jbuf *b) {
  static char cmdline[CMDLINE_MAX];
  static int n;
  if (!agent.restarted) n = agent_read_file("/proc/self/cmdline", cmdline, sizeof cmdline);
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

static const char *share_name(int share) {
  switch (share) {
    case SHARE_TAG: return "tag";
    case SHARE_OWNER: return "owner";
    case SHARE_PIPE: return "pipe";
    case SHARE_ANON: return "anon";
    default: return "none";
  }
}

/* Shared mappings whose memory has no file to come back from: MAP_SHARED
 * anonymous memory (the kernel names it "/dev/zero (deleted)"), memfd and
 * System V segments, deleted files. Processes holding the same one (one dev
 * and inode) share it; dmtcp_restart makes it once for all of them
 * (src/restart/shared-memory.ts). */
static void put_shared_areas(struct jbuf *b) {
  static char maps[1 << 20];
  int n = agent_read_file("/proc/self/maps", maps, sizeof maps);
  put(b, "[");
  int first = 1;
  for (char *line = maps; n > 0 && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    const char *p;
    uint64_t start = agent_parse_u64(line, 16, &p), end = agent_parse_u64(p + 1, 16, &p);
    while (*p == ' ') p++;
    int shared = p[3] == 's';
    p += 4;
    while (*p == ' ') p++;
    uint64_t offset = agent_parse_u64(p, 16, &p);
    while (*p == ' ') p++;
    const char *dev = p;
    while (*p && *p != ' ') p++;
    size_t dev_len = (size_t)(p - dev);
    while (*p == ' ') p++;
    uint64_t ino = agent_parse_u64(p, 10, &p);
    while (*p == ' ') p++;
    size_t name_len = strlen(p);
    int deleted = name_len > 10 && !strcmp(p + name_len - 10, " (deleted)");
    /* A System V segment's inode is its kernel id, and 0 is a valid one (the
     * first segment of a boot or of an IPC namespace): only deleted files
     * need a nonzero inode. */
    int sysv = !strncmp(p, "/SYSV", 5);
    if (shared && p[0] == '/' && (sysv || (deleted && ino))) {
      put(b, first ? "{\"start\":" : ",{\"start\":"); put_hex(b, start);
      put(b, ",\"end\":"); put_hex(b, end);
      put(b, ",\"offset\":"); put_num(b, (int64_t)offset);
      put(b, ",\"dev\":"); put_str(b, dev, dev_len);
      put(b, ",\"ino\":"); put_num(b, (int64_t)ino);
      put(b, ",\"name\":"); put_cstr(b, p);
      put(b, "}");
      first = 0;
    }
    if (!nl) break;
    line = nl + 1;
  }
  put(b, "]");
}

const char *meta_json_build(size_t *len) {
  static char *buf;
  if (!buf) {
    buf = (char *)rsys6(SYS_mmap, 0, META_BUF_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  struct jbuf b = { buf, 0, META_BUF_SIZE };
  static char exe[PATH_MAX];
  if (!agent.restarted) {
    long n = rsys3(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
  }

  put(&b, "{");
  key(&b, "prog", 1); put_cstr(&b, agent.prog);
  key(&b, "argv", 0); put_argv(&b);
  key(&b, "exe", 0); put_cstr(&b, exe);
  key(&b, "pid", 0); put_num(&b, agent.virt_pid);
  key(&b, "realPid", 0); put_num(&b, agent.real_pid);
  key(&b, "ppid", 0); put_num(&b, getppid());
  key(&b, "pgid", 0); put_num(&b, getpgid(0));
  key(&b, "sid", 0); put_num(&b, getsid(0));
  key(&b, "root", 0); put(&b, agent.is_root ? "true" : "false");
  key(&b, "uid", 0); put_num(&b, rsys0(SYS_getuid));
  key(&b, "gid", 0); put_num(&b, rsys0(SYS_getgid));
  key(&b, "host", 0); put_cstr(&b, agent.hostname);
  key(&b, "cwd", 0); put_cstr(&b, agent.cwd);
  key(&b, "umask", 0); put_num(&b, agent.umask_value);
  key(&b, "time", 0); put_num(&b, rsys1(SYS_time, 0));
  key(&b, "uniqueId", 0); put_cstr(&b, agent.unique_id);
  key(&b, "generation", 0); put_num(&b, agent.generation);
  /* --no-coordinator: dmtcp_restart restarts it without one too */
  if (agent.config.no_coordinator) { key(&b, "noCoordinator", 0); put(&b, "true"); }
  if (agent.comp_id[0]) {
    key(&b, "computation", 0);
    put(&b, "{\"id\":"); put_cstr(&b, agent.comp_id);
    put(&b, ",\"generation\":"); put_num(&b, agent.comp_gen);
    put(&b, ",\"members\":[");
    for (const char *m = agent.members; *m;) {
      const char *comma = strchr(m, ',');
      size_t len = comma ? (size_t)(comma - m) : strlen(m);
      if (m != agent.members) put(&b, ",");
      put_str(&b, m, len);
      m += len + (comma ? 1 : 0);
    }
    put(&b, "]}");
  }
  if (api_header_words()) {
    key(&b, "header", 0);
    put(&b, "{");
    for (int i = 0; i < api_header_words(); i++) {
      if (i) put(&b, ",");
      put_cstr(&b, api_header_key(i));
      put(&b, ":");
      put_cstr(&b, api_header_value(i));
    }
    put(&b, "}");
  }
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
    put(&b, ",\"cloexec\":"); put(&b, (f->fd_flags & 1) ? "true" : "false");
    put(&b, ",\"offset\":"); put_num(&b, f->offset);
    put(&b, ",\"deleted\":"); put(&b, f->deleted ? "true" : "false");
    put(&b, ",\"mode\":"); put_num(&b, f->mode);
    put(&b, ",\"dev\":"); put_num(&b, (int64_t)f->dev);
    put(&b, ",\"ino\":"); put_num(&b, (int64_t)f->ino);
    put(&b, ",\"rdev\":"); put_num(&b, (int64_t)f->rdev);
    put(&b, ",\"share\":"); put_cstr(&b, share_name(f->share));
    if (f->share != SHARE_NONE) { put(&b, ",\"owner\":"); put_num(&b, f->owner_virt); }
    if (f->share == SHARE_TAG || f->share == SHARE_ANON) { put(&b, ",\"ownerFd\":"); put_num(&b, f->owner_fd); }
    if (f->pty >= 0) { put(&b, ",\"pty\":"); put_num(&b, f->pty); }
    if (f->kind == FD_PTMX && f->drained && f->saved_data) {
      put(&b, ",\"ptyQueued\":"); put_num(&b, (int64_t)f->saved_len);
      put(&b, ",\"ptyQueuedAt\":"); put_hex(&b, f->saved_data);
    }
    if (f->has_termios) {
      static const char hex[] = "0123456789abcdef";
      char t[2 * AGENT_TERMIOS_SIZE + 1];
      for (int k = 0; k < AGENT_TERMIOS_SIZE; k++) { t[2 * k] = hex[f->termios[k] >> 4]; t[2 * k + 1] = hex[f->termios[k] & 15]; }
      t[2 * AGENT_TERMIOS_SIZE] = 0;
      put(&b, ",\"termios\":"); put_cstr(&b, t);
      put(&b, ",\"winsize\":[");
      for (int k = 0; k < 4; k++) { if (k) put(&b, ","); put_num(&b, f->winsize[k]); }
      put(&b, "]");
    }
    if (f->kind == FD_SOCKET) {
      put(&b, ",\"socket\":{\"domain\":"); put_num(&b, f->sock_domain);
      put(&b, ",\"type\":"); put_num(&b, f->sock_type);
      put(&b, ",\"unnamed\":"); put(&b, f->sock_unnamed ? "true" : "false");
      put(&b, ",\"passcred\":"); put(&b, f->sock_passcred ? "true" : "false");
      put(&b, ",\"peer\":"); put_num(&b, (int64_t)f->sock_peer);
      put(&b, ",\"protocol\":"); put_num(&b, f->sock_protocol);
      put(&b, ",\"listening\":"); put(&b, f->sock_listening ? "true" : "false");
      put(&b, ",\"backlog\":"); put_num(&b, f->sock_backlog);
      put(&b, ",\"shutdown\":"); put_num(&b, f->sock_shutdown);
      put(&b, ",\"tcpState\":"); put_num(&b, f->sock_tcp_state);
      put(&b, ",\"opts\":"); put_num(&b, f->sock_opts);
      put(&b, ",\"rcvbuf\":"); put_num(&b, f->sock_rcvbuf);
      put(&b, ",\"sndbuf\":"); put_num(&b, f->sock_sndbuf);
      put(&b, ",\"unsent\":"); put_num(&b, f->sock_unsent);
      if (f->sock_unsent_data) { put(&b, ",\"unsentAt\":"); put_hex(&b, f->sock_unsent_data); }
      put(&b, ",\"local\":"); put_bytes_hex(&b, f->sock_local, f->sock_local_len);
      put(&b, ",\"remote\":"); put_bytes_hex(&b, f->sock_remote, f->sock_remote_len);
      put(&b, ",\"queued\":"); put_num(&b, f->drained ? (int64_t)f->saved_len : -1);
      if (f->sock_type != SOCK_STREAM) put(&b, ",\"records\":true");
      if (f->drained && f->saved_data) { put(&b, ",\"queuedAt\":"); put_hex(&b, f->saved_data); }
      put(&b, "}");
    }
    const struct fd_kind_ops *k = fd_kind_ops(f->kind);
    if (k && f->ev_saved) {
      put(&b, ",\"state\":{\"saved\":true");
      k->describe(&b, f);
      put(&b, "}");
    }
    if (f->share == SHARE_PIPE) {
      put(&b, ",\"pipeSize\":"); put_num(&b, f->pipe_size);
      put(&b, ",\"drained\":"); put_num(&b, f->drained ? (int64_t)f->saved_len : -1);
    }
    put(&b, "}");
  }
  put(&b, "]");

  key(&b, "sharedAreas", 0); put_shared_areas(&b);
  key(&b, "sysv", 0);
  put(&b, "[");
  for (int i = 0, first = 1; i < agent.nsysv; i++) {
    const struct sysv_record *r = &agent.sysv[i];
    if (!r->alive) continue;
    put(&b, first ? "{\"kind\":" : ",{\"kind\":"); put_num(&b, r->kind);
    put(&b, ",\"id\":"); put_num(&b, r->virt);
    put(&b, ",\"real\":"); put_num(&b, r->real);
    put(&b, ",\"key\":"); put_num(&b, r->key);
    put(&b, ",\"mode\":"); put_num(&b, r->mode);
    put(&b, ",\"size\":"); put_num(&b, (int64_t)r->size);
    put(&b, ",\"drained\":"); put(&b, r->drained ? "true" : "false");
    if (r->data && (r->kind == SYSV_SEM || r->drained)) {
      put(&b, ",\"dataAt\":"); put_hex(&b, r->data);
      put(&b, ",\"dataLen\":"); put_num(&b, (int64_t)r->data_len);
    }
    put(&b, "}");
    first = 0;
  }
  put(&b, "]");
  key(&b, "ctty", 0); put_num(&b, (int64_t)agent.ctty_rdev);
  key(&b, "ttyForeground", 0); put_num(&b, agent.ctty_foreground);
  key(&b, "zombies", 0);
  put(&b, "[");
  for (int i = 0; i < agent.nzombies; i++) {
    if (i) put(&b, ",");
    put(&b, "{\"pid\":"); put_num(&b, agent.zombies[i].virt);
    put(&b, ",\"status\":"); put_num(&b, agent.zombies[i].status);
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
