/* One open file description shared across fork (and dup) after restarts.
 * The parent opens FILE (no O_APPEND: writes go where the shared offset is),
 * dups it, and forks; parent and child write fixed 16-byte records
 * "P nnnnnnnnnnnnn\n" / "C nnnnnnnnnnnnn\n" through it, the parent alternating
 * between its two fds. If the offset were not shared any more, their writes
 * would land on each other. At the end the parent reads the file back: 2N
 * whole records, N of each, else CORRUPT. With "scm" the child is forked
 * first and gets the description over a socketpair (SCM_RIGHTS) instead of
 * inheriting it. Usage: sharedfile FILE N [scm] */
#include <fcntl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REC 16

static void put(int fd, char who, int i) {
  char rec[REC + 1];
  snprintf(rec, sizeof rec, "%c %013d\n", who, i);
  if (write(fd, rec, REC) != REC) { printf("CORRUPT write\n"); exit(3); }
}

static void tick(void) {
  struct timespec ts = { 0, 50 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static void send_fd(int sock, int fd) {
  char byte = 'F';
  struct iovec iov = { &byte, 1 };
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = { 0 };
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(sock, &m, 0) != 1) { printf("CORRUPT sendmsg\n"); exit(3); }
}

static int recv_fd(int sock) {
  char byte;
  struct iovec iov = { &byte, 1 };
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr m = { 0 };
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;
  if (recvmsg(sock, &m, 0) != 1) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  int fd = -1;
  if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  setvbuf(stdout, 0, _IOLBF, 0);
  int n = atoi(argv[2]);
  int scm = argc > 3 && !strcmp(argv[3], "scm");
  int sv[2] = { -1, -1 };
  pid_t child = -1;
  if (scm) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 2;
    child = fork();
    if (child == 0) {
      close(sv[0]);
      int fd = recv_fd(sv[1]);
      if (fd < 0) { printf("CORRUPT recv_fd\n"); return 3; }
      for (int i = 1; i <= n; i++) { put(fd, 'C', i); printf("C %d\n", i); tick(); }
      return 0;
    }
    close(sv[1]);
  }
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int fd2 = dup(fd);
  if (fd < 0 || fd2 < 0) return 2;
  if (scm) send_fd(sv[0], fd);
  else child = fork();
  if (child == 0) {
    for (int i = 1; i <= n; i++) { put(fd, 'C', i); printf("C %d\n", i); tick(); }
    return 0;
  }
  for (int i = 1; i <= n; i++) { put(i % 2 ? fd : fd2, 'P', i); printf("P %d\n", i); tick(); }
  int status;
  waitpid(child, &status, 0);
  int in = open(argv[1], O_RDONLY);
  char rec[REC];
  int p = 0, c = 0, bad = 0;
  ssize_t got;
  while ((got = read(in, rec, REC)) == REC) {
    if (rec[REC - 1] != '\n' || (rec[0] != 'P' && rec[0] != 'C') || rec[1] != ' ') bad++;
    else if (rec[0] == 'P') p++;
    else c++;
  }
  if (got != 0 || bad || p != n || c != n) { printf("CORRUPT records P=%d C=%d bad=%d tail=%zd\n", p, c, bad, got); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
