/* The coordinator, as src/launch/coordinator.ts finds or starts it: probe
 * with `status` (docs/protocol.md), or make its listening socket here and
 * start the Node daemon on it without waiting (DMTCP_COORD_LISTEN_FD). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "launch.h"

#define PROBE_TIMEOUT_MS 1500      /* client.ts PROBE_TIMEOUT_MS */
#define QUIT_TIMEOUT_MS 1500
#define LISTEN_BACKLOG 511         /* what Node's server.listen asks for */
#define BIND_ADDRESS "127.0.0.1"   /* DEFAULT_BIND, src/options/coordinator.ts */
#define REPLY_MAX 65536
#define DAEMON_CHANNEL_FD 3        /* the IPC channel Node's spawn gives the daemon */
#define DAEMON_LISTENER_FD 4       /* daemon.ts LISTENER_CHILD_FD */

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Connected socket, -2 refused, -1 anything else. */
static int connect_to(const char *address, int port, long deadline) {
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    if (errno == ECONNREFUSED) { close(fd); return -2; }
    if (errno != EINPROGRESS) { close(fd); return -1; }
    struct pollfd p = { fd, POLLOUT, 0 };
    long left = deadline - now_ms();
    int err = 0;
    socklen_t len = sizeof err;
    if (left <= 0 || poll(&p, 1, (int)left) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
      close(fd);
      return err == ECONNREFUSED ? -2 : -1;
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Sends one command and reads the reply to its DONE line; the reply, or NULL. */
static char *command(int fd, const char *name, long deadline) {
  char req[128];
  int n = snprintf(req, sizeof req, "HELLO v=1 role=command\nCMD name=%s\n", name);
  if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) return NULL;
  char *buf = malloc(REPLY_MAX + 1);
  size_t have = 0;
  while (buf && have < REPLY_MAX) {
    struct pollfd p = { fd, POLLIN, 0 };
    long left = deadline - now_ms();
    if (left <= 0 || poll(&p, 1, (int)left) != 1) break;
    ssize_t r = read(fd, buf + have, REPLY_MAX - have);
    if (r <= 0) break;
    have += (size_t)r;
    buf[have] = 0;
    if (!strncmp(buf, "DONE ", 5) || strstr(buf, "\nDONE ")) {
      if (buf[have - 1] == '\n') return buf;
    }
  }
  free(buf);
  return NULL;
}

/* probeCoordinator: a coordinator is there when `status` is answered with a
 * STATUS line and DONE status=ok. Refused: none. Anything else (no answer in
 * time, an error, a stranger) is for Node to judge. */
enum probe_result coord_probe(const char *address, int port) {
  long deadline = now_ms() + PROBE_TIMEOUT_MS;
  int fd = connect_to(address, port, deadline);
  if (fd == -2) return PROBE_NONE;
  if (fd < 0) return PROBE_UNSURE;
  char *reply = command(fd, "status", deadline);
  close(fd);
  enum probe_result r = PROBE_UNSURE;
  if (reply) {
    int status = !strncmp(reply, "STATUS ", 7) || strstr(reply, "\nSTATUS ");
    char *done = !strncmp(reply, "DONE ", 5) ? reply : strstr(reply, "\nDONE ") + 1;
    char *eol = strchr(done, '\n');
    *eol = 0;
    int ok = strstr(done, " status=ok ") || (strlen(done) >= 10 && !strcmp(done + strlen(done) - 10, " status=ok"));
    if (status && ok && !strstr(reply, "\nERROR ") && strncmp(reply, "ERROR ", 6)) r = PROBE_RUNNING;
    free(reply);
  }
  return r;
}

/* quitStartedCoordinator: best effort. */
void coord_quit(const char *address, int port) {
  long deadline = now_ms() + QUIT_TIMEOUT_MS;
  int fd = connect_to(address, port, deadline);
  if (fd < 0) return;
  free(command(fd, "quit", deadline));
  close(fd);
}

/* server.listen(port, DEFAULT_BIND): the listening socket, and its port. */
int coord_listen(int port, int *bound_port) {
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  inet_pton(AF_INET, BIND_ADDRESS, &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  socklen_t len = sizeof sa;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *bound_port = ntohs(sa.sin_port);
  return fd;
}

/* writeFileAtomic (src/coordinator/atomic-file.ts): a temporary name beside it, then rename. */
int write_file_atomic(const char *file, const char *data, int mode) {
  const char *slash = strrchr(file, '/');
  size_t dir_len = (size_t)(slash - file);
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%.*s/.%s.%d.tmp", (int)dir_len, file, slash + 1, (int)getpid()) >= (int)sizeof tmp) return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return -1;
  size_t n = strlen(data);
  int ok = write(fd, data, n) == (ssize_t)n;
  if (close(fd) < 0) ok = 0;
  if (!ok || rename(tmp, file) < 0) { unlink(tmp); return -1; }
  return 0;
}

/* spawnDaemonOnListener: `node bin/dmtcp_coordinator --daemon ...` with the
 * environment and descriptors Node's spawn gives it (an IPC channel at fd 3,
 * whose other end closes when we exec, as the Node launcher's does). */
int coord_spawn_daemon(const struct launch_where *w, const struct launch_opts *o, int listen_fd) {
  char port[16], interval[32];
  snprintf(port, sizeof port, "%d", o->port);
  snprintf(interval, sizeof interval, "%lld", o->interval);
  char *bin = path_join2(w->root, "bin/dmtcp_coordinator");
  char *argv[16];
  int n = 0;
  argv[n++] = w->node; argv[n++] = bin;
  argv[n++] = "--daemon"; argv[n++] = "--exit-on-last"; argv[n++] = "--port"; argv[n++] = port;
  if (o->port_file) { argv[n++] = "--port-file"; argv[n++] = o->port_file; }
  if (o->has_interval) { argv[n++] = "--interval"; argv[n++] = interval; }
  argv[n++] = "--ckptdir"; argv[n++] = o->ckpt_dir;
  argv[n] = NULL;

  extern char **environ;
  struct env_list env;
  memset(&env, 0, sizeof env);
  for (size_t i = 0; environ[i]; i++) {
    const char *eq = strchr(environ[i], '=');
    if (!eq) continue;
    char *key = strndup(environ[i], (size_t)(eq - environ[i]));
    env_set(&env, key, eq + 1);
    free(key);
  }
  env_set(&env, "DMTCP_COORD_DAEMON_CHILD", "1");   /* daemon.ts DAEMON_CHILD_ENV */
  env_set(&env, "DMTCP_COORD_LISTEN_FD", "4");      /* LISTEN_FD_ENV = DAEMON_LISTENER_FD */
  env_set(&env, "NODE_CHANNEL_FD", "3");            /* = DAEMON_CHANNEL_FD */
  env_set(&env, "NODE_CHANNEL_SERIALIZATION_MODE", "json");

  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) < 0) return -1;
  struct fd_move moves[] = { { channel[1], DAEMON_CHANNEL_FD }, { listen_fd, DAEMON_LISTENER_FD } };
  int pid = spawn_detached(w->node, argv, env.v, moves, 2, 0);
  close(channel[1]);   /* channel[0] stays, close-on-exec: it closes when the program starts */
  free(bin);
  return pid;
}
