/* Reaching the computation's resident encoder (native/common/encoder_service.h,
 * docs/encoder-service.md). One connection per checkpoint: the request and the
 * read end of a fresh pipe go over the Unix socket in one sendmsg; the capture
 * stream then goes into the pipe exactly as it would to an encoder of our own;
 * the answer is one line on the socket. Raw system calls only (util.c says why). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include "agent.h"
#include "encoder_service.h"
#include "fd_message.h"
#include "raw_syscall.h"

#define LINK_PIPE_SIZE (1 << 20)
#define REPLY_OK "ok\n"
#define REPLY_ERROR "error: "

/* Bytes the service sent before we read its answer (a "pipe\n", or an early
 * "error: ..." in place of "direct"): encoder_link_finish starts from them.
 * One checkpoint at a time, on the checkpoint thread. */
static char early[ENCODER_REPLY_MAX];
static size_t early_len;

static int starts_with(const char *s, size_t n, const char *prefix) {
  size_t len = strlen(prefix);
  return n >= len && !memcmp(s, prefix, len);
}

static int connect_service(void) {
  struct sockaddr_un addr;
  size_t len = strlen(agent.config.encoder_socket);
  if (len == 0 || len >= sizeof addr.sun_path) return -ENAMETOOLONG;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, agent.config.encoder_socket, len);
  int s = (int)rsys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  long r;
  do { r = rsys3(SYS_connect, s, &addr, sizeof addr); } while (r == -EINTR);
  if (r < 0) { rsys1(SYS_close, s); return (int)r; }
  return s;
}

/* "DMTCPENC" arg\0 arg\0 ... \0, with the pipe's read end attached. */
static long send_request(int s, const char *const *args, int pipe_read) {
  static char req[ENCODER_REQUEST_MAX];
  size_t n = ENCODER_REQUEST_MAGIC_LEN;
  memcpy(req, ENCODER_REQUEST_MAGIC, n);
  for (; *args; args++) {
    size_t len = strlen(*args) + 1;
    if (len == 1 || n + len + 1 > sizeof req) return -EINVAL;
    memcpy(req + n, *args, len);
    n += len;
  }
  req[n++] = 0;
  char control[FD_MESSAGE_CONTROL];
  struct iovec iov = { req, n };
  struct msghdr msg;
  fd_message_init(&msg, &iov, control);
  fd_message_attach(&msg, pipe_read);
  long r;
  do { r = rsys3(SYS_sendmsg, s, &msg, MSG_NOSIGNAL); } while (r == -EINTR);
  return r < 0 ? r : (r == (long)n ? 0 : -EIO);
}

int encoder_link_open(const char *const *args, int *conn) {
  int s = connect_service();
  if (s < 0) return s;
  int fds[2];
  long r = rsys2(SYS_pipe2, fds, O_CLOEXEC);
  if (r < 0) { rsys1(SYS_close, s); return (int)r; }
  rsys3(SYS_fcntl, fds[1], F_SETPIPE_SZ, LINK_PIPE_SIZE);
  r = send_request(s, args, fds[0]);
  rsys1(SYS_close, fds[0]);
  if (r < 0) {
    rsys1(SYS_close, fds[1]);
    rsys1(SYS_close, s);
    return (int)r;
  }
  *conn = s;
  early_len = 0;
  return fds[1];
}

int encoder_link_await_direct(int conn, int *image, uint64_t *pos) {
  /* One line, with the image file attached to its first byte. */
  while (early_len == 0 || early[early_len - 1] != '\n') {
    if (early_len >= sizeof early - 1) return -EPROTO;
    char control[FD_MESSAGE_CONTROL];
    struct iovec iov = { early + early_len, sizeof early - 1 - early_len };
    struct msghdr msg;
    fd_message_init(&msg, &iov, control);
    long got = rsys3(SYS_recvmsg, conn, &msg, MSG_CMSG_CLOEXEC);
    if (got == -EINTR) continue;
    if (got <= 0) return got < 0 ? (int)got : -ECONNRESET;
    int fd = fd_message_received(&msg);
    if (fd >= 0 && *image < 0) *image = fd;
    else if (fd >= 0) rsys1(SYS_close, fd);
    early_len += (size_t)got;
  }
  early[early_len] = 0;
  if (!starts_with(early, early_len, ENCODER_REPLY_DIRECT) || *image < 0) return -EPROTO;   /* "error: ...": finish says it */
  const char *end;
  *pos = agent_parse_u64(early + strlen(ENCODER_REPLY_DIRECT), 10, &end);
  early_len = 0;
  return *end == '\n' ? 0 : -EPROTO;
}

int encoder_link_switched(int conn) {
  if (early_len < sizeof early - 1) {
    long got = rsys6(SYS_recvfrom, conn, early + early_len, sizeof early - 1 - early_len, MSG_DONTWAIT, 0, 0);
    if (got > 0) early_len += (size_t)got;
  }
  return starts_with(early, early_len, ENCODER_REPLY_SWITCH_TO_PIPE);
}

int encoder_link_finish(int conn, char *why, size_t why_size) {
  char reply[ENCODER_REPLY_MAX];
  size_t n = 0;
  /* What came early, without a "pipe" line: it is not the answer. */
  size_t skip = starts_with(early, early_len, ENCODER_REPLY_SWITCH_TO_PIPE) ? strlen(ENCODER_REPLY_SWITCH_TO_PIPE) : 0;
  memcpy(reply, early + skip, early_len - skip);
  n = early_len - skip;
  early_len = 0;
  while (n < sizeof reply - 1) {
    if (n > 0 && reply[n - 1] == '\n') {
      if (!starts_with(reply, n, ENCODER_REPLY_SWITCH_TO_PIPE)) break;
      memmove(reply, reply + strlen(ENCODER_REPLY_SWITCH_TO_PIPE), n - strlen(ENCODER_REPLY_SWITCH_TO_PIPE));
      n -= strlen(ENCODER_REPLY_SWITCH_TO_PIPE);
      continue;
    }
    long got = rsys3(SYS_read, conn, reply + n, sizeof reply - 1 - n);
    if (got == -EINTR) continue;
    if (got <= 0) break;
    n += (size_t)got;
  }
  rsys1(SYS_close, conn);
  reply[n] = 0;
  if (!strcmp(reply, REPLY_OK)) return 0;
  size_t elen = sizeof REPLY_ERROR - 1;
  if (n > elen && !strncmp(reply, REPLY_ERROR, elen)) {
    if (reply[n - 1] == '\n') reply[n - 1] = 0;
    agent_strlcpy(why, "the image encoder failed: ", why_size);
    size_t used = strlen(why);
    agent_strlcpy(why + used, reply + elen, why_size - used);
    return 1;
  }
  return -1;   /* no answer: the service went away */
}
