/* bench/service-client SOCKET STREAM OUT [ENCODER FLAGS...]
 * bench/service-client --spawn ENCODER_JS STREAM OUT [ENCODER FLAGS...]
 *
 * Plays the agent's part against a resident encoder, for bench/raw.sh: the raw
 * capture stream STREAM is first read into this process's memory (as an agent
 * has its process's memory), then one checkpoint is timed the way the agent
 * makes it (encoder_link.c, capture.c): connect, send the request with a pipe,
 * put the stream into the pipe (vmsplice: page references, not copies, as the
 * agent does), wait for the one-line answer. Prints the seconds taken;
 * exit 1 if the service did not answer "ok".
 * --spawn times the other way the agent writes an image, when no resident
 * encoder answers: start `node ENCODER_JS --out OUT FLAGS` with the pipe as its
 * stdin, vmsplice the stream, wait for it to exit 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int splice_all(int fd, char *p, size_t n) {
  while (n) {
    struct iovec iov = { p, n < (1 << 20) ? n : (1 << 20) };
    ssize_t w = vmsplice(fd, &iov, 1, 0);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *spawn_js = 0;
  if (argc > 2 && !strcmp(argv[1], "--spawn")) { spawn_js = argv[2]; argv++; argc--; }
  if (argc < 4) { fprintf(stderr, "usage: service-client SOCKET|--spawn ENCODER_JS STREAM OUT [FLAGS...]\n"); return 2; }
  int in = open(argv[2], O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) { perror(argv[2]); return 2; }
  char *stream = aligned_alloc(4096, ((size_t)st.st_size + 4095) & ~4095UL);
  size_t have = 0;
  while (have < (size_t)st.st_size) {
    ssize_t n = read(in, stream + have, (size_t)st.st_size - have);
    if (n <= 0) { perror("read"); return 2; }
    have += (size_t)n;
  }
  close(in);

  signal(SIGPIPE, SIG_IGN);   /* a refused stream: read the answer instead of dying */
  if (spawn_js) {
    const char *eargv[32] = { "node", spawn_js, "--out", argv[3] };
    int k = 4;
    for (int i = 4; i < argc && k < 31; i++) eargv[k++] = argv[i];
    eargv[k] = 0;
    double t0 = now();
    int p[2];
    if (pipe(p) < 0) { perror("pipe"); return 1; }
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    pid_t child = fork();
    if (child == 0) {
      dup2(p[0], 0);
      close(p[0]);
      close(p[1]);
      execvp("node", (char *const *)eargv);
      _exit(127);
    }
    close(p[0]);
    if (splice_all(p[1], stream, have) < 0) perror("vmsplice");
    close(p[1]);
    int status;
    waitpid(child, &status, 0);
    double t1 = now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "encoder failed\n"); return 1; }
    printf("%.4f\n", t1 - t0);
    return 0;
  }

  char req[8192];
  size_t n = 8;
  memcpy(req, "DMTCPENC", 8);
  const char *fixed[] = { "--out", argv[3] };
  for (int i = 0; i < 2 + argc - 4; i++) {
    const char *a = i < 2 ? fixed[i] : argv[4 + i - 2];
    size_t len = strlen(a) + 1;
    memcpy(req + n, a, len);
    n += len;
  }
  req[n++] = 0;

  double t0 = now();
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
  int p[2];
  if (pipe(p) < 0) { perror("pipe"); return 1; }
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  char control[CMSG_SPACE(sizeof(int))] = { 0 };
  struct iovec iov = { req, n };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  if (sendmsg(s, &msg, 0) != (ssize_t)n) { perror("sendmsg"); return 1; }
  close(p[0]);
  if (splice_all(p[1], stream, have) < 0) perror("vmsplice");
  close(p[1]);
  char reply[1024];
  ssize_t got = read(s, reply, sizeof reply - 1);
  double t1 = now();
  reply[got > 0 ? got : 0] = 0;
  if (strcmp(reply, "ok\n") != 0) { fprintf(stderr, "service: %s", reply); return 1; }
  printf("%.4f\n", t1 - t0);
  return 0;
}
