/* Unix sockets with names inside the computation: a stream listener at a
 * path, a seqpacket listener at an abstract name, a datagram socket at a
 * second path that the child connect()s to. Each step the child sends k on
 * all three; the parent answers k on the stream and the seqpacket
 * connections (each message one record), and every 5 steps passes the child
 * a pipe's read end over the stream with SCM_RIGHTS, the byte k waiting in
 * it. The child checks every answer and the byte ("S k"); the parent checks
 * its names stay what they were and that each datagram comes from the
 * child's connected socket. Lost, repeated or garbled: CORRUPT.
 * Usage: unixnamed N DIR */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static socklen_t name(struct sockaddr_un *a, const char *path, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(path);
  memcpy(a->sun_path + (abstract ? 1 : 0), path, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0) + (abstract ? 0 : 1));
}

static int expect_msg(int fd, int k, const char *what) {
  char buf[32];
  ssize_t r;
  do { r = recv(fd, buf, sizeof buf - 1, 0); } while (r < 0 && errno == EINTR);
  if (r <= 0) { printf("CORRUPT %s: recv gave %zd errno %d\n", what, r, errno); return -1; }
  buf[r] = 0;
  if (atoi(buf) != k) { printf("CORRUPT %s: got '%s', expected %d\n", what, buf, k); return -1; }
  return 0;
}

static void say(int fd, int k) { char m[16]; int n = snprintf(m, sizeof m, "%d", k); send(fd, m, (size_t)n, 0); }

static int child(struct sockaddr_un *sa, socklen_t sl, struct sockaddr_un *qa, socklen_t ql, struct sockaddr_un *da, socklen_t dl, int n) {
  int st = socket(AF_UNIX, SOCK_STREAM, 0), sq = socket(AF_UNIX, SOCK_SEQPACKET, 0), dg = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (connect(st, (struct sockaddr *)sa, sl) || connect(sq, (struct sockaddr *)qa, ql) || connect(dg, (struct sockaddr *)da, dl)) {
    printf("CORRUPT connect errno %d\n", errno);
    return 3;
  }
  for (int k = 1; k <= n; k++) {
    say(st, k); say(sq, k); say(dg, k);
    /* the stream: "k" then, every 5, a pipe's read end alongside "p" */
    char buf[16];
    if (expect_msg(sq, k, "seqpacket") < 0) return 3;
    int want = k % 5 ? 1 : 2;
    ssize_t got = 0;
    int passed = -1;
    while (got < (ssize_t)sizeof buf - 1) {   /* one line, a byte at a time */
      char cbuf[CMSG_SPACE(sizeof(int))];
      struct iovec iov = { buf + got, 1 };
      struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
      ssize_t r = recvmsg(st, &m, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) { printf("CORRUPT stream recv errno %d\n", errno); return 3; }
      struct cmsghdr *c = CMSG_FIRSTHDR(&m);
      if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&passed, CMSG_DATA(c), sizeof passed);
      got += r;
      if (buf[got - 1] == '\n') break;
    }
    buf[got] = 0;
    if (atoi(buf) != k) { printf("CORRUPT stream got '%s', expected %d\n", buf, k); return 3; }
    if ((want == 2) != (strchr(buf, 'p') != 0)) { printf("CORRUPT stream line '%s' at %d\n", buf, k); return 3; }
    if (want == 2) {
      unsigned char b = 0;
      if (passed < 0 || read(passed, &b, 1) != 1 || b != (unsigned char)k) { printf("CORRUPT the passed pipe gave %d (fd %d) at %d\n", b, passed, k); return 3; }
      close(passed);
    }
    printf("S %d\n", k);
    nap(40);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  const char *dir = argc > 2 ? argv[2] : ".";
  setvbuf(stdout, 0, _IOLBF, 0);
  char spath[256], dpath[256], abs_name[64];
  snprintf(spath, sizeof spath, "%s/stream.sock", dir);
  snprintf(dpath, sizeof dpath, "%s/dgram.sock", dir);
  snprintf(abs_name, sizeof abs_name, "dmtcp-test-seq-%d", getpid());
  struct sockaddr_un sa, qa, da;
  socklen_t sl = name(&sa, spath, 0), ql = name(&qa, abs_name, 1), dl = name(&da, dpath, 0);
  int ls = socket(AF_UNIX, SOCK_STREAM, 0), lq = socket(AF_UNIX, SOCK_SEQPACKET, 0), dg = socket(AF_UNIX, SOCK_DGRAM, 0);
  unlink(spath); unlink(dpath);
  if (bind(ls, (struct sockaddr *)&sa, sl) || bind(lq, (struct sockaddr *)&qa, ql) || bind(dg, (struct sockaddr *)&da, dl)) { printf("CORRUPT bind errno %d\n", errno); return 3; }
  listen(ls, 4); listen(lq, 4);
  pid_t pid = fork();
  if (pid == 0) _exit(child(&sa, sl, &qa, ql, &da, dl, n));
  int st = accept(ls, 0, 0), sq = accept(lq, 0, 0);
  for (int k = 1; k <= n; k++) {
    if (expect_msg(sq, k, "parent seqpacket") < 0 || expect_msg(dg, k, "datagram") < 0) return 3;
    char buf[16];
    ssize_t got = 0;
    while (got < 1 || atoi(buf) < k) {   /* the child's "k" on the stream, whole */
      ssize_t r = recv(st, buf + got, sizeof buf - 1 - (size_t)got, MSG_DONTWAIT);
      if (r > 0) { got += r; buf[got] = 0; if (atoi(buf) == k && got == snprintf(0, 0, "%d", k)) break; }
      else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { printf("CORRUPT parent stream errno %d\n", errno); return 3; }
      else nap(5);
    }
    if (atoi(buf) != k) { printf("CORRUPT parent stream got '%s', expected %d\n", buf, k); return 3; }
    say(sq, k);
    char line[16];
    int len = snprintf(line, sizeof line, k % 5 ? "%04d\n" : "%04dp\n", k);
    if (k % 5) send(st, line, (size_t)len, 0);
    else {
      int p[2];
      pipe(p);
      unsigned char b = (unsigned char)k;
      write(p[1], &b, 1);
      close(p[1]);
      char cbuf[CMSG_SPACE(sizeof(int))];
      struct iovec iov = { line, (size_t)len };
      struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
      struct cmsghdr *c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(c), &p[0], sizeof(int));
      sendmsg(st, &m, 0);
      close(p[0]);
    }
    struct sockaddr_un now;
    socklen_t nl = sizeof now;
    getsockname(ls, (struct sockaddr *)&now, &nl);
    if (nl != sl || memcmp(&now, &sa, sl)) { printf("CORRUPT the stream listener's name changed\n"); return 3; }
    nl = sizeof now;
    getsockname(lq, (struct sockaddr *)&now, &nl);
    if (nl != ql || memcmp(&now, &qa, ql)) { printf("CORRUPT the abstract name changed\n"); return 3; }
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
