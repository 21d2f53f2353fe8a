/* Sockets: Unix socketpairs, IP sockets (TCP, UDP; v4 and v6) and Unix
 * sockets with a name.
 *
 * At checkpoint every socket fd learns its domain, type and protocol, its own
 * name and its peer's (what dmtcp_restart pairs the two ends of a connection
 * by), whether it listens, its TCP state and the options a restart sets again
 * (SOCK_OPT_* in tree_format.h, buffer sizes); a Unix socket
 * also learns its peer's inode from the kernel's sock_diag netlink (what `ss`
 * shows), so that dmtcp_restart can pair the two ends again. The owner of a
 * stream end (fd_share.c) copies the bytes waiting in its receive queue with
 * MSG_PEEK: nothing is taken out, so nothing has to be put back when the
 * computation resumes. At restart the root restorer makes the pair again and
 * sends each end's bytes from the other end before anyone runs
 * (native/restorer/shared_fds.c); dmtcp_restart reads them from the image. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include "agent.h"
#include "raw_syscall.h"
#include "tree_format.h"

#define PEEK_MAX (4UL << 20)   /* a record socket's copy at most; a stream's takes its whole queue */
#define PAGE 4096UL
#define TCP_LISTEN_STATE 10    /* the kernel's TCP_LISTEN: Unix listeners report it too */

/* What the kernel's sock_diag tells of the Unix socket of record r: its
 * peer's inode (sock_peer; 0 if none or unknown: a connection no one accepted
 * yet has a peer without an inode, so does one whose peer closed, which
 * sock_shutdown tells) and, for a listener, the backlog listen() was given
 * (the "write queue" of UNIX_DIAG_RQLEN; left as it was when not told). */
static void unix_diag(struct fd_record *r) {
  uint64_t ino = r->ino;
  int nl = (int)rsys3(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return;
  struct { struct nlmsghdr nlh; struct unix_diag_req req; } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0U;
  msg.req.udiag_ino = (uint32_t)ino;
  msg.req.udiag_show = UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
  msg.req.udiag_cookie[0] = msg.req.udiag_cookie[1] = ~0U;   /* INET_DIAG_NOCOOKIE */
  struct sockaddr_nl to;
  memset(&to, 0, sizeof to);
  to.nl_family = AF_NETLINK;
  uint64_t peer = 0;
  if (rsys6(SYS_sendto, nl, &msg, sizeof msg, 0, &to, sizeof to) == (long)sizeof msg) {
    char buf[1024];
    long n = rsys6(SYS_recvfrom, nl, buf, sizeof buf, 0, 0, 0);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n >= (long)sizeof *h && h->nlmsg_type == SOCK_DIAG_BY_FAMILY && (long)h->nlmsg_len <= n) {
      struct unix_diag_msg *m = NLMSG_DATA(h);
      struct rtattr *a = (struct rtattr *)(m + 1);
      long left = (long)h->nlmsg_len - (long)NLMSG_LENGTH(sizeof *m);
      for (; left >= (long)sizeof *a && a->rta_len >= sizeof *a && a->rta_len <= left;
           left -= (long)RTA_ALIGN(a->rta_len), a = (struct rtattr *)((char *)a + RTA_ALIGN(a->rta_len))) {
        if (a->rta_type == UNIX_DIAG_PEER) peer = *(uint32_t *)RTA_DATA(a);
        if (a->rta_type == UNIX_DIAG_RQLEN && m->udiag_state == TCP_LISTEN_STATE) r->sock_backlog = (int)((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_wqueue;
        if (a->rta_type == UNIX_DIAG_SHUTDOWN) r->sock_shutdown = *(uint8_t *)RTA_DATA(a);
      }
    }
  }
  rsys1(SYS_close, nl);
  r->sock_peer = peer;
}

/* Whether the socket has a name (bound): a socketpair's ends have none. */
static int unnamed(int fd) {
  struct sockaddr_un a;
  socklen_t len = sizeof a;
  if (rsys3(SYS_getsockname, fd, &a, &len) < 0) return 0;
  return len <= sizeof(sa_family_t);
}

static int int_opt(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof v;
  return rsys5(SYS_getsockopt, fd, level, name, &v, &len) < 0 ? 0 : v;
}

static const struct { int level, name; uint32_t bit; } kept_opts[] = {
  { SOL_SOCKET, SO_REUSEADDR, SOCK_OPT_REUSEADDR },
  { SOL_SOCKET, SO_REUSEPORT, SOCK_OPT_REUSEPORT },
  { SOL_SOCKET, SO_KEEPALIVE, SOCK_OPT_KEEPALIVE },
  { SOL_SOCKET, SO_PASSCRED, SOCK_OPT_PASSCRED },
};

/* Names, state and options of a socket of any domain. */
static void save_names(struct fd_record *r) {
  socklen_t len = AGENT_SOCKADDR_MAX;
  r->sock_local_len = rsys3(SYS_getsockname, r->fd, r->sock_local, &len) < 0 ? 0 : len;
  len = AGENT_SOCKADDR_MAX;
  r->sock_remote_len = rsys3(SYS_getpeername, r->fd, r->sock_remote, &len) < 0 ? 0 : len;
  r->sock_protocol = int_opt(r->fd, SOL_SOCKET, SO_PROTOCOL);
  r->sock_listening = int_opt(r->fd, SOL_SOCKET, SO_ACCEPTCONN);
  r->sock_rcvbuf = int_opt(r->fd, SOL_SOCKET, SO_RCVBUF);
  r->sock_sndbuf = int_opt(r->fd, SOL_SOCKET, SO_SNDBUF);
  for (unsigned i = 0; i < sizeof kept_opts / sizeof kept_opts[0]; i++)
    if (int_opt(r->fd, kept_opts[i].level, kept_opts[i].name)) r->sock_opts |= kept_opts[i].bit;
  int ip = r->sock_domain == AF_INET || r->sock_domain == AF_INET6;
  if (ip && r->sock_domain == AF_INET6 && int_opt(r->fd, IPPROTO_IPV6, IPV6_V6ONLY)) r->sock_opts |= SOCK_OPT_V6ONLY;
  if (ip && r->sock_type == SOCK_STREAM) {
    struct tcp_info info;
    socklen_t ilen = sizeof info;
    if (rsys5(SYS_getsockopt, r->fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) == 0) {
      r->sock_tcp_state = info.tcpi_state;
      /* a listener's TCP_INFO tells its backlog where a connection's tells SACKed segments */
      if (r->sock_listening) r->sock_backlog = (int)info.tcpi_sacked;
    }
    if (int_opt(r->fd, IPPROTO_TCP, TCP_NODELAY)) r->sock_opts |= SOCK_OPT_NODELAY;
  }
}

static int tcp(const struct fd_record *r) {
  return r->kind == FD_SOCKET && (r->sock_domain == AF_INET || r->sock_domain == AF_INET6) && r->sock_type == SOCK_STREAM;
}

/* Bytes written but not sent yet (not acknowledged is fine: on one host,
 * sent bytes sit in the peer's receive queue, where its owner copies them). */
static int not_sent(int fd) {
  int n = 0;
  return rsys3(SYS_ioctl, fd, SIOCOUTQNSD, &n) == 0 ? n : 0;
}

static void set_int_opt(int fd, int level, int name, int v) { rsys5(SYS_setsockopt, fd, level, name, &v, sizeof v); }

/* Setting TCP_NODELAY sends what Nagle's algorithm holds back; lifting
 * TCP_CORK sends what the cork holds. Both go back as they were: what is
 * sent stays sent. A peer's full window is opened (tcp_window.c). What
 * still stays back (more than the widest buffer takes) is counted
 * (sock_unsent) and read in repair mode, or said lost at a restart. */
void sockets_push(void) {
  for (int i = 0; i < agent.nfds; i++)
    if (tcp(&agent.fds[i]) && !agent.fds[i].sock_listening) tcp_window_open(&agent.fds[i]);
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (!tcp(r) || r->sock_listening || !not_sent(r->fd)) continue;
    int cork = int_opt(r->fd, IPPROTO_TCP, TCP_CORK), nodelay = int_opt(r->fd, IPPROTO_TCP, TCP_NODELAY);
    if (cork) set_int_opt(r->fd, IPPROTO_TCP, TCP_CORK, 0);
    if (!nodelay) { set_int_opt(r->fd, IPPROTO_TCP, TCP_NODELAY, 1); set_int_opt(r->fd, IPPROTO_TCP, TCP_NODELAY, 0); }
    if (cork) set_int_opt(r->fd, IPPROTO_TCP, TCP_CORK, 1);
  }
}

void sockets_save_fd(struct fd_record *r) {
  r->sock_domain = r->sock_type = 0;
  r->sock_peer = 0;
  r->sock_unnamed = 0;
  r->sock_passcred = 0;
  r->sock_protocol = r->sock_listening = r->sock_tcp_state = 0;
  r->sock_backlog = -1;
  r->sock_shutdown = 0;
  r->sock_opts = r->sock_unsent = 0;
  r->sock_widened = 0;
  r->sock_unsent_data = 0;
  r->sock_local_len = r->sock_remote_len = 0;
  if (r->kind != FD_SOCKET) return;
  socklen_t len = sizeof r->sock_domain;
  rsys5(SYS_getsockopt, r->fd, SOL_SOCKET, SO_DOMAIN, &r->sock_domain, &len);
  len = sizeof r->sock_type;
  rsys5(SYS_getsockopt, r->fd, SOL_SOCKET, SO_TYPE, &r->sock_type, &len);
  save_names(r);
  if (r->sock_domain != AF_UNIX && r->sock_domain != AF_INET && r->sock_domain != AF_INET6)
    fd_say(r, "a socket of a family not carried (netlink, packet, ...); it comes back as /dev/null at a restart");
  if (r->sock_domain != AF_UNIX) return;
  len = sizeof r->sock_passcred;
  if (rsys5(SYS_getsockopt, r->fd, SOL_SOCKET, SO_PASSCRED, &r->sock_passcred, &len) < 0) r->sock_passcred = 0;
  r->sock_unnamed = unnamed(r->fd);
  unix_diag(r);
}

static int peeked_already(const struct fd_record *r) {
  for (const struct fd_record *o = agent.fds; o < r; o++)
    if (o->kind == FD_SOCKET && o->ino == r->ino && o->drained) return 1;
  return 0;
}

/* A connected stream socket: its receive queue is kept. */
static int peekable(const struct fd_record *r) {
  if (r->kind != FD_SOCKET || r->sock_type != SOCK_STREAM || r->sock_listening) return 0;
  if (r->sock_domain == AF_UNIX) return r->sock_unnamed || r->sock_remote_len > sizeof(sa_family_t) || r->sock_peer;
  return (r->sock_domain == AF_INET || r->sock_domain == AF_INET6) && r->sock_remote_len > 0;
}

/* Datagram and seqpacket sockets: their queue, record by record. */
static int record_socket(const struct fd_record *r) {
  return r->kind == FD_SOCKET && (r->sock_type == SOCK_DGRAM || r->sock_type == SOCK_SEQPACKET) && !r->sock_listening &&
         (r->sock_domain == AF_UNIX || r->sock_domain == AF_INET || r->sock_domain == AF_INET6);
}

#define RECORDS_MAX 4096

/* A peek offset (SO_PEEK_OFF) walks the queue without taking anything out:
 * each MSG_PEEK gives the next record and its sender. The copy is
 * [u32 count] then per record [u32 length][u32 name length][name][bytes]. */
static void peek_records(struct fd_record *r) {
  long mem = rsys6(SYS_mmap, 0, PEEK_MAX, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem < 0 && mem > -4096) return;
  char *b = (char *)mem, *at = b + 4;
  int off = 0;
  if (rsys5(SYS_setsockopt, r->fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) < 0) { rsys2(SYS_munmap, mem, PEEK_MAX); return; }
  uint32_t count = 0;
  for (; count < RECORDS_MAX; count++) {
    unsigned char name[AGENT_SOCKADDR_MAX];
    size_t room = (size_t)(b + PEEK_MAX - at);
    if (room < 8 + sizeof name + 1) break;
    struct iovec iov = { at + 8 + sizeof name, room - 8 - sizeof name };
    struct msghdr m = { .msg_name = name, .msg_namelen = sizeof name, .msg_iov = &iov, .msg_iovlen = 1 };
    long n = rsys3(SYS_recvmsg, r->fd, &m, MSG_PEEK | MSG_DONTWAIT);
    if (n == -EINTR) { count--; continue; }
    if (n <= 0) break;   /* the end (or an empty record, which a peek offset cannot pass) */
    uint32_t len = (uint32_t)n, nlen = m.msg_namelen > sizeof name ? (uint32_t)sizeof name : m.msg_namelen;
    memcpy(at, &len, 4);
    memcpy(at + 4, &nlen, 4);
    memmove(at + 8 + nlen, at + 8 + sizeof name, len);
    memcpy(at + 8, name, nlen);
    at += 8 + nlen + len;
  }
  off = -1;
  rsys5(SYS_setsockopt, r->fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
  r->drained = 1;
  if (!count) { rsys2(SYS_munmap, mem, PEEK_MAX); return; }
  memcpy(b, &count, 4);
  uint64_t used = (uint64_t)(at - b), keep = (used + PAGE - 1) & ~(PAGE - 1);
  if (keep < PEEK_MAX) rsys2(SYS_munmap, mem + (long)keep, PEEK_MAX - keep);
  r->saved_data = (uint64_t)mem;
  r->saved_len = used;
}

#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#define TCP_REPAIR_QUEUE 20
#endif
#define TCP_SEND_QUEUE_ID 2   /* TCP_SEND_QUEUE of linux/tcp.h */

/* Bytes a full receive window holds back in our send queue can only be read
 * in repair mode (CAP_NET_ADMIN, as CRIU does): the queue is peeked, nothing
 * leaves it, and the socket goes on as before. Its last sock_unsent bytes
 * are the ones the peer does not have yet. Without the privilege they stay
 * counted only, and a restart says they are lost. */
static void copy_unsent(struct fd_record *r) {
  r->sock_unsent_data = 0;
  if (!r->sock_unsent) return;
  int on = 1, off = 0, queue = TCP_SEND_QUEUE_ID, total = 0;
  if (rsys5(SYS_setsockopt, r->fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) < 0) return;
  rsys5(SYS_setsockopt, r->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue);
  rsys3(SYS_ioctl, r->fd, SIOCOUTQ, &total);
  long mem = total > 0 ? rsys6(SYS_mmap, 0, (uint64_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : -1;
  if (mem >= 0 || mem < -4096) {
    long n = rsys6(SYS_recvfrom, r->fd, mem, total, MSG_PEEK | MSG_DONTWAIT, 0, 0);
    if (n >= (long)r->sock_unsent) {
      memmove((void *)mem, (char *)mem + n - r->sock_unsent, r->sock_unsent);
      uint64_t keep = (r->sock_unsent + PAGE - 1) & ~(PAGE - 1), all = ((uint64_t)total + PAGE - 1) & ~(PAGE - 1);
      if (all > keep) rsys2(SYS_munmap, mem + (long)keep, all - keep);
      r->sock_unsent_data = (uint64_t)mem;
    } else {
      rsys2(SYS_munmap, mem, (uint64_t)total);
    }
  }
  rsys5(SYS_setsockopt, r->fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
}

void sockets_release_unsent(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->kind == FD_SOCKET && r->sock_unsent_data) rsys2(SYS_munmap, r->sock_unsent_data, r->sock_unsent);
    if (r->kind == FD_SOCKET) r->sock_unsent_data = 0;
  }
}

/* CHECKPOINT: what our TCP sockets still hold back, once every receiver has
 * copied its queue at DRAIN with its window opened (sockets_push): counted
 * earlier, bytes still on their way to a receiver would be counted here and
 * copied there too. */
void sockets_count_unsent(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (tcp(r) && !r->sock_listening) { r->sock_unsent = (uint32_t)not_sent(r->fd); copy_unsent(r); }
  }
}

static int stream_we_copy(const struct fd_record *r) {
  return peekable(r) && r->share == SHARE_OWNER && r->owner_virt == agent.virt_pid;
}

/* DRAIN, for the ends we own: copy (not take) what waits to be read. */
void sockets_peek(void) {
  tcp_windows_settle(stream_we_copy);   /* full windows opened at ELECT: all of it here first */
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (record_socket(r)) {
      if (r->share == SHARE_OWNER && r->owner_virt == agent.virt_pid && !peeked_already(r)) peek_records(r);
      continue;
    }
    if (!peekable(r)) continue;
    if (r->share != SHARE_OWNER || r->owner_virt != agent.virt_pid || peeked_already(r)) continue;
    r->drained = 1;
    /* the whole queue: as large as the widest buffer, beyond PEEK_MAX */
    int queued = sockets_queued_bytes(r->fd);
    uint64_t room = queued > (int)PEEK_MAX ? ((uint64_t)queued + PAGE - 1) & ~(PAGE - 1) : PEEK_MAX;
    long mem = rsys6(SYS_mmap, 0, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem < 0 && mem > -4096) continue;
    long n;
    do { n = rsys6(SYS_recvfrom, r->fd, mem, room, MSG_PEEK | MSG_DONTWAIT, 0, 0); } while (n == -EINTR);
    if (n <= 0) { rsys2(SYS_munmap, mem, room); continue; }
    uint64_t keep = ((uint64_t)n + PAGE - 1) & ~(PAGE - 1);
    if (keep < room) rsys2(SYS_munmap, mem + (long)keep, room - keep);
    r->saved_data = (uint64_t)mem;
    r->saved_len = (uint64_t)n;
  }
}

/* dmtcp_command -k: our TCP connections end with a reset instead of a FIN,
 * so that none waits in TIME_WAIT when the restart makes them again between
 * the same names. */
void sockets_reset_before_exit(void) {
  struct { int on, secs; } reset = { 1, 0 };
  int limit = AGENT_COORD_FD_MIN;
  for (int fd = 0; fd < limit; fd++) {
    int type = 0, domain = 0;
    socklen_t len = sizeof type;
    if (rsys5(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) continue;
    len = sizeof domain;
    rsys5(SYS_getsockopt, fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
    if (domain == AF_INET || domain == AF_INET6) rsys5(SYS_setsockopt, fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
}
