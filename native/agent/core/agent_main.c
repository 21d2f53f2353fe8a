/* The agent's start: read the settings dmtcp_launch put in the environment, join
 * the coordinator, install the checkpoint signal and start the checkpoint thread,
 * all before the program's main() runs. */
#include <dlfcn.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"

#define DEFAULT_PORT 7779
#define DEFAULT_CKPT_SIGNAL 12   /* SIGUSR2 */
#define TID_SCAN_START 0x100     /* struct pthread begins with its TCB header */
#define TID_SCAN_END 0x1000

struct agent_state agent;

/* dmtcp_launch started the coordinator without waiting for it (it made the
 * listening socket itself): the program does not wait for the coordinator's
 * start-up either. Our HELLO waits in the socket with an id we propose, as a
 * forked child's does; the coordinator's word, if any, is read later by the
 * checkpoint thread. Read once and removed: children and exec'd programs
 * have their own ways in. */
#define HELLO_EARLY_ENV "DMTCP_HELLO_EARLY"
#define GZIP_ENGINE_ENV "DMTCP_GZIP_ENGINE"   /* src/image/engine.ts: zlib, or isa-l when found */
static int hello_early(void) {
  const char *v = getenv(HELLO_EARLY_ENV);
  int early = v && !strcmp(v, "1");
  if (v) unsetenv(HELLO_EARLY_ENV);
  return early;
}

static const char *env_first(const char *a, const char *b) {
  const char *v = getenv(a);
  return v && *v ? v : (b ? getenv(b) : 0);
}

static int read_config(struct agent_config *c) {
  const char *host = env_first("DMTCP_COORD_HOST", "DMTCP_HOST");
  const char *port = env_first("DMTCP_COORD_PORT", "DMTCP_PORT");
  const char *sig = getenv("DMTCP_SIGCKPT");
  const char *gzip = getenv("DMTCP_GZIP");
  const char *hbict = getenv("DMTCP_HBICT");
  const char *fsync_env = getenv("DMTCP_FSYNC");
  const char *dir = getenv("DMTCP_CHECKPOINT_DIR");
  const char *node = getenv("DMTCP_NODE");
  const char *encoder = getenv("DMTCP_ENCODER");
  const char *encoder_socket = getenv("DMTCP_ENCODER_SOCKET");
  if (!node || !encoder) return -1;   /* not started by dmtcp_launch: stay out of the way */
  agent_strlcpy(c->coord_host, host && *host ? host : "127.0.0.1", sizeof c->coord_host);
  c->coord_port = port ? atoi(port) : DEFAULT_PORT;
  c->ckpt_signal = sig && atoi(sig) > 0 && atoi(sig) < 65 ? atoi(sig) : DEFAULT_CKPT_SIGNAL;
  c->gzip = !(gzip && !strcmp(gzip, "0"));
  c->hbict = hbict && !strcmp(hbict, "1");
  c->fsync = fsync_env && !strcmp(fsync_env, "1");
  const char *open_files = getenv("DMTCP_CKPT_OPEN_FILES"), *overwrite = getenv("DMTCP_ALLOW_FILE_OVERWRITE");
  c->ckpt_open_files = open_files && !strcmp(open_files, "1");
  c->allow_file_overwrite = overwrite && !strcmp(overwrite, "1");
  const char *solo = getenv("DMTCP_NO_COORDINATOR"), *every = getenv("DMTCP_CHECKPOINT_INTERVAL");
  c->no_coordinator = solo && !strcmp(solo, "1");
  c->interval_s = c->no_coordinator && every && atoi(every) > 0 ? atoi(every) : 0;
  const char *quiet = getenv("DMTCP_QUIET");
  c->quiet = quiet ? atoi(quiet) : 0;
  const char *forked = getenv("DMTCP_FORKED_CHECKPOINT");
  c->forked = !forked || !*forked ? FORKED_AUTO : !strcmp(forked, "0") ? FORKED_OFF : !strcmp(forked, "1") ? FORKED_ON : FORKED_AUTO;
  const char *engine = getenv(GZIP_ENGINE_ENV);
  if (engine && strlen(engine) + sizeof GZIP_ENGINE_ENV + 1 <= sizeof c->gzip_engine_env) {
    agent_strlcpy(c->gzip_engine_env, GZIP_ENGINE_ENV "=", sizeof c->gzip_engine_env);
    agent_strlcpy(c->gzip_engine_env + sizeof GZIP_ENGINE_ENV, engine, sizeof c->gzip_engine_env - sizeof GZIP_ENGINE_ENV);
  }
  if (dir && *dir) agent_strlcpy(c->ckpt_dir, dir, sizeof c->ckpt_dir);
  else if (!getcwd(c->ckpt_dir, sizeof c->ckpt_dir)) agent_strlcpy(c->ckpt_dir, ".", sizeof c->ckpt_dir);
  agent_strlcpy(c->node_path, node, sizeof c->node_path);
  agent_strlcpy(c->encoder_path, encoder, sizeof c->encoder_path);
  if (encoder_socket && strlen(encoder_socket) < sizeof c->encoder_socket)
    agent_strlcpy(c->encoder_socket, encoder_socket, sizeof c->encoder_socket);
  return 0;
}

/* glibc hands an ELF constructor the program's argc, argv and environ. */
static void read_prog_name(int argc, char **argv) {
  const char *argv0 = argc > 0 && argv && argv[0] && argv[0][0] ? argv[0] : "program";
  const char *slash = strrchr(argv0, '/');
  agent_strlcpy(agent.prog, slash ? slash + 1 : argv0, sizeof agent.prog);
}

/* glibc caches each thread's kernel tid inside struct pthread; after a restart we
 * must write the new tids there. Find the field once by looking for our own tid. */
static void find_pthread_tid_offset(void) {
  const char *self = (const char *)pthread_self();
  int tid = agent_real_gettid();
  for (long off = TID_SCAN_START; off < TID_SCAN_END; off += 4) {
    if (*(const int *)(self + off) == tid) {
      agent.pthread_tid_offset = off;
      return;
    }
  }
  agent.pthread_tid_offset = -1;
}

static int resolve_coordinator(void) {
  /* A numeric address (what dmtcp_launch passes by default) needs no resolver. */
  struct sockaddr_in *v4 = (struct sockaddr_in *)&agent.coord_addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&agent.coord_addr;
  memset(&agent.coord_addr, 0, sizeof agent.coord_addr);
  if (inet_pton(AF_INET, agent.config.coord_host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)agent.config.coord_port);
    agent.coord_addr_len = sizeof *v4;
    return 0;
  }
  if (inet_pton(AF_INET6, agent.config.coord_host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)agent.config.coord_port);
    agent.coord_addr_len = sizeof *v6;
    return 0;
  }
  struct addrinfo hints, *res = 0;
  char port[16];
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  agent_fmt_u64(port, (uint64_t)agent.config.coord_port, 10);
  if (getaddrinfo(agent.config.coord_host, port, &hints, &res) != 0 || !res) return -1;
  memcpy(&agent.coord_addr, res->ai_addr, res->ai_addrlen);
  agent.coord_addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

static void fail(const char *what) {
  char msg[512], *e = msg, *lim = msg + sizeof msg;
  e += agent_strlcpy(e, what, (size_t)(lim - e));
  e += agent_strlcpy(e, " ", (size_t)(lim - e));
  e += agent_strlcpy(e, agent.config.coord_host, (size_t)(lim - e));
  e += agent_strlcpy(e, ":", (size_t)(lim - e));
  agent_fmt_u64(e, (uint64_t)agent.config.coord_port, 10);
  agent_say_error(msg);
  _exit(AGENT_FAIL_RC);
}

static void find_self_path(void) {
  struct agent_object self;
  if (agent_object_of((const void *)&find_self_path, &self) && self.name && self.name[0])
    agent_strlcpy(agent.self_path, self.name, sizeof agent.self_path);
}

/* A program exec'd by one of the computation's processes (exec.c) continues
 * that process: same connection, id and pids. Any other start is a new
 * process: the one dmtcp_launch started, or a child started without our fork
 * and exec (posix_spawn, system, popen run glibc's internal ones). */
__attribute__((constructor)) static void agent_init(int argc, char **argv) {
  if (read_config(&agent.config) < 0) return;
  agent.coord_fd = -1;
  agent.real_pid = agent.virt_pid = (pid_t)rsys0(SYS_getpid);
  agent.parent_real = agent.virt_ppid = (pid_t)rsys0(SYS_getppid);
  read_prog_name(argc, argv);
  find_self_path();
  gethostname(agent.hostname, sizeof agent.hostname - 1);
  int continued = exec_adopt_identity();
  find_pthread_tid_offset();
  if (agent.pthread_tid_offset < 0) {
    agent_say("cannot find the thread id in glibc's thread record; checkpointing is off");
    return;
  }
  if (!agent.config.no_coordinator && resolve_coordinator() < 0) fail("cannot resolve the coordinator");
  if (threads_install_handler() < 0) fail("cannot install the checkpoint signal for coordinator");
  if (continued) {
    if (coord_send_exec() < 0) {
      agent_say("the coordinator connection was lost across exec; this program runs without checkpoints");
      return;
    }
  } else if (coord_connect_and_send_hello(0, !hello_early()) < 0) {
    if (!agent.is_root) {
      agent_say("cannot reach the coordinator; this process runs without checkpoints");
      return;
    }
    fail("cannot reach the coordinator at");
  }
  agent.active = 1;
  agent_note_program_mask();
  pthread_atfork(0, 0, fork_child_join);
  plugins_init();   /* before our checkpoint thread can send them an event */
  if (continued) plugins_event(DMTCP_EVENT_POST_EXEC, 0);
  checkpoint_thread_arm();   /* started when the coordinator first writes (lazy_thread.c) */
}
