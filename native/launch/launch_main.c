/* dmtcp_launch_fast: dmtcp_launch's common cases without Node's start-up
 * (~60 ms here, twice DMTCP 5's whole launch). The same steps as
 * src/cli/dmtcp_launch.ts main(), in the same order; every step that would
 * need a judgement that file makes (an error to word, a plugin to probe, a
 * host name to resolve, a coordinator to ask for an interval) is handed over
 * to it, with our argv, before anything was started. bin/dmtcp_launch runs
 * this when it is built; DMTCP_LAUNCH_NO_FAST=1 goes straight to Node. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "launch.h"

#define NO_FAST_ENV "DMTCP_LAUNCH_NO_FAST"
#define DEFAULT_FAIL_RC 99
#define NODE_RESET_SIGNALS 32      /* Node resets signals below this at start-up (node.cc kMaxSignal) */
#define NODE_NOFILE_SEARCH_MAX (1 << 20)
#define LEVELS_UP_TO_ROOT 3        /* ROOT/build/Release/dmtcp_launch_fast */
#define NODE_CLOEXEC_ALWAYS 15     /* libuv marks 0..15 whether open or not */
#define ENCODER_PRESENCE_FD 819    /* src/service/protocol.ts */

extern char **environ;
static char **g_argv;
static struct launch_where g_where;

_Noreturn void launch_hand_over(void) {
  int argc = 0;
  while (g_argv[argc]) argc++;
  char **argv = calloc((size_t)argc + 2, sizeof *argv);
  char *script = g_where.root ? path_join2(g_where.root, "bin/dmtcp_launch") : NULL;
  if (!argv || !script) {
    fprintf(stderr, LAUNCH_CMD ": cannot find the Node launcher (bin/dmtcp_launch)\n");
    exit(DEFAULT_FAIL_RC);
  }
  argv[0] = "node";
  argv[1] = script;
  for (int i = 1; i < argc; i++) argv[i + 1] = g_argv[i];
  if (g_where.node) execv(g_where.node, argv);
  else execvp("node", argv);
  fprintf(stderr, LAUNCH_CMD ": cannot run node: %s\n", strerror(errno));
  exit(127);   /* what `exec node` says in a shell */
}

/* failRc(): DMTCP_FAIL_RC when it is a number 0..255. */
static int fail_rc(void) {
  const char *raw = getenv("DMTCP_FAIL_RC");
  if (!raw) return DEFAULT_FAIL_RC;
  while (*raw == ' ' || *raw == '\t') raw++;
  char *end;
  long n = strtol(raw, &end, 10);
  while (*end == ' ' || *end == '\t' || *end == '\n') end++;
  return end != raw && !*end && raw[0] >= '0' && raw[0] <= '9' && n <= 255 ? (int)n : DEFAULT_FAIL_RC;
}

/* The package root: three folders above this executable's real path. */
static char *package_root(void) {
  char *p = realpath("/proc/self/exe", NULL);
  for (int i = 0; p && i < LEVELS_UP_TO_ROOT; i++) {
    char *slash = strrchr(p, '/');
    if (!slash || slash == p) { free(p); return NULL; }
    *slash = 0;
  }
  return p;
}

/* Node's start-up marks the descriptors it inherited close-on-exec
 * (libuv's uv_disable_stdio_inheritance): 0 to 15 whatever they are, then on
 * up to the first one that is not open. The end of that run, measured before
 * we open anything. */
static int inherited_end(void) {
  int fd = NODE_CLOEXEC_ALWAYS + 1;
  while (fcntl(fd, F_GETFD) >= 0) fd++;
  return fd;
}

/* Those inherited descriptors the Node launcher's program would not get (stdio
 * is made inheritable again below, as the addon's exec does). */
static void close_inherited_on_exec(int end) {
  for (int fd = 3; fd < end; fd++) {
    if (fd == ENCODER_PRESENCE_FD) continue;   /* ours, made after Node's start-up */
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

/* What the program inherits from a Node launcher: Node's start-up (stdio
 * opened on /dev/null when closed, ignored signals reset, the descriptor
 * limit raised to its hard limit) and the addon's exec (stdio blocking and
 * inheritable, SIGPIPE and SIGXFSZ default, no signal blocked). */
static void node_like_state(void) {
  struct stat st;
  for (int fd = 0; fd <= 2; fd++)
    if (fstat(fd, &st) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd) _exit(fail_rc());
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int s = 1; s < NODE_RESET_SIGNALS; s++) if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != lim.rlim_max) {
    rlim_t min = lim.rlim_cur, max = NODE_NOFILE_SEARCH_MAX;
    if (lim.rlim_max != RLIM_INFINITY) min = max = lim.rlim_max;
    do {
      lim.rlim_cur = min + (max - min) / 2;
      if (setrlimit(RLIMIT_NOFILE, &lim)) max = lim.rlim_cur;
      else min = lim.rlim_cur;
    } while (min + 1 < max);
  }
  for (int fd = 0; fd <= 2; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0 && (fdflags & FD_CLOEXEC)) fcntl(fd, F_SETFD, fdflags & ~FD_CLOEXEC);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static char *must_exist(const char *root, const char *rel) {
  char *p = path_join2(root, rel);
  if (!p || !is_file(p)) launch_hand_over();   /* MissingBuildError: Node words it */
  return p;
}

/* numericAddress, for the names that need no resolver; others go to Node. */
static const char *numeric_address(const char *host) {
  struct in_addr a;
  if (!strcmp(host, "localhost")) return "127.0.0.1";
  if (inet_pton(AF_INET, host, &a) == 1) return host;
  launch_hand_over();
}

static int is_local_name(const char *host) {
  return !strcmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, "0.0.0.0");
}

int main(int argc, char **argv) {
  int inherited = inherited_end();
  g_argv = argv;
  g_where.root = package_root();
  g_where.node = find_in_path("node");
  const char *no_fast = getenv(NO_FAST_ENV);
  if (!g_where.root || !g_where.node || (no_fast && !strcmp(no_fast, "1"))) launch_hand_over();
  /* a `node` that is a script (a version manager's shim) runs some other
   * binary, whose path (process.execPath, DMTCP_NODE) only Node can tell */
  if (program_kind(g_where.node) != KIND_DYNAMIC) launch_hand_over();

  struct launch_opts o;
  struct env_list env;
  if (launch_parse(argc, argv, &o) < 0 || env_from(&env, environ) < 0) launch_hand_over();
  char *agent = must_exist(g_where.root, "build/Release/libdmtcp.so");
  free(must_exist(g_where.root, "build/Release/mtcp_restart"));
  char *encoder = must_exist(g_where.root, "dist/image/encoder-main.js");
  char *program = find_program(o.program[0]);
  if (!program) launch_hand_over();
  enum program_kind kind = program_kind(program);
  if (kind == KIND_STATIC || kind == KIND_UNREADABLE) launch_hand_over();
  if (o.encoder_service && !encoder_fits(o.tmp_dir)) launch_hand_over();

  /* findOrStartCoordinator, decided before anything starts */
  const char *address = NULL;
  int start = 0;
  if (o.mode != MODE_NONE) {
    address = numeric_address(o.host);
    enum probe_result found = o.port ? coord_probe(address, o.port) : PROBE_NONE;
    if (found == PROBE_UNSURE) launch_hand_over();
    if (found == PROBE_RUNNING && (o.mode == MODE_NEW || o.has_interval)) launch_hand_over();
    if (found == PROBE_NONE && (o.mode == MODE_JOIN || !is_local_name(o.host))) launch_hand_over();
    start = found == PROBE_NONE;
  }
  if (mkdir_p(o.ckpt_dir) < 0) launch_hand_over();
  /* the encoder's folder before the coordinator (Node makes it after): a
   * failure here must still find nothing started */
  char *encoder_dir = o.encoder_service ? encoder_folder(o.tmp_dir) : NULL;
  if (o.encoder_service && !encoder_dir) launch_hand_over();
  int port = o.port;
  if (start) {
    int listen_fd = coord_listen(o.port, &port);
    if (listen_fd < 0) {   /* taken: Node's daemon says why */
      if (encoder_dir) rmdir(encoder_dir);
      launch_hand_over();
    }
    char text[16];
    snprintf(text, sizeof text, "%d\n", port);
    if ((o.port_file && write_file_atomic(o.port_file, text, 0644) < 0) ||
        coord_spawn_daemon(&g_where, &o, listen_fd) < 0) {
      close(listen_fd);
      if (encoder_dir) rmdir(encoder_dir);
      launch_hand_over();
    }
    close(listen_fd);   /* the daemon holds it now */
  }
  char *encoder_socket = encoder_dir ? encoder_start(&g_where, encoder_dir) : NULL;

  /* agentEnvironment, in its order */
  char *preload = strdup(agent);
  const char *old = env_get(&env, "LD_PRELOAD");
  for (const char *p = old ? old : ""; *p;) {
    size_t n = strcspn(p, " :");
    if (n && (n != strlen(agent) || strncmp(p, agent, n))) {
      size_t have = strlen(preload);
      preload = realloc(preload, have + n + 2);
      preload[have] = ':';
      memcpy(preload + have + 1, p, n);
      preload[have + 1 + n] = 0;
    }
    p += n;
    if (*p) p++;
  }
  env_set(&env, "LD_PRELOAD", preload);
  char num[32];
  if (o.mode != MODE_NONE) {
    env_set(&env, "DMTCP_COORD_HOST", address);
    snprintf(num, sizeof num, "%d", port);
    env_set(&env, "DMTCP_COORD_PORT", num);
    env_del(&env, "DMTCP_NO_COORDINATOR");
    if (start) env_set(&env, "DMTCP_HELLO_EARLY", "1");
    else env_del(&env, "DMTCP_HELLO_EARLY");
  } else {
    env_del(&env, "DMTCP_COORD_HOST");
    env_del(&env, "DMTCP_HOST");
    env_set(&env, "DMTCP_NO_COORDINATOR", "1");
    snprintf(num, sizeof num, "%lld", o.interval);
    if (o.has_interval) env_set(&env, "DMTCP_CHECKPOINT_INTERVAL", num);
  }
  env_set(&env, "DMTCP_CHECKPOINT_DIR", o.ckpt_dir);
  env_set(&env, "DMTCP_GZIP", o.gzip ? "1" : "0");
  env_set(&env, "DMTCP_HBICT", o.hbict ? "1" : "0");
  if (o.forked < 0) env_del(&env, "DMTCP_FORKED_CHECKPOINT");
  else env_set(&env, "DMTCP_FORKED_CHECKPOINT", o.forked ? "1" : "0");
  snprintf(num, sizeof num, "%d", o.ckpt_signal);
  env_set(&env, "DMTCP_SIGCKPT", num);
  env_set(&env, "DMTCP_TMPDIR", o.tmp_dir);
  env_set(&env, "DMTCP_CKPT_OPEN_FILES", o.ckpt_open_files ? "1" : "0");
  env_set(&env, "DMTCP_ALLOW_FILE_OVERWRITE", o.allow_file_overwrite ? "1" : "0");
  env_set(&env, "DMTCP_NODE", g_where.node);
  env_set(&env, "DMTCP_ENCODER", encoder);
  env_set(&env, "DMTCP_ROOT_PROCESS", "1");
  snprintf(num, sizeof num, "%d", o.quiet);
  env_set(&env, "DMTCP_QUIET", num);
  if (encoder_socket) env_set(&env, "DMTCP_ENCODER_SOCKET", encoder_socket);
  else env_del(&env, "DMTCP_ENCODER_SOCKET");

  if (start && o.quiet == 0) fprintf(stderr, LAUNCH_CMD ": started a coordinator on %s:%d\n", o.host, port);
  close_inherited_on_exec(inherited);
  node_like_state();
  execve(program, o.program, env.v);
  fprintf(stderr, LAUNCH_CMD ": exec failed: %s\n", strerror(errno));
  if (start) coord_quit(address, port);
  return fail_rc();
}
