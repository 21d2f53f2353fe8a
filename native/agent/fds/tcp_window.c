/* Full TCP windows at a checkpoint, without privilege.
 *
 * Bytes waiting in a receive queue may have shut its window: the peer's
 * kernel then holds what follows in its send queue, which only repair mode
 * (TCP_REPAIR, CAP_NET_ADMIN) can read. Every process of the computation is
 * stopped at ELECT: each receiver with bytes waiting widens its buffer (up to
 * net.core.rmem_max without the privilege) and peeks a byte, which makes the
 * kernel announce the wider window; the peer's kernel then sends what it held
 * (on one host, megabytes within a millisecond, or longer on a loaded machine).
 * At DRAIN the owner of the receiving end waits until the peer has nothing
 * left unsent, or until nothing more comes (the widest buffer is full), and
 * only then copies its queue (sockets.c): a copy taken while bytes were still
 * on their way would miss them, and the peer, counting what it holds back
 * only at CHECKPOINT, would not have them either. The peer's count comes from
 * the kernel's socket table (sock_diag, tcp_info's notsent bytes), which
 * anyone may read. After the checkpoint the buffer goes back to its size
 * (fixed there: the kernel no longer tunes it by itself). */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define WIDE_RCVBUF (64 << 20)   /* asked for; the kernel gives at most net.core.rmem_max without CAP_NET_ADMIN */
#define LOOK_NS 1000000L         /* DRAIN: between two looks at a widened queue */
#define LOOKS_MAX 300            /* ...at most this many (a loaded machine may pause the sending kernel) */
#define STILL_LOOKS 20           /* ...and a full queue that grew in none of this many is as full as it gets */
#define NOT_FOUND -1

int sockets_queued_bytes(int fd) {
  int n = 0;
  return rsys3(SYS_ioctl, fd, SIOCINQ, &n) == 0 ? n : 0;
}

/* A peek of one byte: the kernel then tells the peer the window it has now. */
static void announce_window(int fd) {
  char one;
  rsys6(SYS_recvfrom, fd, &one, 1, MSG_PEEK | MSG_DONTWAIT, 0, 0);
}

/* ::ffff:a.b.c.d: an IPv4 peer seen from an IPv6 socket */
static int v4_mapped(const unsigned char *a16) {
  static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  return !memcmp(a16, prefix, sizeof prefix);
}

/* The request for the peer's socket: its name is our peer's, its peer ours. */
static int peer_request(const struct fd_record *r, int family, struct inet_diag_req_v2 *q) {
  memset(q, 0, sizeof *q);
  q->sdiag_family = (uint8_t)family;
  q->sdiag_protocol = IPPROTO_TCP;
  q->idiag_states = ~0U;
  q->idiag_ext = 1 << (INET_DIAG_INFO - 1);
  q->id.idiag_cookie[0] = q->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)r->sock_local, *p6 = (const struct sockaddr_in6 *)r->sock_remote;
  const struct sockaddr_in *l4 = (const struct sockaddr_in *)r->sock_local, *p4 = (const struct sockaddr_in *)r->sock_remote;
  q->id.idiag_sport = p4->sin_port;   /* at the same place in both families */
  q->id.idiag_dport = l4->sin_port;
  if (r->sock_domain == AF_INET) {
    if (family != AF_INET) return -1;
    q->id.idiag_src[0] = p4->sin_addr.s_addr;
    q->id.idiag_dst[0] = l4->sin_addr.s_addr;
  } else if (family == AF_INET6) {
    memcpy(q->id.idiag_src, &p6->sin6_addr, 16);
    memcpy(q->id.idiag_dst, &l6->sin6_addr, 16);
  } else {
    if (!v4_mapped(p6->sin6_addr.s6_addr) || !v4_mapped(l6->sin6_addr.s6_addr)) return -1;
    memcpy(&q->id.idiag_src[0], p6->sin6_addr.s6_addr + 12, 4);
    memcpy(&q->id.idiag_dst[0], l6->sin6_addr.s6_addr + 12, 4);
  }
  return 0;
}

struct peer_state { long notsent, unacked; };   /* write_seq - snd_nxt, write_seq - snd_una */

static long ask_family(int nl, const struct fd_record *r, int family, struct peer_state *st) {
  struct { struct nlmsghdr nlh; struct inet_diag_req_v2 req; } msg;
  if (peer_request(r, family, &msg.req) < 0) return NOT_FOUND;
  msg.nlh = (struct nlmsghdr){ .nlmsg_len = sizeof msg, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST };
  struct sockaddr_nl to = { .nl_family = AF_NETLINK };
  if (rsys6(SYS_sendto, nl, &msg, sizeof msg, 0, &to, sizeof to) != (long)sizeof msg) return NOT_FOUND;
  char buf[2048];
  long n = rsys6(SYS_recvfrom, nl, buf, sizeof buf, 0, 0, 0);
  const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
  if (n < (long)sizeof *h || h->nlmsg_type != SOCK_DIAG_BY_FAMILY || (long)h->nlmsg_len > n) return NOT_FOUND;
  const struct inet_diag_msg *m = NLMSG_DATA(h);
  st->unacked = m->idiag_wqueue;
  const struct rtattr *a = (const struct rtattr *)(m + 1);
  long left = (long)h->nlmsg_len - (long)NLMSG_LENGTH(sizeof *m);
  for (; left >= (long)sizeof *a && a->rta_len >= sizeof *a && a->rta_len <= left;
       left -= (long)RTA_ALIGN(a->rta_len), a = (const struct rtattr *)((const char *)a + RTA_ALIGN(a->rta_len))) {
    if (a->rta_type != INET_DIAG_INFO) continue;
    struct tcp_info info;
    memset(&info, 0, sizeof info);
    size_t len = a->rta_len - RTA_LENGTH(0) < sizeof info ? a->rta_len - RTA_LENGTH(0) : sizeof info;
    memcpy(&info, RTA_DATA(a), len);
    if (len < offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof info.tcpi_notsent_bytes) return NOT_FOUND;
    st->notsent = info.tcpi_notsent_bytes;
    return 0;
  }
  return NOT_FOUND;
}

/* What the peer's socket holds back and has not had acknowledged; 0, or
 * NOT_FOUND (a peer on another host, a kernel that says nothing). */
static long peer_state(const struct fd_record *r, struct peer_state *st) {
  if (r->sock_remote_len < sizeof(struct sockaddr_in) || r->sock_local_len < sizeof(struct sockaddr_in)) return NOT_FOUND;
  int nl = (int)rsys3(SYS_socket, AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return NOT_FOUND;
  long found = ask_family(nl, r, r->sock_domain, st);
  if (found == NOT_FOUND && r->sock_domain == AF_INET6) found = ask_family(nl, r, AF_INET, st);
  rsys1(SYS_close, nl);
  return found;
}

void tcp_window_open(struct fd_record *r) {
  if (sockets_queued_bytes(r->fd) <= 0) return;
  int want = WIDE_RCVBUF;
  if (rsys5(SYS_setsockopt, r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
    rsys5(SYS_setsockopt, r->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  announce_window(r->fd);
  r->sock_widened = 1;
}

/* One look at a widened queue; 1 once it is complete. */
static int settled(const struct fd_record *r, int *last, int *still) {
  announce_window(r->fd);
  int now = sockets_queued_bytes(r->fd);
  struct peer_state st = { -1, -1 };
  long found = peer_state(r, &st);
  *still = now == *last ? *still + 1 : 0;
  int same = now == *last;
  *last = now;
  if (found != NOT_FOUND && st.unacked == 0) return 1;          /* all sent, acknowledged: all of it here */
  if (found != NOT_FOUND && st.notsent == 0 && same) return 1;  /* all sent, and nothing more came */
  if (found == NOT_FOUND && *still >= 2) return 1;              /* no word from the peer: until it stops growing */
  return *still >= STILL_LOOKS;                                 /* the widest buffer is full */
}

/* DRAIN, before the copies: every widened queue we own, looked at together
 * (one nap per round for all of them, none when all are complete at once). */
void tcp_windows_settle(int (*ours)(const struct fd_record *r)) {
  static int last[AGENT_MAX_FDS], still[AGENT_MAX_FDS];
  static unsigned char done[AGENT_MAX_FDS];
  for (int i = 0; i < agent.nfds; i++) { last[i] = -1; still[i] = 0; done[i] = !agent.fds[i].sock_widened || !ours(&agent.fds[i]); }
  for (int look = 0; look < LOOKS_MAX; look++) {
    int pending = 0;
    for (int i = 0; i < agent.nfds; i++)
      if (!done[i] && !(done[i] = (unsigned char)settled(&agent.fds[i], &last[i], &still[i]))) pending++;
    if (!pending) return;
    struct timespec nap = { 0, LOOK_NS };
    rsys2(SYS_nanosleep, &nap, 0);
  }
}

void tcp_windows_narrow(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->kind != FD_SOCKET || !r->sock_widened) continue;
    int was = r->sock_rcvbuf / 2;   /* the kernel doubles what is asked */
    rsys5(SYS_setsockopt, r->fd, SOL_SOCKET, SO_RCVBUF, &was, sizeof was);
    r->sock_widened = 0;
  }
}
