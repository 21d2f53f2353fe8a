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
#include "../common/encoder_service.h"
#include "../common/raw_syscall.h"

#define LINK_PIPE_SIZE (1 << 20)
#define REPLY_OK "ok\n"
#define REPLY_ERROR "error: "

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
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = { req, n };
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pipe_read, sizeof pipe_read);
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
  return fds[1];
}

int encoder_link_finish(int conn, char *why, size_t why_size) {
  char reply[ENCODER_REPLY_MAX];
  size_t n = 0;
  while (n < sizeof reply - 1) {
    long got = rsys3(SYS_read, conn, reply + n, sizeof reply - 1 - n);
    if (got == -EINTR) continue;
    if (got <= 0) break;
    n += (size_t)got;
    if (reply[n - 1] == '\n') break;
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
