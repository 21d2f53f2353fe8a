/* Pids in socket credentials across restarts. Over a Unix socketpair the
 * child sends, every tick, a message with explicit SCM_CREDENTIALS naming
 * itself (getpid()); the parent, with SO_PASSCRED on, receives it and checks
 * that the pid it got is its child's (fork's result) and that SO_PEERCRED of
 * its end names itself (it made the pair). A send the kernel refuses or a
 * wrong pid is CORRUPT. Usage: sockcred N [mmsg]; with mmsg every message goes
 * through sendmmsg and recvmmsg instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  int mm = argc > 2 && !strcmp(argv[2], "mmsg");
  setvbuf(stdout, 0, _IOLBF, 0);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) return 2;
  int on = 1;
  setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  pid_t child = fork();
  if (child == 0) {
    close(sv[0]);
    for (int i = 1; i <= n; i++) {
      struct ucred u = { getpid(), getuid(), getgid() };
      char ctl[CMSG_SPACE(sizeof u)];
      memset(ctl, 0, sizeof ctl);
      struct iovec iov = { &i, sizeof i };
      struct msghdr m = { 0 };
      m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
      struct cmsghdr *c = CMSG_FIRSTHDR(&m);
      c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_CREDENTIALS; c->cmsg_len = CMSG_LEN(sizeof u);
      memcpy(CMSG_DATA(c), &u, sizeof u);
      struct mmsghdr mh = { m, 0 };
      if (mm ? sendmmsg(sv[1], &mh, 1, 0) != 1 : sendmsg(sv[1], &m, 0) < 0) { printf("CORRUPT send errno %d\n", errno); return 3; }
      tick();
    }
    return 0;
  }
  close(sv[1]);
  for (int i = 1; i <= n; i++) {
    int got = 0;
    char ctl[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = { &got, sizeof got };
    struct msghdr m = { 0 };
    m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
    struct mmsghdr mh = { m, 0 };
    if (mm) {
      if (recvmmsg(sv[0], &mh, 1, 0, 0) != 1 || mh.msg_len != sizeof got) { printf("CORRUPT recvmmsg errno %d\n", errno); return 3; }
      m = mh.msg_hdr;
    } else if (recvmsg(sv[0], &m, 0) != sizeof got) { printf("CORRUPT recvmsg errno %d\n", errno); return 3; }
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct ucred u = { 0, 0, 0 };
    if (c && c->cmsg_type == SCM_CREDENTIALS) memcpy(&u, CMSG_DATA(c), sizeof u);
    struct ucred peer = { 0, 0, 0 };
    socklen_t len = sizeof peer;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &len);
    if (got != i || u.pid != child || peer.pid != getpid()) {
      printf("CORRUPT message %d/%d from %d want %d, peercred %d want %d\n", got, i, u.pid, child, peer.pid, getpid());
      return 3;
    }
    printf("M %d\n", i);
  }
  int status;
  waitpid(child, &status, 0);
  printf("DONE %d\n", n);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
}
