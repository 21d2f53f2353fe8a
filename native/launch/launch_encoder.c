/* The computation's resident encoder, as startEncoderService
 * (src/service/start.ts) starts it: a fresh 0700 folder for its socket under
 * the temporary directory, the service detached with the presence pipe's read
 * end, the write end left at ENCODER_PRESENCE_FD for the program. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "launch.h"

#define ENCODER_PRESENCE_FD 819     /* src/service/protocol.ts */
#define SERVICE_PRESENCE_FD 3
#define MAX_SOCKET_PATH 107
#define FOLDER_TEMPLATE "dmtcp-enc-XXXXXX"
#define SOCKET_NAME "encoder.sock"
#define SERVICE_PID_FILE "service.pid"

/* socketFolder's test: the socket's path fits under tmp_dir, which exists
 * (otherwise start.ts falls back to os.tmpdir(), which is Node's to decide). */
int encoder_fits(const char *tmp_dir) {
  size_t base = strcmp(tmp_dir, "/") ? strlen(tmp_dir) : 0;
  return base + 1 + strlen(FOLDER_TEMPLATE) + 1 + strlen(SOCKET_NAME) <= MAX_SOCKET_PATH
      && access(tmp_dir, F_OK) == 0;
}

/* socketFolder's mkdtemp: the folder, or NULL (then Node's words are needed). */
char *encoder_folder(const char *tmp_dir) {
  char dir[MAX_SOCKET_PATH + 1];
  snprintf(dir, sizeof dir, "%s/" FOLDER_TEMPLATE, strcmp(tmp_dir, "/") ? tmp_dir : "");
  return mkdtemp(dir) ? strdup(dir) : NULL;
}

char *encoder_start(const struct launch_where *w, const char *dir) {
  char socket[MAX_SOCKET_PATH + 32];   /* encoder_fits keeps it within MAX_SOCKET_PATH */
  snprintf(socket, sizeof socket, "%s/" SOCKET_NAME, dir);
  char *script = path_join2(w->root, "dist/service/service-main.js");
  /* Node starts at the computation's first checkpoint (native/encoder_wait/) */
  char *wait = path_join2(w->root, "build/Release/dmtcp_encoder_wait");
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  char *path_env = malloc(strlen(path) + sizeof "PATH=");
  if (!script || !wait || !path_env) abort();
  strcpy(path_env, "PATH=");
  strcat(path_env, path);   /* nothing else of ours or the program's */
  char *argv[] = { wait, socket, w->node, script, NULL };
  /* and the user's choice of deflate engine (src/image/engine.ts) */
  const char *engine = getenv("DMTCP_GZIP_ENGINE");
  char *engine_env = engine ? malloc(strlen(engine) + sizeof "DMTCP_GZIP_ENGINE=") : NULL;
  if (engine_env) { strcpy(engine_env, "DMTCP_GZIP_ENGINE="); strcat(engine_env, engine); }
  char *envp[] = { path_env, engine_env, NULL };
  int presence[2];
  int pid = -1, err = 0;
  if (pipe2(presence, O_CLOEXEC) == 0) {
    struct fd_move move = { presence[0], SERVICE_PRESENCE_FD };
    pid = spawn_detached(wait, argv, envp, &move, 1, 1);
    err = errno;
    close(presence[0]);
    if (pid >= 0 && dup3(presence[1], ENCODER_PRESENCE_FD, 0) < 0) { pid = -1; err = errno; }
    close(presence[1]);
  } else {
    err = errno;
  }
  free(script);
  free(wait);
  free(path_env);
  free(engine_env);
  if (pid < 0) {
    rmdir(dir);
    fprintf(stderr, LAUNCH_CMD ": cannot start the resident image encoder (cannot start the encoder service: %s); "
            "each checkpoint will start its own\n", strerror(err));
    return NULL;
  }
  char pid_file[MAX_SOCKET_PATH + 32], text[16];
  snprintf(pid_file, sizeof pid_file, "%s/" SERVICE_PID_FILE, dir);
  int n = snprintf(text, sizeof text, "%d", pid);
  int fd = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    if (write(fd, text, (size_t)n) != n) { /* the sweep then judges the folder by its age alone */ }
    close(fd);
  }
  return strdup(socket);
}
