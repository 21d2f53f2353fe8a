/* exec keeps the process in the computation, as the same process.
 *
 * The kernel keeps the pid across exec and drops everything else of ours. So
 * the wrappers below hand the new program's agent what makes this process
 * itself: the coordinator connection (left open across the exec), the unique
 * id, the virtual pid and parent, the generation, and the pid table, in two
 * environment entries that the new agent reads and removes before main()
 * (exec_adopt_identity). The coordinator then sees the same peer with a new
 * program name (coord_send_exec), and re-sends a barrier the old program's
 * checkpoint thread may have taken with it.
 *
 * The agent is put back in LD_PRELOAD and its settings back in the
 * environment when a program cleared them (env -i, a sanitizing shell): the
 * child must not fall out of the computation by accident. A statically linked
 * program cannot load the agent: it runs unobserved, after one line saying so.
 *
 * All the variants funnel into execve, execvpe or fexecve of libc with an
 * explicit environment: libc's execl, execvp... call its internal execve, not
 * ours. No malloc: exec is allowed after fork in a threaded program. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

#define IDENTITY_ENV "DMTCP_IDENTITY"
#define PID_TABLE_ENV "DMTCP_PID_TABLE"
#define ROOT_ENV "DMTCP_ROOT_PROCESS"
#define PID_TABLE_TEXT_MAX (AGENT_MAX_PIDS * 24)
#define EXTRA_TEXT_MAX (PID_TABLE_TEXT_MAX + 16 * PATH_MAX)
#define EXTRA_ENTRIES 16
#define MAX_PHDRS 64

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* ---- is the program dynamically linked? ---- */

static int fd_is_static_elf(int fd) {
  Elf64_Ehdr eh;
  if (rsys4(SYS_pread64, fd, &eh, sizeof eh, 0) != (long)sizeof eh) return 0;
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64) return 0;   /* a script, say */
  if (eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS || eh.e_phentsize != sizeof(Elf64_Phdr)) return 0;
  Elf64_Phdr ph[MAX_PHDRS];
  long want = (long)(eh.e_phnum * sizeof(Elf64_Phdr));
  if (rsys4(SYS_pread64, fd, ph, want, eh.e_phoff) != want) return 0;
  for (int i = 0; i < eh.e_phnum; i++) if (ph[i].p_type == PT_INTERP) return 0;
  return 1;
}

static int path_is_static_elf(const char *path) {
  int fd = (int)rsys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  int s = fd_is_static_elf(fd);
  rsys1(SYS_close, fd);
  return s;
}

/* The file execvp would run, for the static check only (execvp searches itself). */
static int search_is_static_elf(const char *file) {
  if (strchr(file, '/')) return path_is_static_elf(file);
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  char full[PATH_MAX];
  for (const char *p = path;;) {
    const char *colon = strchr(p, ':');
    size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
    if (dlen + strlen(file) + 2 < sizeof full) {
      memcpy(full, dlen ? p : ".", dlen ? dlen : 1);
      size_t at = dlen ? dlen : 1;
      full[at] = '/';
      agent_strlcpy(full + at + 1, file, sizeof full - at - 1);
      if (rsys2(SYS_access, full, X_OK) == 0) return path_is_static_elf(full);
    }
    if (!colon) return 0;
    p = colon + 1;
  }
}

static void say_unobserved(const char *what) {
  char msg[PATH_MAX + 96];
  char *e = msg + agent_strlcpy(msg, what, sizeof msg);
  agent_strlcpy(e, ": statically linked; it runs without checkpointing", sizeof msg - (size_t)(e - msg));
  agent_say(msg);
}

/* ---- the environment the new program gets ---- */

struct env_build {
  char **list;
  size_t n, cap;
  char *text, *text_end, *text_lim;
  void *map;
  size_t map_len;
};

static char *put_text(struct env_build *b, const char *a, const char *c) {
  size_t la = strlen(a), lc = c ? strlen(c) : 0;
  if (b->text_end + la + lc + 1 > b->text_lim) return 0;
  char *s = b->text_end;
  memcpy(s, a, la);
  if (lc) memcpy(s + la, c, lc);
  s[la + lc] = 0;
  b->text_end += la + lc + 1;
  return s;
}

static void add(struct env_build *b, char *entry) {
  if (entry && b->n + 1 < b->cap) b->list[b->n++] = entry;
}

static int is_ours(const char *entry) {
  static const char *const owned[] = {
    IDENTITY_ENV "=", PID_TABLE_ENV "=", ROOT_ENV "=", TCP_REUSE_ENV "=", "DMTCP_COORD_HOST=", "DMTCP_HOST=", "DMTCP_COORD_PORT=",
    "DMTCP_PORT=", "DMTCP_CHECKPOINT_DIR=", "DMTCP_GZIP=", "DMTCP_HBICT=", "DMTCP_FSYNC=", "DMTCP_FORKED_CHECKPOINT=", "DMTCP_SIGCKPT=",
    "DMTCP_CKPT_OPEN_FILES=", "DMTCP_ALLOW_FILE_OVERWRITE=", "DMTCP_NO_COORDINATOR=", "DMTCP_QUIET=",
    "DMTCP_NODE=", "DMTCP_ENCODER=", "DMTCP_ENCODER_SOCKET=", 0,
  };
  if (strncmp(entry, "DMTCP_", 6)) return 0;   /* most of an environment, at once */
  for (int i = 0; owned[i]; i++) if (!strncmp(entry, owned[i], strlen(owned[i]))) return 1;
  return 0;
}

static char *num_text(char *dst, long v) {
  if (v < 0) { *dst++ = '-'; v = -v; }
  return agent_fmt_u64(dst, (uint64_t)v, 10);
}

/* Our settings as they are now: after a restart the image's environment names
 * the old coordinator and encoder, while agent.config has this run's. */
static void add_settings(struct env_build *b) {
  char num[24];
  add(b, put_text(b, "DMTCP_COORD_HOST=", agent.config.coord_host));
  num_text(num, agent.config.coord_port);
  add(b, put_text(b, "DMTCP_COORD_PORT=", num));
  add(b, put_text(b, "DMTCP_CHECKPOINT_DIR=", agent.config.ckpt_dir));
  add(b, put_text(b, "DMTCP_GZIP=", agent.config.gzip ? "1" : "0"));
  add(b, put_text(b, "DMTCP_HBICT=", agent.config.hbict ? "1" : "0"));
  if (agent.config.fsync) add(b, put_text(b, "DMTCP_FSYNC=", "1"));
  if (agent.config.forked != FORKED_AUTO)
    add(b, put_text(b, "DMTCP_FORKED_CHECKPOINT=", agent.config.forked == FORKED_ON ? "1" : "0"));
  if (agent.config.ckpt_open_files) add(b, put_text(b, "DMTCP_CKPT_OPEN_FILES=", "1"));
  if (agent.config.allow_file_overwrite) add(b, put_text(b, "DMTCP_ALLOW_FILE_OVERWRITE=", "1"));
  if (agent.config.no_coordinator) add(b, put_text(b, "DMTCP_NO_COORDINATOR=", "1"));
  num_text(num, agent.config.quiet);
  add(b, put_text(b, "DMTCP_QUIET=", num));
  num_text(num, agent.config.ckpt_signal);
  add(b, put_text(b, "DMTCP_SIGCKPT=", num));
  add(b, put_text(b, "DMTCP_NODE=", agent.config.node_path));
  add(b, put_text(b, "DMTCP_ENCODER=", agent.config.encoder_path));
  if (agent.config.encoder_socket[0]) add(b, put_text(b, "DMTCP_ENCODER_SOCKET=", agent.config.encoder_socket));
}

/* DMTCP_IDENTITY=fd,id,virt_pid,virt_ppid,parent_real,generation,restarted,root */
static void add_identity(struct env_build *b) {
  char text[512], *e = text;
  e = num_text(e, agent.coord_fd); *e++ = ',';
  /* No id yet (a forked child whose WELCOME is still unread): the coordinator
   * sends it again after our EXEC. */
  e += agent_strlcpy(e, agent.unique_id[0] ? agent.unique_id : "-", sizeof text - 200); *e++ = ',';
  e = num_text(e, agent.virt_pid); *e++ = ',';
  e = num_text(e, agent.virt_ppid); *e++ = ',';
  e = num_text(e, agent.parent_real); *e++ = ',';
  e = num_text(e, agent.generation); *e++ = ',';
  e = num_text(e, agent.restarted); *e++ = ',';
  num_text(e, agent.is_root);
  add(b, put_text(b, IDENTITY_ENV "=", text));
  static char table[PID_TABLE_TEXT_MAX];
  if (agent.npids && pid_table_format(table, sizeof table) > 0) add(b, put_text(b, PID_TABLE_ENV "=", table));
}

/* LD_PRELOAD with this library first, whatever the program left there. */
static void add_preload(struct env_build *b, char *const *envp) {
  static char value[4 * PATH_MAX];
  const char *old = 0;
  for (char *const *e = envp; e && *e; e++) if (!strncmp(*e, "LD_PRELOAD=", 11)) old = *e + 11;
  if (old && strstr(old, agent.self_path)) { add(b, put_text(b, "LD_PRELOAD=", old)); return; }
  char *e = value + agent_strlcpy(value, agent.self_path, sizeof value);
  if (old && *old && strlen(old) + 2 < sizeof value - (size_t)(e - value)) {
    *e++ = ':';
    agent_strlcpy(e, old, sizeof value - (size_t)(e - value));
  }
  add(b, put_text(b, "LD_PRELOAD=", value));
}

/* Room for envp's entries and ours, in one fresh mapping; 0 if none. */
static int env_alloc(struct env_build *b, char *const *envp) {
  size_t count = 0;
  for (char *const *e = envp; e && *e; e++) count++;
  b->cap = count + EXTRA_ENTRIES + 1;
  size_t list_bytes = b->cap * sizeof(char *);
  b->map_len = (list_bytes + EXTRA_TEXT_MAX + 4095) & ~4095UL;
  b->map = (void *)rsys6(SYS_mmap, 0, b->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if ((long)b->map < 0 && (long)b->map > -4096) return 0;
  b->list = b->map;
  b->n = 0;
  b->text = b->text_end = (char *)b->map + list_bytes;
  b->text_lim = (char *)b->map + b->map_len;
  return 1;
}

static char **build_env(struct env_build *b, char *const *envp) {
  if (!env_alloc(b, envp)) return 0;
  for (char *const *e = envp; e && *e; e++)
    if (!is_ours(*e) && strncmp(*e, "LD_PRELOAD=", 11)) add(b, *e);
  add_preload(b, envp);
  add_settings(b);
  add_identity(b);
  /* listeners whose SO_REUSEADDR the program believes 0 (tcp_reuse.c) */
  char reuse[TCP_REUSE_TEXT_MAX];
  if (tcp_reuse_export(reuse, sizeof reuse)) add(b, put_text(b, TCP_REUSE_ENV "=", reuse));
  b->list[b->n] = 0;
  return b->list;
}

/* The environment of a program run outside the computation: without our
 * settings and identity, and our library out of LD_PRELOAD. */
static char **build_env_outside(struct env_build *b, char *const *envp) {
  if (!env_alloc(b, envp)) return 0;
  for (char *const *e = envp; e && *e; e++) {
    if (is_ours(*e)) continue;
    if (strncmp(*e, "LD_PRELOAD=", 11) || !strstr(*e, agent.self_path)) { add(b, *e); continue; }
    /* the others' libraries stay, in their order */
    char *out = put_text(b, "LD_PRELOAD=", 0), *w = out + 11;
    if (!out) continue;
    const char *p = *e + 11;
    while (*p) {
      size_t n = strcspn(p, ": ");
      if (n && (n != strlen(agent.self_path) || strncmp(p, agent.self_path, n))) {
        if (w > out + 11) *w++ = ':';
        memcpy(w, p, n);
        w += n;
      }
      p += n;
      if (*p) p++;
    }
    *w = 0;
    b->text_end = w + 1;
    if (w > out + 11) add(b, out);
  }
  b->list[b->n] = 0;
  return b->list;
}

/* dmtcp_nocheckpoint (bin/): what it runs stays outside the computation. */
static int is_nocheckpoint(const char *path) {
  const char *base = strrchr(path, '/');
  return !strcmp(base ? base + 1 : path, "dmtcp_nocheckpoint");
}

/* ---- around the real exec ---- */

struct exec_call {
  const char *path;    /* execve: the path; execvpe: the file to search */
  int fd;              /* fexecve */
  int search;          /* execvpe */
  char *const *argv;
  char *const *envp;
};

static int call_real(const struct exec_call *c, char *const *envp) {
  static execve_fn real_execve, real_execvpe;
  static fexecve_fn real_fexecve;
  if (c->fd >= 0) {
    if (!real_fexecve) real_fexecve = (fexecve_fn)next("fexecve");
    return real_fexecve(c->fd, c->argv, envp);
  }
  if (c->search) {
    if (!real_execvpe) real_execvpe = (execve_fn)next("execvpe");
    return real_execvpe(c->path, c->argv, envp);
  }
  if (!real_execve) real_execve = (execve_fn)next("execve");
  return real_execve(c->path, c->argv, envp);
}

static int exec_in_computation_armed(const struct exec_call *c);

static int exec_in_computation(const struct exec_call *c) {
  if (!agent.active) return call_real(c, c->envp);
  /* A child that has not joined yet (lazy_join.c) does now: the new program
   * takes our connection over, and the coordinator expects us. */
  lazy_join_now();
  if (!agent.active) return call_real(c, c->envp);
  forked_tell();   /* our notes of children end with this program */
  checkpoint_thread_before_exec();
  int r = exec_in_computation_armed(c);
  int saved = errno;
  checkpoint_thread_exec_failed();   /* still here: the exec failed */
  errno = saved;
  return r;
}

static int exec_in_computation_armed(const struct exec_call *c) {
  int is_static = c->fd >= 0 ? fd_is_static_elf(c->fd) : c->search ? search_is_static_elf(c->path) : path_is_static_elf(c->path);
  if (is_static) {
    say_unobserved(c->fd >= 0 ? "the program" : c->path);
    return call_real(c, c->envp);   /* our connection closes with the exec: the coordinator lets us go */
  }
  if (c->fd < 0 && is_nocheckpoint(c->path)) {
    /* our connection closes with the exec (close-on-exec): the coordinator lets us go */
    struct env_build b;
    char **env = build_env_outside(&b, c->envp);
    int r = call_real(c, env ? env : c->envp);
    int saved = errno;
    if (env) rsys2(SYS_munmap, b.map, b.map_len);
    errno = saved;
    return r;
  }
  gate_enter();
  plugins_event(DMTCP_EVENT_PRE_EXEC, 0);
  struct env_build b;
  char **env = build_env(&b, c->envp);
  if (!env) { gate_leave(); return call_real(c, c->envp); }
  rsys3(SYS_fcntl, agent.coord_fd, F_SETFD, 0);   /* the new program's agent takes it over */
  int r = call_real(c, env);
  int saved = errno;
  rsys3(SYS_fcntl, agent.coord_fd, F_SETFD, FD_CLOEXEC);
  rsys2(SYS_munmap, b.map, b.map_len);
  gate_leave();
  errno = saved;
  return r;
}

AGENT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  struct exec_call c = { path, -1, 0, argv, envp };
  return exec_in_computation(&c);
}

AGENT_EXPORT int execv(const char *path, char *const argv[]) {
  struct exec_call c = { path, -1, 0, argv, environ };
  return exec_in_computation(&c);
}

AGENT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  struct exec_call c = { file, -1, 1, argv, envp };
  return exec_in_computation(&c);
}

AGENT_EXPORT int execvp(const char *file, char *const argv[]) {
  struct exec_call c = { file, -1, 1, argv, environ };
  return exec_in_computation(&c);
}

AGENT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  struct exec_call c = { 0, fd, 0, argv, envp };
  return exec_in_computation(&c);
}

/* execl, execlp, execle: the argument list as an array on our stack. */
#define COLLECT_ARGS(first, ap, argv, extra_env)                          \
  size_t argc = 1;                                                        \
  va_start(ap, first);                                                    \
  while (va_arg(ap, char *)) argc++;                                      \
  va_end(ap);                                                             \
  char *argv[argc + 1];                                                   \
  argv[0] = (char *)(first);                                              \
  va_start(ap, first);                                                    \
  for (size_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, char *);        \
  extra_env;                                                              \
  va_end(ap)

AGENT_EXPORT int execl(const char *path, const char *arg, ...) {
  va_list ap;
  COLLECT_ARGS(arg, ap, argv, (void)0);
  struct exec_call c = { path, -1, 0, argv, environ };
  return exec_in_computation(&c);
}

AGENT_EXPORT int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  COLLECT_ARGS(arg, ap, argv, (void)0);
  struct exec_call c = { file, -1, 1, argv, environ };
  return exec_in_computation(&c);
}

AGENT_EXPORT int execle(const char *path, const char *arg, ...) {
  va_list ap;
  char *const *envp;
  COLLECT_ARGS(arg, ap, argv, envp = va_arg(ap, char *const *));
  struct exec_call c = { path, -1, 0, argv, envp };
  return exec_in_computation(&c);
}

/* ---- the new program's side ---- */

static const char *field(const char *p, char *out, size_t size) {
  size_t n = 0;
  while (*p && *p != ',') { if (n + 1 < size) out[n++] = *p; p++; }
  out[n] = 0;
  return *p == ',' ? p + 1 : p;
}

/* Reads and removes what the old program's exec wrapper left us; 1 if this
 * process continues one of the computation's (its connection is adopted). */
int exec_adopt_identity(void) {
  const char *root = getenv(ROOT_ENV);
  agent.is_root = root && !strcmp(root, "1");
  if (root) unsetenv(ROOT_ENV);
  const char *id = getenv(IDENTITY_ENV);
  if (!id) return 0;
  char f[8][160];
  const char *p = id;
  for (int i = 0; i < 8; i++) p = field(p, f[i], sizeof f[i]);
  const char *table = getenv(PID_TABLE_ENV);
  if (table) pid_table_parse(table);
  int fd = (int)agent_parse_u64(f[0], 10, 0);
  struct stat st;
  /* the coordinator link, or under --no-coordinator the request eventfd (solo.c) */
  int usable = f[1][0] && rsys2(SYS_fstat, fd, &st) == 0 && (S_ISSOCK(st.st_mode) || agent.config.no_coordinator);
  if (usable) {
    agent.coord_fd = fd;
    rsys3(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    if (strcmp(f[1], "-")) agent_strlcpy(agent.unique_id, f[1], sizeof agent.unique_id);
    agent.virt_pid = (pid_t)agent_parse_u64(f[2], 10, 0);
    agent.virt_ppid = (pid_t)agent_parse_u64(f[3], 10, 0);
    agent.parent_real = (pid_t)agent_parse_u64(f[4], 10, 0);
    agent.generation = (int)agent_parse_u64(f[5], 10, 0);
    agent.restarted = f[6][0] == '1';
    agent.is_root = f[7][0] == '1';
  }
  const char *reuse = getenv(TCP_REUSE_ENV);
  if (usable && reuse) tcp_reuse_adopt(reuse);
  unsetenv(IDENTITY_ENV);
  unsetenv(PID_TABLE_ENV);
  unsetenv(TCP_REUSE_ENV);
  return usable;
}
