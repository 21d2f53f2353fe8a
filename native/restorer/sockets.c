/* Sockets at restart (docs/sockets.md), made by the root before it forks
 * anyone, like every shared fd (shared_fds.c), so each end goes to the
 * processes that held it.
 *
 *   socketpair  socketpair() again; what waited at each end sent from the other
 *   LISTEN      bound to its old name (a stale Unix socket file is removed) and
 *               listening
 *   PAIR        a connection with both ends in the computation, made between
 *               the same names: a listener of our own at end 1's name accepts
 *               end 0, bound to its old name and connecting, then closes. The
 *               program's own listeners come after every PAIR, so their names
 *               are free here. What waited at each end is sent from the other.
 *   PENDING     connected to a listener of ours that had not accepted it: into
 *               that listener's queue again (objects come after listeners,
 *               which listen with SOMAXCONN until every PENDING is in)
 *   DROPPED     its peer was outside the computation: connected to a listener
 *               of ours on loopback that resets it at once, so the program
 *               reads ECONNRESET (EOF for a Unix socket), as after a dropped
 *               network
 *   PLAIN       bound again if it had a name, a datagram socket connected again
 *
 * Every socket binds with SO_REUSEADDR (the killed computation's connections
 * may sit in TIME_WAIT); the program's own value is set once every socket is
 * made (sockets_finish). */
#include "sockets.h"
#include "util.h"

#define NR_socket 41
#define NR_connect 42
#define NR_sendto 44
#define NR_bind 49
#define NR_listen 50
#define NR_getsockname 51
#define NR_socketpair 53
#define NR_setsockopt 54
#define NR_getsockopt 55
#define NR_unlink 87
#define NR_accept4 288
#define NR_newfstatat 262
#define NR_dup3 292
#define NR_nanosleep 35
#define NR_recvfrom 45
#define EAGAIN 11
#define MSG_PEEK 0x2
#define WINDOW_WAIT_NS 200000L   /* after a window is announced, before sending again */
#define WINDOW_TRIES 500         /* announcements without progress before bytes are said lost */
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define CONNECT_TRIES 30          /* 3 s: TIME_WAIT reuse waits for the next second */
#define CONNECT_RETRY_NS 100000000L

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_CLOEXEC 02000000
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_PASSCRED 16
#define SO_SNDBUFFORCE 32
#define SO_RCVBUFFORCE 33
#define ROOM_SLACK 65536
#define IPPROTO_TCP 6
#define TCP_NODELAY 1
#define IPPROTO_IPV6 41
#define IPV6_V6ONLY 26
#define MSG_DONTWAIT 0x40
#define LISTEN_BACKLOG 4096   /* SOMAXCONN: the kernel caps it at net.core.somaxconn */
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define STAT_MODE_AT 24       /* st_mode in x86_64's struct stat */
#define STAT_SIZE 144

static void place(long fd, int slot) {
  if (fd < 0) r_fail("cannot make a socket of the tree; errno", 0, (uint64_t)-fd, 1);
  if (fd == slot) return;
  long r = sys3(NR_dup3, fd, slot, 0);
  sys1(NR_close, fd);
  if (r < 0) r_fail("cannot place a socket; errno", 0, (uint64_t)-r, 1);
}

/* A datagram or seqpacket end's copy: [u32 count] then per record [u32
 * length][u32 name length][name][bytes] (native/agent/fds/sockets.c). */
struct record { const char *name, *bytes; uint32_t name_len, len; };

/* The next record of a copy that ends at `end`; 0 at the end or a torn one. */
static int next_record(const char **at, const char *end, struct record *r) {
  if (*at + 8 > end) return 0;
  r_memcpy(&r->len, *at, 4);
  r_memcpy(&r->name_len, *at + 4, 4);
  r->name = *at + 8;
  r->bytes = r->name + r->name_len;
  if (r->bytes + r->len > end) return 0;
  *at = r->bytes + r->len;
  return 1;
}

static void send_record(int from, const struct record *r, const void *to, uint32_t to_len) {
  if (sys6(NR_sendto, from, r->bytes, r->len, MSG_DONTWAIT, to, to_len) < 0) r_say("a queued datagram could not be sent again; it is lost", 0, 0, 0);
}

/* Each record alone, from `from` (connected). */
static void resend_records(int from, const char *data, uint32_t len) {
  if (len < 4) return;
  uint32_t count;
  r_memcpy(&count, data, 4);
  const char *m = data + 4;
  struct record r;
  for (uint32_t i = 0; i < count && next_record(&m, data + len, &r); i++) send_record(from, &r, 0, 0);
}

/* A peek of one byte at the receiving end `to`: its kernel tells the sender
 * the window it has now (a new connection's grows only as bytes come). */
static void announce_window(int to) {
  char one;
  sys6(NR_recvfrom, to, &one, 1, MSG_PEEK | MSG_DONTWAIT, 0, 0);
  struct { long s, ns; } nap = { 0, WINDOW_WAIT_NS };
  sys2(NR_nanosleep, &nap, 0);
}

/* The bytes that waited at an end `to`, sent again from its peer `from`:
 * before any process runs, so they come first. Never blocking: when the
 * sender's buffer is full, `to` announces its window (if it is a socket of
 * ours, else -1) and the rest goes as it opens; what still does not fit is
 * said and dropped. Returns what follows them. */
static const char *resend_typed(int from, int to, const char *blob, int type) {
  uint32_t len;
  r_memcpy(&len, blob, 4);
  if (type != SOCK_STREAM) { resend_records(from, blob + 4, len); return blob + 4 + len; }
  const char *data = blob + 4;
  uint32_t done = 0;
  while (done < len) {
    long n = sys6(NR_sendto, from, data + done, len - done, MSG_DONTWAIT, 0, 0);
    for (int tries = 0; n == -EAGAIN && to >= 0 && tries < WINDOW_TRIES; tries++) {
      announce_window(to);
      n = sys6(NR_sendto, from, data + done, len - done, MSG_DONTWAIT, 0, 0);
    }
    if (n <= 0) { r_say("a socket took back less than it held; bytes lost:", 0, len - done, 1); break; }
    done += (uint32_t)n;
  }
  return data + len;
}


static void set_int(long fd, int level, int name, int v) { sys5(NR_setsockopt, fd, level, name, &v, sizeof v); }
/* A buffer of `size`: forced when privileged, else as much as
 * net.core.[rw]mem_max lets anyone have. */
static void make_room(long fd, int forced, int plain, int size) {
  if (sys5(NR_setsockopt, fd, SOL_SOCKET, forced, &size, sizeof size) < 0) set_int(fd, SOL_SOCKET, plain, size);
}
static int get_int(long fd, int level, int name) {
  int v = 0;
  uint32_t len = sizeof v;
  return sys5(NR_getsockopt, fd, level, name, &v, &len) < 0 ? 0 : v;
}

/* A Unix socket's sender holds what it sent until it is read: the kernel
 * charges those bytes to the sender's buffer. The killed sender may have had
 * more in flight than a new socket's default buffer takes (sent in fewer,
 * larger pieces), so the sender's buffer is widened while they go again
 * (SO_SNDBUFFORCE when privileged, else up to net.core.wmem_max), then set
 * back to the default. */
static const char *resend_widened(int from, const char *blob, int type) {
  uint32_t len;
  r_memcpy(&len, blob, 4);
  int before = get_int(from, SOL_SOCKET, SO_SNDBUF);   /* the kernel reports twice what was asked */
  if (len) {
    int want = (int)len + ROOM_SLACK;
    if (sys5(NR_setsockopt, from, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0) set_int(from, SOL_SOCKET, SO_SNDBUF, want);
  }
  const char *next = resend_typed(from, -1, blob, type);
  if (len && before > 0) set_int(from, SOL_SOCKET, SO_SNDBUF, before / 2);
  return next;
}

void sockets_make_pair(const struct tree_object *o, const char *blob, int end0, int end1) {
  int sv[2];
  long r = sys4(NR_socketpair, AF_UNIX, o->pipe_size, 0, sv);
  if (r < 0) r_fail("cannot make a socketpair of the tree; errno", 0, (uint64_t)-r, 1);
  place(sv[0], end0);
  place(sv[1], end1);
  int on = 1;
  for (int end = 0; end < 2; end++)
    if (o->sock_opts & (TREE_SOCK_PASSCRED << end)) sys5(NR_setsockopt, end ? end1 : end0, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  if (blob) {
    blob = resend_widened(end1, blob, o->pipe_size);   /* what waited at end 0 */
    resend_widened(end0, blob, o->pipe_size);          /* what waited at end 1 */
  }
}

static int ip(const struct tree_socket *t) { return t->domain == AF_INET || t->domain == AF_INET6; }

/* A name worth binding: a Unix path or abstract name, or an IP address with a port. */
static int has_name(const struct tree_socket *t, const struct tree_sock_end *e) {
  if (e->addr_len <= 2) return 0;
  if (ip(t)) return e->addr[2] || e->addr[3];   /* the port, in network order */
  return 1;
}

/* A Unix socket file left by the killed computation holds the name: remove
 * it (only if it is a socket). */
static void unlink_stale(const struct tree_socket *t, const struct tree_sock_end *e) {
  if (t->domain != AF_UNIX || e->addr_len <= 2 || !e->addr[2]) return;
  char path[TREE_SOCKADDR_MAX];
  uint32_t n = e->addr_len - 2 < sizeof path - 1 ? e->addr_len - 2 : sizeof path - 1;
  r_memcpy(path, e->addr + 2, n);
  path[n] = 0;
  char st[STAT_SIZE];
  uint32_t mode;
  if (sys4(NR_newfstatat, AT_FDCWD, path, st, 0) < 0) return;
  r_memcpy(&mode, st + STAT_MODE_AT, 4);
  if ((mode & S_IFMT) == S_IFSOCK) sys1(NR_unlink, path);
}

static long new_socket(const struct tree_socket *t, const struct tree_sock_end *e) {
  long fd = sys3(NR_socket, t->domain, t->type | SOCK_CLOEXEC, t->protocol);
  if (fd < 0) return fd;
  set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (e->opts & SOCK_OPT_REUSEPORT) set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  if (t->domain == AF_INET6) set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !!(e->opts & SOCK_OPT_V6ONLY));
  return fd;
}

/* The program's options, once bound and connected. A TCP buffer larger than
 * a new socket's may be the kernel's own tuning: left to the kernel. */
/* SO_REUSEADDR comes last (sockets_finish): a connection made at a listener's
 * port keeps ours until that listener is bound, else the bind conflicts. */
static void set_options(long fd, const struct tree_socket *t, const struct tree_sock_end *e) {
  if (e->opts & SOCK_OPT_KEEPALIVE) set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  if (e->opts & SOCK_OPT_PASSCRED) set_int(fd, SOL_SOCKET, SO_PASSCRED, 1);
  if ((e->opts & SOCK_OPT_NODELAY) && ip(t) && t->type == SOCK_STREAM) set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  int tcp = ip(t) && t->type == SOCK_STREAM;
  const int names[2] = { SO_RCVBUF, SO_SNDBUF }, wanted[2] = { e->rcvbuf, e->sndbuf };
  for (int i = 0; i < 2; i++) {
    int now = get_int(fd, SOL_SOCKET, names[i]);
    if (wanted[i] > 0 && 2 * wanted[i] != now && (!tcp || 2 * wanted[i] < now)) set_int(fd, SOL_SOCKET, names[i], wanted[i]);
  }
}

static long bind_to(long fd, const struct tree_sock_end *e) { return sys3(NR_bind, fd, e->addr, e->addr_len); }

static void make_listener(const struct tree_socket *t, int slot) {
  const struct tree_sock_end *e = &t->end[0];
  long fd = new_socket(t, e);
  if (fd < 0) r_fail("cannot make a listening socket; errno", 0, (uint64_t)-fd, 1);
  unlink_stale(t, e);
  long r = bind_to(fd, e);
  if (r < 0) r_say("a listening socket cannot have its old name again (it listens elsewhere); errno", 0, (uint64_t)-r, 1);
  sys2(NR_listen, fd, LISTEN_BACKLOG);
  set_options(fd, t, e);
  place(fd, slot);
}

/* A connected socket whose peer has gone at once: see DROPPED above. */
static long dropped_socket(const struct tree_socket *t) {
  struct tree_sock_end any;
  r_memset(&any, 0, sizeof any);
  uint16_t family = (uint16_t)t->domain;
  r_memcpy(any.addr, &family, 2);
  any.addr_len = 2;   /* Unix: an abstract name the kernel picks */
  if (t->domain == AF_INET) { any.addr_len = 16; any.addr[4] = 127; any.addr[7] = 1; }
  if (t->domain == AF_INET6) { any.addr_len = 28; any.addr[23] = 1; }
  long l = new_socket(t, &any), c = new_socket(t, &any);
  if (l < 0 || c < 0) return l < 0 ? l : c;
  uint8_t name[TREE_SOCKADDR_MAX];
  uint32_t len = sizeof name;
  if (bind_to(l, &any) == 0 && sys2(NR_listen, l, 1) == 0 && sys3(NR_getsockname, l, name, &len) == 0 &&
      sys3(NR_connect, c, name, len) == 0) {
    long a = sys4(NR_accept4, l, 0, 0, SOCK_CLOEXEC);
    if (a >= 0) {
      struct { int on, secs; } reset = { 1, 0 };   /* linger 0: close sends RST */
      if (ip(t)) sys5(NR_setsockopt, a, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      sys1(NR_close, a);
    }
  }
  sys1(NR_close, l);
  return c;
}

/* 0, or the errno of the step that failed (the ends are left unmade). */
/* Which step of make_connection failed, for the one line the restart says. */
enum connection_step { STEP_HELPER_LISTENER, STEP_CLIENT, STEP_CONNECT, STEP_ACCEPT };

static long make_connection(const struct tree_socket *t, const char *waiting, int slot0, int slot1, enum connection_step *step) {
  const struct tree_sock_end *e0 = &t->end[0], *e1 = &t->end[1];
  *step = STEP_HELPER_LISTENER;
  long l = new_socket(t, e1), c = -1, a = -1, r;
  if (l < 0) return l;
  unlink_stale(t, e1);
  r = bind_to(l, e1);
  if (r == -EADDRINUSE && ip(t)) {
    /* End 1's port is taken: the program's listener there may be made
     * already (another process of the tree restores it), or a connection it
     * closed first waits in TIME_WAIT there. The helper listens at a port the
     * kernel picks: the connection is the same, only end 1's port differs. */
    struct tree_sock_end any = *e1;
    any.addr[2] = any.addr[3] = 0;
    r = bind_to(l, &any);
  }
  if (r < 0 || (r = sys2(NR_listen, l, 1)) < 0) goto out;
  *step = STEP_CLIENT;
  c = new_socket(t, e0);
  if (c < 0) { r = c; goto out; }
  /* A connection of an earlier run may still hold end 0's port (TIME_WAIT
   * after a crash): then the kernel picks end 0's port; the connection is
   * the same to both ends, only end 0's port number differs. */
  if (has_name(t, e0) && (r = bind_to(c, e0)) < 0 && r != -EADDRINUSE) goto out;
  /* The same connection of the killed computation may be in TIME_WAIT; the
   * kernel lets a loopback connection take its place once a second has passed
   * since its last segment (net.ipv4.tcp_tw_reuse). */
  *step = STEP_CONNECT;
  uint8_t helper_addr[TREE_SOCKADDR_MAX];
  uint32_t helper_len = sizeof helper_addr;
  if (sys3(NR_getsockname, l, helper_addr, &helper_len) < 0) { r_memcpy(helper_addr, e1->addr, e1->addr_len); helper_len = e1->addr_len; }
  for (int i = 0; (r = sys3(NR_connect, c, helper_addr, helper_len)) == -EADDRNOTAVAIL || r == -EADDRINUSE; i++) {
    if (i == CONNECT_TRIES) break;
    struct { long s, ns; } nap = { 0, CONNECT_RETRY_NS };
    sys2(NR_nanosleep, &nap, 0);
  }
  if (r < 0) goto out;
  *step = STEP_ACCEPT;
  a = sys4(NR_accept4, l, 0, 0, SOCK_CLOEXEC);
  if (a < 0) { r = a; goto out; }
  set_options(c, t, e0);
  set_options(a, t, e1);
  place(c, slot0);
  place(a, slot1);
  c = a = -1;
  /* Room for what was in flight: the new sockets start with small buffers.
   * The sender's buffer is widened while the bytes go (forced when
   * privileged, else up to net.core.wmem_max), then set back: what the
   * receiver's window does not take waits in the sender's queue, as it did
   * before the checkpoint, and goes as the program reads. Widening the
   * receiver instead would leave a queue no later checkpoint could widen
   * further, and the bytes the sender then adds would be held back for good. */
  int snd0 = get_int(slot0, SOL_SOCKET, SO_SNDBUF), snd1 = get_int(slot1, SOL_SOCKET, SO_SNDBUF);
  uint32_t len0, len1;
  r_memcpy(&len0, waiting, 4);
  r_memcpy(&len1, waiting + 4 + len0, 4);
  if (len0) make_room(slot1, SO_SNDBUFFORCE, SO_SNDBUF, (int)len0 + ROOM_SLACK);
  if (len1) make_room(slot0, SO_SNDBUFFORCE, SO_SNDBUF, (int)len1 + ROOM_SLACK);
  waiting = resend_typed(slot1, slot0, waiting, t->type);   /* what waited at end 0 */
  resend_typed(slot0, slot1, waiting, t->type);             /* what waited at end 1 */
  if (len0) set_int(slot1, SOL_SOCKET, SO_SNDBUF, snd1 / 2);   /* the kernel doubles what is asked */
  if (len1) set_int(slot0, SOL_SOCKET, SO_SNDBUF, snd0 / 2);
  r = 0;
out:
  sys1(NR_close, l);
  if (c >= 0) sys1(NR_close, c);
  if (a >= 0) sys1(NR_close, a);
  return r;
}

void sockets_make(const struct tree_object *o, const char *blob, int slot0, int slot1) {
  (void)o;
  struct tree_socket t;
  r_memcpy(&t, blob, sizeof t);   /* the blob has no alignment */
  const char *waiting = blob + sizeof t;
  switch (t.mode) {
    case TREE_SOCKET_LISTEN:
      make_listener(&t, slot0);
      return;
    case TREE_SOCKET_PAIR: {
      enum connection_step step;
      long r = make_connection(&t, waiting, slot0, slot1, &step);
      if (r == 0) return;
      if (step == STEP_HELPER_LISTENER)
        r_say("a connection inside the computation cannot be made again: no listener at its server end's name; both ends come back reset; errno", 0, (uint64_t)-r, 1);
      else if (step == STEP_CONNECT)
        r_say("a connection inside the computation cannot be made again: its client end cannot connect (after retries); both ends come back reset; errno", 0, (uint64_t)-r, 1);
      else
        r_say("a connection inside the computation cannot be made again between its old names; both ends come back reset; errno", 0, (uint64_t)-r, 1);
      place(dropped_socket(&t), slot0);
      place(dropped_socket(&t), slot1);
      return;
    }
    case TREE_SOCKET_PENDING: {
      const struct tree_sock_end *e = &t.end[0];
      long fd = new_socket(&t, e), r = fd;
      if (fd >= 0) {
        if (has_name(&t, e)) bind_to(fd, e);   /* a port still held: the kernel picks one */
        r = sys3(NR_connect, fd, e->peer, e->peer_len);
      }
      if (r < 0) {
        r_say("a connection not accepted yet cannot be made again; it comes back reset; errno", 0, (uint64_t)-r, 1);
        if (fd >= 0) sys1(NR_close, fd);
        fd = dropped_socket(&t);
      } else {
        set_options(fd, &t, e);
      }
      place(fd, slot0);
      return;
    }
    case TREE_SOCKET_DROPPED:
      place(dropped_socket(&t), slot0);
      return;
    case TREE_SOCKET_PLAIN: {
      const struct tree_sock_end *e = &t.end[0];
      long fd = new_socket(&t, e);
      if (fd < 0) r_fail("cannot make a socket; errno", 0, (uint64_t)-fd, 1);
      if (has_name(&t, e)) {
        unlink_stale(&t, e);
        long r = bind_to(fd, e);
        if (r < 0) r_say("a socket cannot have its old name again; errno", 0, (uint64_t)-r, 1);
      }
      if (e->peer_len > 2 && t.type == SOCK_DGRAM) sys3(NR_connect, fd, e->peer, e->peer_len);
      set_options(fd, &t, e);
      place(fd, slot0);
      return;
    }
    default:
      r_fail("unknown socket mode in the restart tree", 0, t.mode, 1);
  }
}

/* The socket of the tree whose name is `name`, as its slot; -1 if none. */
static int sender_slot(const struct tree_header *h, const struct tree_object *objs, const void *name, uint32_t nlen) {
  const char *strings = (const char *)h + h->strings_offset;
  for (uint32_t k = 0; k < h->nobjects; k++) {
    if (objs[k].kind != TREE_OBJ_SOCKET) continue;
    struct tree_socket t;
    r_memcpy(&t, strings + objs[k].path_offset, sizeof t);
    for (int end = 0; end < 2; end++) {
      const struct tree_sock_end *e = &t.end[end];
      if (e->addr_len == nlen && nlen > 2) {
        int same = 1;
        for (uint32_t i = 0; i < nlen && same; i++) same = e->addr[i] == ((const uint8_t *)name)[i];
        if (same) return h->slot_base + 2 * (int)k + end;
      }
    }
  }
  return -1;
}

void sockets_refill_datagrams(const struct tree_header *h, const struct tree_object *objs) {
  const char *strings = (const char *)h + h->strings_offset;
  for (uint32_t k = 0; k < h->nobjects; k++) {
    if (objs[k].kind != TREE_OBJ_SOCKET) continue;
    const char *blob = strings + objs[k].path_offset;
    struct tree_socket t;
    r_memcpy(&t, blob, sizeof t);
    if (t.mode != TREE_SOCKET_PLAIN || t.type == SOCK_STREAM) continue;
    const char *q = blob + sizeof t;
    uint32_t len, count;
    r_memcpy(&len, q, 4);
    if (len < 4) continue;
    r_memcpy(&count, q + 4, 4);
    const char *m = q + 8;
    struct record rec;
    for (uint32_t i = 0; i < count && next_record(&m, q + 4 + len, &rec); i++) {
      /* from its sender when the sender is ours too, so that the receiver sees the same name */
      int from = sender_slot(h, objs, rec.name, rec.name_len), own = -1;
      if (from < 0) from = own = (int)sys3(NR_socket, t.domain, t.type | SOCK_CLOEXEC, t.protocol);
      if (from >= 0) send_record(from, &rec, t.end[0].addr, t.end[0].addr_len);
      if (own >= 0) sys1(NR_close, own);
    }
  }
}

void sockets_finish(const struct tree_header *h, const struct tree_object *objs) {
  const char *strings = (const char *)h + h->strings_offset;
  for (uint32_t k = 0; k < h->nobjects; k++) {
    if (objs[k].kind != TREE_OBJ_SOCKET) continue;
    struct tree_socket t;
    r_memcpy(&t, strings + objs[k].path_offset, sizeof t);
    int slot = h->slot_base + 2 * (int)k;
    /* listen() again on a listener only sets its backlog */
    if (t.mode == TREE_SOCKET_LISTEN && t.end[0].backlog >= 0) sys2(NR_listen, slot, t.end[0].backlog);
    for (int end = 0; end < (t.mode == TREE_SOCKET_PAIR ? 2 : 1); end++)
      set_int(slot + end, SOL_SOCKET, SO_REUSEADDR, !!(t.end[end].opts & SOCK_OPT_REUSEADDR));
  }
}
