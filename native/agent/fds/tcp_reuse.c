/* A TCP listener carries SO_REUSEADDR in the kernel, whatever the program set.
 *
 * A connection a server closes first stays in TIME_WAIT at the server's port
 * for a minute, and keeps the SO_REUSEADDR its listener had. With 0 there, a
 * restart within that minute cannot bind the listener's port again (not even
 * with SO_REUSEADDR of its own: the kernel wants it on both sockets; only
 * CAP_NET_ADMIN gets past). So at listen() the agent turns it on for every TCP
 * listener and answers the program's getsockopt with what it set itself; the
 * connections it accepts inherit the kernel's 1 and the program's 0 alike.
 * What the program can tell: only that a port its own listener left in
 * TIME_WAIT can be bound by a socket that sets SO_REUSEADDR, which a plain
 * run refuses for that minute.
 *
 * The program's view is kept per descriptor, with the socket's inode to tell
 * a descriptor number used again; the inodes are read again after a restart
 * (the restored sockets are new ones, at the same numbers), and carried
 * across exec in the environment (TCP_REUSE_ENV: "fd:inode,..."), which the
 * new program's agent reads back. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

#define HIDDEN_MAX 256

/* descriptors whose kernel SO_REUSEADDR is 1 where the program's is 0 */
static struct { int fd; ino_t ino; } hidden[HIDDEN_MAX];
static int nhidden;

static ino_t inode_of(int fd) {
  struct stat st;
  return rsys2(SYS_fstat, fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

static int find(int fd) {
  for (int i = 0; i < nhidden; i++) if (hidden[i].fd == fd) return i;
  return -1;
}

static void forget(int fd) {
  int i = find(fd);
  if (i >= 0) hidden[i] = hidden[--nhidden];
}

static void hide(int fd) {
  ino_t ino = inode_of(fd);
  if (!ino) return;
  int i = find(fd);
  if (i < 0 && nhidden < HIDDEN_MAX) i = nhidden++;
  if (i >= 0) { hidden[i].fd = fd; hidden[i].ino = ino; }
}

static int is_hidden(int fd) {
  int i = find(fd);
  if (i < 0) return 0;
  if (hidden[i].ino != inode_of(fd)) { forget(fd); return 0; }   /* the number names another file now */
  return 1;
}

static int sock_int(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  return rsys5(SYS_getsockopt, fd, level, name, &v, &len) == 0 ? v : -1;
}

static int is_tcp(int fd) {
  int domain = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
  return (domain == AF_INET || domain == AF_INET6) && sock_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
}

AGENT_EXPORT int listen(int fd, int backlog) {
  static int (*real)(int, int);
  if (!real) real = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
  int r = real(fd, backlog);
  if (r == 0 && agent.active && is_tcp(fd) && sock_int(fd, SOL_SOCKET, SO_REUSEADDR) == 0) {
    int one = 1;
    if (rsys5(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0) hide(fd);
  }
  return r;
}

static int accepted(int listener, int fd) {
  if (fd >= 0 && agent.active) {
    if (nhidden && is_hidden(listener)) hide(fd);
    else if (nhidden) forget(fd);
  }
  return fd;
}

AGENT_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
  return accepted(fd, real(fd, addr, len));
}

AGENT_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
  return accepted(fd, real(fd, addr, len, flags));
}

/* The program sets SO_REUSEADDR: on a listener of ours the kernel keeps 1. */
AGENT_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (!real) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  if (level != SOL_SOCKET || name != SO_REUSEADDR || !value || len < (socklen_t)sizeof(int) || !agent.active || !nhidden || !is_hidden(fd))
    return real(fd, level, name, value, len);
  if (*(const int *)value) forget(fd);   /* now the program's 1 and the kernel's agree */
  return 0;
}

/* getsockopt (sockcred.c): 1 if it wrote the program's own value. */
int tcp_reuse_answer(int fd, int level, int name, void *value, socklen_t *len) {
  if (level != SOL_SOCKET || name != SO_REUSEADDR || !nhidden || !value || !len || *len < (socklen_t)sizeof(int) || !is_hidden(fd)) return 0;
  *(int *)value = 0;
  *len = sizeof(int);
  return 1;
}

void tcp_reuse_after_restart(void) {
  for (int i = 0; i < nhidden; i++) {
    ino_t ino = inode_of(hidden[i].fd);
    if (ino) hidden[i].ino = ino;
    else hidden[i--] = hidden[--nhidden];
  }
}

/* "fd:inode,fd:inode": what exec carries; 0 when there is nothing to carry. */
int tcp_reuse_export(char *out, size_t size) {
  char *e = out, *lim = out + size;
  *e = 0;
  for (int i = 0; i < nhidden && lim - e > 48; i++) {
    if (e != out) *e++ = ',';
    e = agent_fmt_u64(e, (uint64_t)hidden[i].fd, 10);
    *e++ = ':';
    e = agent_fmt_u64(e, (uint64_t)hidden[i].ino, 10);
    *e = 0;
  }
  return e != out;
}

void tcp_reuse_adopt(const char *text) {
  nhidden = 0;
  for (const char *p = text; *p && nhidden < HIDDEN_MAX;) {
    const char *e;
    int fd = (int)agent_parse_u64(p, 10, &e);
    if (*e != ':') break;
    ino_t ino = (ino_t)agent_parse_u64(e + 1, 10, &e);
    if (inode_of(fd) == ino) { hidden[nhidden].fd = fd; hidden[nhidden].ino = ino; nhidden++; }   /* still open across the exec */
    if (*e != ',') break;
    p = e + 1;
  }
}
