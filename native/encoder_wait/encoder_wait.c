/* dmtcp_encoder_wait: the resident encoder, started when first needed.
 *
 *   dmtcp_encoder_wait SOCKET NODE SCRIPT [ARGS...]
 *
 * The launchers start this in place of Node (src/service/start.ts,
 * native/launch/launch_encoder.c), detached, with the presence pipe's read
 * end at fd 3 (encoder_service.h). It listens on SOCKET at once, so that an
 * agent finds the socket from the program's first instruction on, and then
 * waits, using no CPU, for whichever comes first:
 *   - a connection (the computation's first checkpoint): it execs
 *     `NODE SCRIPT --socket SOCKET --listen-fd 4 ARGS...` with the listening
 *     socket at fd 4; the agent's request waits in the socket's queue while
 *     Node starts;
 *   - the end of the presence pipe (every process of the computation has
 *     exited without a checkpoint): it removes the socket and its folder and
 *     exits. Node never started.
 * Node's start-up and the service's worker threads cost about 0.1 s of CPU:
 * at launch they competed with the program's own start on a small machine
 * (docs/performance.md, "Runtime overhead"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PRESENCE_FD 3       /* the service's end of the presence pipe (src/service/protocol.ts) */
#define LISTEN_FD 4         /* where Node finds the listening socket (--listen-fd) */
#define LISTEN_BACKLOG 64
#define MAX_ARGS 32
/* src/service/start.ts's names and rule for folders left by a service killed with -9 */
#define FOLDER_PREFIX "dmtcp-enc-"
#define SOCKET_NAME "encoder.sock"
#define PID_FILE "service.pid"
#define STALE_AFTER_S 60
#define CMDLINE_MAX 8192

static int listen_on(const char *path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, LISTEN_BACKLOG) < 0) return -1;
  return fd;
}

/* The socket, the launcher's pid file beside it, and their folder, made for
 * this service alone (left if anything else is in it). */
static void remove_socket(const char *path) {
  char dir[PATH_MAX], pid_file[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s", path);
  const char *folder = dirname(dir);
  snprintf(pid_file, sizeof pid_file, "%s/" PID_FILE, folder);
  unlink(path);
  unlink(pid_file);
  rmdir(folder);
}

/* Whether process `pid`'s command line names `socket` (a live service, or its waiter). */
static int serving(long pid, const char *socket) {
  char path[64], cmd[CMDLINE_MAX];
  snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (n <= 0) return 0;
  cmd[n] = 0;   /* NUL-separated arguments */
  for (ssize_t i = 0; i < n; i += (ssize_t)strlen(cmd + i) + 1)
    if (!strcmp(cmd + i, socket)) return 1;
  return 0;
}

/* Our folders beside `mine` whose service is gone without cleaning up, older
 * than STALE_AFTER_S (a young one's service may still be starting): removed,
 * as start.ts's sweepStaleFolders does. Housekeeping: any doubt leaves a folder. */
static void sweep_stale(const char *mine) {
  char base[PATH_MAX];
  snprintf(base, sizeof base, "%s", mine);
  char *parent = dirname(base);
  DIR *d = opendir(parent);
  if (!d) return;
  time_t now = time(NULL);
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, FOLDER_PREFIX, sizeof FOLDER_PREFIX - 1)) continue;
    char dir[PATH_MAX], file[PATH_MAX + 16], sock[PATH_MAX + 16], text[32];
    snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() || now - st.st_mtime < STALE_AFTER_S) continue;
    snprintf(file, sizeof file, "%s/" PID_FILE, dir);
    snprintf(sock, sizeof sock, "%s/" SOCKET_NAME, dir);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) continue;
    if (fd >= 0) {
      ssize_t n = read(fd, text, sizeof text - 1);
      close(fd);
      text[n > 0 ? n : 0] = 0;
      long pid = strtol(text, NULL, 10);
      if (pid > 0 && serving(pid, sock)) continue;
    }
    unlink(sock);
    unlink(file);
    rmdir(dir);
  }
  closedir(d);
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > MAX_ARGS) {
    fprintf(stderr, "usage: dmtcp_encoder_wait SOCKET NODE SCRIPT [ARGS...] (started by dmtcp_launch)\n");
    return 99;
  }
  char *socket_path = argv[1];
  int listen_fd = listen_on(socket_path);
  if (listen_fd < 0) return 99;   /* agents then start an encoder per checkpoint */
  char mine[PATH_MAX];
  snprintf(mine, sizeof mine, "%s", socket_path);
  sweep_stale(dirname(mine));   /* once listening: no checkpoint waits for it */
  struct pollfd fds[2] = { { listen_fd, POLLIN, 0 }, { PRESENCE_FD, POLLIN, 0 } };
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 99;
    }
    if (fds[0].revents & POLLIN) break;
    if (fds[1].revents) {   /* nobody writes the pipe: readable means end of file */
      remove_socket(socket_path);
      return 0;
    }
  }
  /* Node inherits it: a copy at LISTEN_FD (dup2 clears FD_CLOEXEC), or, when
   * socket() gave that number already (dup2 onto itself does nothing), the flag off */
  if (listen_fd == LISTEN_FD ? fcntl(listen_fd, F_SETFD, 0) < 0 : dup2(listen_fd, LISTEN_FD) < 0) return 99;
  char *node_argv[MAX_ARGS + 4];
  int n = 0;
  node_argv[n++] = argv[2];
  node_argv[n++] = argv[3];
  node_argv[n++] = "--socket";
  node_argv[n++] = socket_path;
  node_argv[n++] = "--listen-fd";
  node_argv[n++] = "4";
  for (int i = 4; i < argc; i++) node_argv[n++] = argv[i];
  node_argv[n] = NULL;
  execv(argv[2], node_argv);
  return 127;
}
