/* Pids in socket credentials: SCM_CREDENTIALS messages and SO_PEERCRED. The
 * kernel puts real pids there, and insists on the sender's real pid in an
 * explicit SCM_CREDENTIALS: after a restart the program knows virtual ones.
 * Received and queried pids become virtual (recvmsg, recvmmsg, SO_PEERCRED);
 * a pid the program sends (sendmsg, sendmmsg) becomes
 * real for the call. Before any restart every pid is real: nothing is done. */
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include "agent.h"

static int translating(void) { return agent.restarted || agent.npids; }

static void virtual_creds(struct msghdr *msg) {
  if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr)) return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS || c->cmsg_len < CMSG_LEN(sizeof(struct ucred))) continue;
    struct ucred *u = (struct ucred *)CMSG_DATA(c);
    if (u->pid > 0) u->pid = pid_virt_of_real(u->pid);
  }
}

/* Returns the cmsg whose pid it changed (to put it back), or 0. */
static struct ucred *real_creds(const struct msghdr *msg, pid_t *was) {
  if (!msg || !msg->msg_control || msg->msg_controllen < sizeof(struct cmsghdr)) return 0;
  struct msghdr *m = (struct msghdr *)msg;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS || c->cmsg_len < CMSG_LEN(sizeof(struct ucred))) continue;
    struct ucred *u = (struct ucred *)CMSG_DATA(c);
    *was = u->pid;
    u->pid = pid_real_of_virt(u->pid);
    return u;
  }
  return 0;
}

AGENT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  static ssize_t (*real)(int, struct msghdr *, int);
  if (!real) real = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
  ssize_t r = real(fd, msg, flags);
  if (r >= 0 && translating()) virtual_creds(msg);
  return r;
}

AGENT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  static ssize_t (*real)(int, const struct msghdr *, int);
  if (!real) real = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
  if (!translating()) return real(fd, msg, flags);
  pid_t was = 0;
  struct ucred *u = real_creds(msg, &was);   /* the caller's buffer: put back after the call */
  ssize_t r = real(fd, msg, flags);
  if (u) u->pid = was;
  return r;
}

AGENT_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *timeout) {
  static int (*real)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
  if (!real) real = (int (*)(int, struct mmsghdr *, unsigned int, int, struct timespec *))dlsym(RTLD_NEXT, "recvmmsg");
  int r = real(fd, v, n, flags, timeout);
  if (r > 0 && translating()) for (int i = 0; i < r; i++) virtual_creds(&v[i].msg_hdr);
  return r;
}

#define MMSG_PUT_BACK_MAX 64   /* messages per call whose pid we make real (and put back after) */
AGENT_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags) {
  static int (*real)(int, struct mmsghdr *, unsigned int, int);
  if (!real) real = (int (*)(int, struct mmsghdr *, unsigned int, int))dlsym(RTLD_NEXT, "sendmmsg");
  if (!translating()) return real(fd, v, n, flags);
  if (n > MMSG_PUT_BACK_MAX) n = MMSG_PUT_BACK_MAX;   /* a short count, as the kernel may give anyway */
  struct ucred *changed[MMSG_PUT_BACK_MAX];
  pid_t was[MMSG_PUT_BACK_MAX];
  for (unsigned int i = 0; i < n; i++) changed[i] = real_creds(&v[i].msg_hdr, &was[i]);
  int r = real(fd, v, n, flags);
  for (unsigned int i = 0; i < n; i++) if (changed[i]) changed[i]->pid = was[i];
  return r;
}

AGENT_EXPORT int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  static int (*real)(int, int, int, void *, socklen_t *);
  if (!real) real = (int (*)(int, int, int, void *, socklen_t *))dlsym(RTLD_NEXT, "getsockopt");
  if (tcp_reuse_answer(fd, level, name, value, len)) return 0;
  int r = real(fd, level, name, value, len);
  if (r == 0 && level == SOL_SOCKET && name == SO_PEERCRED && translating() && value && len && *len >= sizeof(struct ucred)) {
    struct ucred *u = value;
    if (u->pid > 0) u->pid = pid_virt_of_real(u->pid);
  }
  return r;
}
