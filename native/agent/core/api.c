/* dmtcp.h (include/dmtcp.h): the calls a program makes to the checkpointer.
 *
 * They run on the program's own threads. A call that needs the coordinator
 * (a checkpoint, its status) opens a connection of its own as dmtcp_command
 * does (HELLO role=command, then CMD, answered by DONE: docs/protocol.md);
 * the checkpoint thread's connection is the checkpoint thread's. That socket
 * sits above the program's fds and no image records it (fds.c asks
 * api_command_fd): dmtcp_checkpoint may still hold it when the checkpoint it
 * asked for stops the process.
 *
 * A critical section (dmtcp_disable_ckpt .. dmtcp_enable_ckpt) holds the
 * checkpoint gate, as fork and exec do (gate.c): the checkpoint thread waits
 * for it before it suspends anyone. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

/* The header's macros would rename what we define here. */
#include "dmtcp.h"
#undef dmtcp_is_enabled
#undef dmtcp_checkpoint
#undef dmtcp_disable_ckpt
#undef dmtcp_enable_ckpt
#undef dmtcp_get_coordinator_status
#undef dmtcp_get_local_status
#undef dmtcp_get_ckpt_dir
#undef dmtcp_set_ckpt_dir
#undef dmtcp_get_ckpt_filename
#undef dmtcp_get_uniquepid_str

#define RETRY_NS 100000000L        /* dmtcp_checkpoint: again after 100 ms while no coordinator answers */
#define WAIT_POLL_NS 10000000L     /* ...and looks for the checkpoint's end every 10 ms */
#define COMMAND_FD_AT (AGENT_COORD_FD_MIN + 16)
#define REPLY_MAX (2 * KV_MAX + 256)   /* a KV answer: the old value in hex */
#define KV_MAX 8192                   /* bytes of a key, a value or a name: a line stays under the protocol's 64 KiB */
#define COMMAND_MAX (4 * KV_MAX + 256)

static volatile int command_fd = -1;
/* Post-checkpoint and restart hooks that ran: dmtcp_checkpoint returns after them. */
static volatile unsigned after_hooks_runs;

int api_command_fd(void) { return command_fd; }

static void nap(long ns) {
  struct timespec t = { 0, ns };
  rsys2(SYS_nanosleep, &t, 0);   /* raw: not a wait of the program's (waits.c) */
}

/* Sends CMD name=`name` and reads the reply until DONE; the first line whose
 * verb is `want` (if any) is copied to `line`. 0 when DONE said ok, -1 when
 * no coordinator answered or it refused. */
static pthread_mutex_t command_lock = PTHREAD_MUTEX_INITIALIZER;   /* one command at a time: one reply buffer */
static int command_locked(const char *name, const char *want, char *line, size_t size);

static int coordinator_command(const char *name, const char *want, char *line, size_t size) {
  if (!agent.active || !agent.coord_addr_len) return -1;
  /* A checkpoint or barrier asked for here needs our checkpoint thread, and
   * this thread will sit in our code waiting for the answer. */
  checkpoint_thread_ensure();
  pthread_mutex_lock(&command_lock);
  int r = command_locked(name, want, line, size);
  pthread_mutex_unlock(&command_lock);
  return r;
}

static int command_locked(const char *name, const char *want, char *line, size_t size) {
  int s = (int)rsys3(SYS_socket, agent.coord_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  long r;
  do { r = rsys3(SYS_connect, s, &agent.coord_addr, agent.coord_addr_len); } while (r == -EINTR);
  int fd = r < 0 ? -1 : (int)rsys3(SYS_fcntl, s, F_DUPFD_CLOEXEC, COMMAND_FD_AT);
  rsys1(SYS_close, s);
  if (fd < 0) return -1;
  command_fd = fd;
  static char out[COMMAND_MAX + 64];
  char *e = out;
  e += agent_strlcpy(e, "HELLO v=" PROTOCOL_VERSION " role=command\nCMD name=", sizeof out - 8);
  e += agent_strlcpy(e, name, sizeof out - (size_t)(e - out) - 2);
  *e++ = '\n';
  int ok = agent_write_all(fd, out, (size_t)(e - out)) >= 0 ? 1 : -1;
  static char buf[REPLY_MAX];
  size_t used = 0;
  if (line && size) line[0] = 0;
  while (ok == 1) {
    long n = rsys3(SYS_read, fd, buf + used, sizeof buf - 1 - used);
    if (n == -EINTR) continue;
    if (n <= 0) { ok = -1; break; }
    used += (size_t)n;
    buf[used] = 0;
    char *nl;
    while (ok == 1 && (nl = strchr(buf, '\n'))) {
      *nl = 0;
      size_t vlen = want ? strlen(want) : 0;
      if (want && line && !line[0] && !strncmp(buf, want, vlen) && buf[vlen] == ' ') agent_strlcpy(line, buf, size);
      if (!strncmp(buf, "DONE ", 5)) ok = strstr(buf, "status=ok") ? 0 : -1;
      else if (!strncmp(buf, "ERROR", 5)) ok = -1;
      size_t rest = used - (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, rest + 1);
      used = rest;
    }
    if (used == sizeof buf - 1) used = 0;   /* a line too long for us: drop it */
  }
  command_fd = -1;
  rsys1(SYS_close, fd);
  return ok;
}

AGENT_EXPORT int dmtcp_is_enabled(void) { return agent.active ? 1 : 0; }

AGENT_EXPORT int dmtcp_checkpoint(void) {
  if (!agent.active) return DMTCP_NOT_PRESENT;
  /* read before asking: the checkpoint may be over before the answer comes,
   * and a restart from its image finds the connection gone (no answer) */
  int restarts = agent.restarts, checkpoints = agent.generation;
  unsigned hooks_before = after_hooks_runs;
  if (agent.config.no_coordinator) {
    /* no coordinator to ask: the process checkpoints itself (solo.c) */
    unsigned failures = solo_failed();
    solo_request();
    checkpoint_thread_ensure();
    while (agent.restarts == restarts && __atomic_load_n(&agent.generation, __ATOMIC_SEQ_CST) == checkpoints) {
      if (solo_failed() != failures) return DMTCP_NOT_PRESENT;   /* said in one line already */
      nap(WAIT_POLL_NS);
    }
  }
  while (!agent.config.no_coordinator && coordinator_command("checkpoint", 0, 0, 0) != 0) {
    if (agent.restarts != restarts || agent.generation != checkpoints) break;
    nap(RETRY_NS);
  }
  while (agent.restarts == restarts && __atomic_load_n(&agent.generation, __ATOMIC_SEQ_CST) == checkpoints) nap(WAIT_POLL_NS);
  /* the image is written with the count already moved: wait for the resume */
  while (agent.suspended) nap(WAIT_POLL_NS);
  /* a forked checkpoint: and for its writer, so that the image is there when we
   * return, as without forking (docs/forked-checkpoint.md) */
  while (forked_writing()) nap(WAIT_POLL_NS);
  /* and for the program's post-checkpoint or restart hooks, which run after it */
  while (after_hooks_runs == hooks_before) nap(WAIT_POLL_NS);
  return agent.restarts != restarts ? DMTCP_AFTER_RESTART : DMTCP_AFTER_CHECKPOINT;
}

AGENT_EXPORT int dmtcp_disable_ckpt(void) {
  if (agent.active) gate_enter();
  return 1;
}

AGENT_EXPORT int dmtcp_enable_ckpt(void) {
  if (agent.active && gate_held_here() > 0) gate_leave();
  return 1;
}

AGENT_EXPORT int dmtcp_get_coordinator_status(int *numPeers, int *isRunning) {
  char line[1024], value[64];
  int peers = 0, running = 0;
  if (agent.config.no_coordinator && agent.active) {
    peers = 1;   /* a computation of one: this process */
    running = !agent.suspended;
  } else if (coordinator_command("status", "STATUS", line, sizeof line) == 0) {
    if (coord_field(line, "num_peers", value, sizeof value)) peers = (int)agent_parse_u64(value, 10, 0);
    if (coord_field(line, "running", value, sizeof value)) running = !strcmp(value, "yes");
  }
  if (numPeers) *numPeers = peers;
  if (isRunning) *isRunning = running;
  return DMTCP_IS_PRESENT;
}

AGENT_EXPORT int dmtcp_get_local_status(int *numCheckpoints, int *numRestarts) {
  if (numCheckpoints) *numCheckpoints = agent.generation;
  if (numRestarts) *numRestarts = agent.restarts;
  return DMTCP_IS_PRESENT;
}

AGENT_EXPORT const char *dmtcp_get_ckpt_dir(void) { return agent.config.ckpt_dir; }

AGENT_EXPORT int dmtcp_set_ckpt_dir(const char *dir) {
  if (dir && dir[0]) agent_strlcpy(agent.config.ckpt_dir, dir, sizeof agent.config.ckpt_dir);
  return DMTCP_IS_PRESENT;
}

AGENT_EXPORT const char *dmtcp_get_ckpt_filename(void) {
  static char path[PATH_MAX];
  if (agent.last_image[0]) return agent.last_image;
  checkpoint_image_path(path, sizeof path);
  return path;
}

AGENT_EXPORT const char *dmtcp_get_uniquepid_str(void) { return agent.unique_id; }

AGENT_EXPORT const char *dmtcp_get_computation_id_str(void) {
  static char from_status[128];
  if (agent.comp_id[0]) return agent.comp_id;
  if (agent.config.no_coordinator) return agent.unique_id;   /* a computation of one (solo.c) */
  char line[1024];
  if (!from_status[0] && coordinator_command("status", "STATUS", line, sizeof line) == 0 &&
      coord_field(line, "comp", from_status, sizeof from_status) && !strcmp(from_status, "-"))
    from_status[0] = 0;
  return from_status;
}

AGENT_EXPORT uint32_t dmtcp_get_generation(void) { return (uint32_t)agent.generation; }

AGENT_EXPORT int dmtcp_get_ckpt_signal(void) { return agent.config.ckpt_signal; }

AGENT_EXPORT const char *dmtcp_get_tmpdir(void) {
  const char *t = getenv("DMTCP_TMPDIR");
  if (!t || !t[0]) t = getenv("TMPDIR");
  return t && t[0] ? t : "/tmp";
}

AGENT_EXPORT int dmtcp_is_running_state(void) { return agent.suspended ? 0 : 1; }

AGENT_EXPORT pid_t dmtcp_pid_virtual_to_real(pid_t virtualPid) { return pid_real_of_virt(virtualPid); }
AGENT_EXPORT pid_t dmtcp_pid_real_to_virtual(pid_t realPid) { return pid_virt_of_real(realPid); }

/* ---- dmtcpaware (native/dmtcpaware/dmtcpaware.c calls these by name) ---- */

typedef void (*hook_fn)(void);
/* by moment (enum api_hook): installed with dmtcpInstallHooks, then the
 * program's dmtcpHook* and mtcpHook* functions */
static hook_fn installed[API_HOOK_MOMENTS], program_dmtcp[API_HOOK_MOMENTS], program_mtcp[API_HOOK_MOMENTS];

AGENT_EXPORT int dmtcp_aware_install_hooks(hook_fn pre, hook_fn post, hook_fn restart) {
  installed[API_HOOK_PRE_CHECKPOINT] = pre;
  installed[API_HOOK_POST_CHECKPOINT] = post;
  installed[API_HOOK_RESTART] = restart;
  return 1;
}

/* dmtcpHook{Pre,Post}Checkpoint, dmtcpHookRestart, then the three mtcpHook*. */
AGENT_EXPORT void dmtcp_aware_program_hooks(const hook_fn *hooks) {
  for (int m = 0; m < API_HOOK_MOMENTS; m++) {
    program_dmtcp[m] = hooks[m];
    program_mtcp[m] = hooks[API_HOOK_MOMENTS + m];
  }
}

void api_run_hooks(enum api_hook moment) {
  if (program_mtcp[moment]) program_mtcp[moment]();
  if (program_dmtcp[moment]) program_dmtcp[moment]();
  if (installed[moment]) installed[moment]();
  if (moment != API_HOOK_PRE_CHECKPOINT) __atomic_add_fetch(&after_hooks_runs, 1, __ATOMIC_SEQ_CST);
}

AGENT_EXPORT int dmtcp_aware_run_command(char key) {
  static const struct { char key; const char *name; } keys[] = {
    { 'c', "checkpoint" }, { 'k', "kill" }, { 'q', "quit" }, { 's', "status" }, { 'l', "list" },
  };
  if (key == 'c' && agent.config.no_coordinator && agent.active) return dmtcp_checkpoint() != DMTCP_NOT_PRESENT;
  for (unsigned i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (keys[i].key == key) return coordinator_command(keys[i].name, 0, 0, 0) == 0 ? 1 : 0;
  return 0;
}

/* ---- dmtcp::kvdb (include/kvdb.h calls this) ---- */

static const char *const kv_ops[] = { "get", "set", "incrby", "and", "or", "xor", "min", "max" };

static char *put_hex(char *e, const void *bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *p = bytes;
  for (size_t i = 0; i < n; i++) { *e++ = digits[p[i] >> 4]; *e++ = digits[p[i] & 15]; }
  return e;
}

static int hex_value(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

/* One request on database `id`: the answer (KVDBResponse: 0 success, 1 invalid,
 * 2 no such database, 3 no such key), the old value into old/old_len when there
 * was one; -1 when no coordinator answered. */
AGENT_EXPORT int dmtcp_kvdb_request(int op, const char *id, const void *key, size_t key_len, const void *val, size_t val_len,
                                    char *old, size_t old_cap, size_t *old_len) {
  if (old_len) *old_len = 0;
  if (op < 0 || op >= (int)(sizeof kv_ops / sizeof kv_ops[0]) || !id || strlen(id) > KV_MAX || key_len > KV_MAX || val_len > KV_MAX) return 1;
  static char cmd[COMMAND_MAX];
  static char line[REPLY_MAX];
  pthread_mutex_lock(&command_lock);
  char *e = cmd + agent_strlcpy(cmd, "kv op=", sizeof cmd);
  e += agent_strlcpy(e, kv_ops[op], 16);
  e += agent_strlcpy(e, " db=", 8);
  e = put_hex(e, id, strlen(id));
  e += agent_strlcpy(e, " key=", 8);
  e = put_hex(e, key, key_len);
  if (val) { e += agent_strlcpy(e, " val=", 8); e = put_hex(e, val, val_len); }
  *e = 0;
  int r = -1;
  char value[16];
  if (command_locked(cmd, "KV", line, sizeof line) == 0 && coord_field(line, "response", value, sizeof value)) {
    r = (int)agent_parse_u64(value, 10, 0);
    const char *at = strstr(line, " old=");
    if (at && old && old_len) {
      size_t n = 0;
      for (at += 5; hex_value(at[0]) >= 0 && hex_value(at[1]) >= 0 && n < old_cap; at += 2) old[n++] = (char)(hex_value(at[0]) << 4 | hex_value(at[1]));
      *old_len = n;
    }
  }
  pthread_mutex_unlock(&command_lock);
  return r;
}

/* ---- barriers (dmtcp.h): every process of the computation waits for all ---- */

AGENT_EXPORT void dmtcp_global_barrier(const char *barrier) {
  if (!barrier || !barrier[0] || strlen(barrier) > 200) return;
  if (agent.config.no_coordinator) return;   /* a computation of one: everyone is here (solo.c) */
  char cmd[340], *e = cmd + agent_strlcpy(cmd, "barrier barrier=", sizeof cmd);
  /* a name is one word of the protocol: spaces and '=' would split it */
  for (const char *p = barrier; *p && e < cmd + sizeof cmd - 1; p++) *e++ = (*p == ' ' || *p == '=' || *p == '\n') ? '_' : *p;
  /* After a restart the processes reconnect one by one: the computation is the
   * checkpoint's members (every one came back), not who has connected so far. */
  if (agent.restarted && agent.members[0]) {
    unsigned count = 1;
    for (const char *p = agent.members; *p; p++) count += *p == ',';
    e += agent_strlcpy(e, " count=", 8);
    e = agent_fmt_u64(e, count, 10);
  }
  *e = 0;
  if (coordinator_command(cmd, 0, 0, 0) != 0) agent_say("a global barrier did not complete (no coordinator, or a process never reached it)");
}

/* One process: nothing to wait for beyond its own threads, which the caller is. */
AGENT_EXPORT void dmtcp_local_barrier(const char *barrier) { (void)barrier; }
