/* bench/service-client SOCKET STREAM OUT [ENCODER FLAGS...]
 * bench/service-client --direct SOCKET STREAM OUT [ENCODER FLAGS...]
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
 * stdin, vmsplice the stream, wait for it to exit 0.
 * --direct plays the agent's direct mode (native/common/encoder_service.h):
 * records go into the pipe, page data is written into the image file the
 * service hands back, and the pipe carries one u64 notice per write. */
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
#include <stdint.h>
#include <unistd.h>
#include "../native/common/raw_stream_format.h"
#include "../native/common/encoder_service.h"
#include "../native/common/fd_message.h"

#define DIRECT_PIECE (1 << 20)

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

static int write_all(int fd, const void *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return -1;
    p = (const char *)p + w;
    n -= (size_t)w;
  }
  return 0;
}

/* "direct N\n" with the image file attached; returns the fd, N in *start. */
static int receive_direct(int s, uint64_t *start) {
  char line[256] = { 0 };
  char control[FD_MESSAGE_CONTROL];
  struct iovec iov = { line, sizeof line - 1 };
  struct msghdr msg;
  fd_message_init(&msg, &iov, control);
  ssize_t n = recvmsg(s, &msg, 0);
  if (n <= 0) return -1;
  int fd = fd_message_received(&msg);
  if (fd < 0 || strncmp(line, ENCODER_REPLY_DIRECT, strlen(ENCODER_REPLY_DIRECT))) {
    fprintf(stderr, "service: %s", line);
    return -1;
  }
  *start = strtoull(line + strlen(ENCODER_REPLY_DIRECT), 0, 10);
  return fd;
}

/* Lines the service sent before its answer: "pipe\n" switches to inline data. */
static char early[256];
static size_t early_len;

static int switched_to_pipe(int s) {
  ssize_t n = recv(s, early + early_len, sizeof early - 1 - early_len, MSG_DONTWAIT);
  if (n > 0) early_len += (size_t)n;
  early[early_len] = 0;
  return early_len >= strlen(ENCODER_REPLY_SWITCH_TO_PIPE) && !strncmp(early, ENCODER_REPLY_SWITCH_TO_PIPE, strlen(ENCODER_REPLY_SWITCH_TO_PIPE));
}

/* The stream's records into the pipe, its page data into the file until the
 * service asks for the rest inline. */
static int send_direct(int s, int pipe_fd, const char *stream, size_t have) {
  const struct raw_stream_header *h = (const void *)stream;
  size_t at = sizeof *h + h->meta_len;
  if (write_all(pipe_fd, stream, at) < 0) return -1;
  uint64_t pos;
  int img = receive_direct(s, &pos);
  if (img < 0) return -1;
  int inline_data = 0;
  while (at < have) {
    const struct raw_area_record *r = (const void *)(stream + at);
    if (!memcmp(r->tag, "END", 3)) { if (write_all(pipe_fd, r, sizeof *r) < 0) return -1; break; }
    size_t head = sizeof *r + ((r->name_len + 7) & ~7U) + r->nruns * sizeof(struct raw_run);
    if (write_all(pipe_fd, r, head) < 0) return -1;
    const struct raw_run *runs = (const void *)(stream + at + sizeof *r + ((r->name_len + 7) & ~7U));
    char *data = (char *)stream + at + head;
    for (uint32_t i = 0; i < r->nruns; i++) {
      for (uint64_t done = 0; done < runs[i].len; ) {
        uint64_t piece = runs[i].len - done < DIRECT_PIECE ? runs[i].len - done : DIRECT_PIECE;
        if (!inline_data && switched_to_pipe(s)) inline_data = 1;
        uint64_t notice;
        if (inline_data) {
          notice = piece | ENCODER_NOTICE_INLINE;
          if (write_all(pipe_fd, &notice, sizeof notice) < 0 || splice_all(pipe_fd, data, piece) < 0) return -1;
        } else {
          ssize_t w = pwrite(img, data, piece, (off_t)pos);
          if (w <= 0) return -1;
          piece = (uint64_t)w;
          notice = piece;
          if (write_all(pipe_fd, &notice, sizeof notice) < 0) return -1;
          pos += piece;
        }
        data += piece;
        done += piece;
      }
    }
    at += head + r->data_len;
  }
  close(img);
  return 0;
}

int main(int argc, char **argv) {
  const char *spawn_js = 0;
  int direct = 0;
  if (argc > 2 && !strcmp(argv[1], "--spawn")) { spawn_js = argv[2]; argv++; argc--; }
  else if (argc > 1 && !strcmp(argv[1], "--direct")) { direct = 1; argv++; argc--; }
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
  const char *fixed[] = { "--out", argv[3], ENCODER_DIRECT_ARG };
  int nfixed = direct ? 3 : 2;
  for (int i = 0; i < nfixed + argc - 4; i++) {
    const char *a = i < nfixed ? fixed[i] : argv[4 + i - nfixed];
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
  char control[FD_MESSAGE_CONTROL];
  struct iovec iov = { req, n };
  struct msghdr msg;
  fd_message_init(&msg, &iov, control);
  fd_message_attach(&msg, p[0]);
  if (sendmsg(s, &msg, 0) != (ssize_t)n) { perror("sendmsg"); return 1; }
  close(p[0]);
  if (direct) {
    if (send_direct(s, p[1], stream, have) < 0) perror("direct");
  } else if (splice_all(p[1], stream, have) < 0) perror("vmsplice");
  close(p[1]);
  char reply[1024];
  size_t got = early_len;
  memcpy(reply, early, got);
  reply[got] = 0;
  while (got < sizeof reply - 1 && (got == 0 || reply[got - 1] != '\n' || !strcmp(reply, ENCODER_REPLY_SWITCH_TO_PIPE))) {
    ssize_t n = read(s, reply + got, sizeof reply - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    reply[got] = 0;
  }
  double t1 = now();
  reply[got] = 0;
  char *answer = reply;
  if (!strncmp(answer, ENCODER_REPLY_SWITCH_TO_PIPE, strlen(ENCODER_REPLY_SWITCH_TO_PIPE))) answer += strlen(ENCODER_REPLY_SWITCH_TO_PIPE);
  if (strcmp(answer, "ok\n") != 0) { fprintf(stderr, "service: %s", answer); return 1; }
  printf("%.4f\n", t1 - t0);
  return 0;
}
