/* The agent's side of the coordinator protocol (docs/protocol.md): one line per
 * message, `VERB key=value ...`, values percent-encoded. The socket sits at a high
 * descriptor number so the program's own fds keep the numbers it expects. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"



static char inbuf[AGENT_LINE_MAX];
static size_t in_used;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Append `value` percent-encoded; returns the new end. */
static char *put_encoded(char *dst, char *limit, const char *value) {
  for (; *value && dst + 3 < limit; value++) {
    unsigned char c = (unsigned char)*value;
    if (c == '%' || c == ' ' || c == '=' || c == '\n' || c == '\r') {
      *dst++ = '%';
      *dst++ = "0123456789ABCDEF"[c >> 4];
      *dst++ = "0123456789ABCDEF"[c & 15];
    } else {
      *dst++ = (char)c;
    }
  }
  *dst = 0;
  return dst;
}

const char *coord_field(const char *line, const char *key, char *out, size_t size) {
  size_t klen = strlen(key);
  for (const char *p = strchr(line, ' '); p; p = strchr(p + 1, ' ')) {
    if (strncmp(p + 1, key, klen) || p[1 + klen] != '=') continue;
    const char *v = p + 2 + klen;
    size_t n = 0;
    while (*v && *v != ' ' && n + 1 < size) {
      int hi, lo;
      if (*v == '%' && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
        out[n++] = (char)(hi * 16 + lo);
        v += 3;
      } else {
        out[n++] = *v++;
      }
    }
    out[n] = 0;
    return out;
  }
  return 0;
}

int coord_send(const char *line) {
  if (agent.config.no_coordinator) return solo_answer(line);
  size_t n = strlen(line);
  char buf[4096];
  if (n + 2 > sizeof buf) return -EINVAL;
  memcpy(buf, line, n);
  buf[n++] = '\n';
  return agent_write_all(agent.coord_fd, buf, n) < 0 ? -EIO : 0;
}

/* Whether a whole line is read already (coord_read_line returns it at once). */
int coord_line_buffered(void) {
  return agent.config.no_coordinator || memchr(inbuf, '\n', in_used) != 0;
}

/* Reads one line (without its newline) into buf; returns its length, or -1 at EOF. */
int coord_read_line(char *buf, size_t size) {
  if (agent.config.no_coordinator) return solo_read_line(buf, size);
  for (;;) {
    char *nl = memchr(inbuf, '\n', in_used);
    if (nl) {
      size_t len = (size_t)(nl - inbuf);
      size_t copy = len < size - 1 ? len : size - 1;
      memcpy(buf, inbuf, copy);
      buf[copy] = 0;
      memmove(inbuf, nl + 1, in_used - len - 1);
      in_used -= len + 1;
      return (int)copy;
    }
    if (in_used == sizeof inbuf) in_used = 0;   /* an over-long line: drop it */
    long n = rsys3(SYS_read, agent.coord_fd, inbuf + in_used, sizeof inbuf - in_used);
    if (n == -EINTR) continue;
    if (n <= 0) return -1;
    in_used += (size_t)n;
  }
}

/* A coordinator on this host also listens on an abstract Unix socket named
 * after its TCP port (src/coordinator/server.ts localSocketName): connecting
 * there and each message after cost a fraction of loopback TCP's (no
 * handshake, no IP stack), which a fork pays on its way. */
#define LOCAL_NAME_PREFIX "dmtcp-coordinator-"
static int is_loopback(void) {
  if (agent.coord_addr.ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)&agent.coord_addr)->sin_addr.s_addr) >> 24) == 127;
  if (agent.coord_addr.ss_family == AF_INET6) {
    static const struct in6_addr any = IN6ADDR_LOOPBACK_INIT;
    return !memcmp(&((const struct sockaddr_in6 *)&agent.coord_addr)->sin6_addr, &any, sizeof any);
  }
  return 0;
}

static int coord_port(void) {
  const struct sockaddr_in *v4 = (const struct sockaddr_in *)&agent.coord_addr;   /* same offset in sockaddr_in6 */
  return ntohs(v4->sin_port);
}

static int connect_local(void) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  char *e = a.sun_path + 1;   /* sun_path[0] = 0: the abstract namespace */
  e += agent_strlcpy(e, LOCAL_NAME_PREFIX, sizeof a.sun_path - 1);
  agent_fmt_u64(e, (uint64_t)coord_port(), 10);
  /* Node binds an abstract name with the whole sun_path, NUL-padded, and
   * the kernel compares abstract names with their lengths. */
  socklen_t len = sizeof a;
  int s = (int)rsys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  long r;
  do { r = rsys3(SYS_connect, s, &a, len); } while (r == -EINTR);
  if (r < 0) { rsys1(SYS_close, s); return (int)r; }
  return s;
}

/* Whether our link goes through the abstract socket: the coordinator runs on
 * this host and can see our children in /proc (lazy_join.c). Inherited by a
 * forked child. */
static int link_local;
int coord_link_is_local(void) { return link_local; }

static int connect_socket(void) {
  int s = is_loopback() ? connect_local() : -1;
  link_local = s >= 0;
  if (s < 0) {
    s = (int)rsys3(SYS_socket, agent.coord_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return s;
    long r;
    do { r = rsys3(SYS_connect, s, &agent.coord_addr, agent.coord_addr_len); } while (r == -EINTR);
    if (r < 0) { rsys1(SYS_close, s); return (int)r; }
    int one = 1;
    rsys5(SYS_setsockopt, s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
  }
  /* Keep the number the socket had before a restart, or take one above the program's. */
  if (agent.coord_fd >= AGENT_COORD_FD_MIN) {
    rsys3(SYS_dup3, s, agent.coord_fd, O_CLOEXEC);
    rsys1(SYS_close, s);
    return agent.coord_fd;
  }
  int high = (int)rsys3(SYS_fcntl, s, F_DUPFD_CLOEXEC, AGENT_COORD_FD_MIN);
  rsys1(SYS_close, s);
  return high;
}

/* Adopts the id a WELCOME line gives; 0, or -1 if the line is no WELCOME. */
int coord_take_welcome(const char *line) {
  char value[256];
  if (strncmp(line, "WELCOME", 7)) return -1;
  if (coord_field(line, "id", value, sizeof value)) agent_strlcpy(agent.unique_id, value, sizeof agent.unique_id);
  return 0;
}

int coord_connect_and_hello(int restart) { return coord_connect_and_send_hello(restart, 1); }

/* An id in the coordinator's shape (src/coordinator/uniqueid.ts): FNV-1a of
 * the host name, the pid, the time in seconds, all hex but the pid. */
#define FNV_OFFSET 0x811c9dc5u
#define FNV_PRIME 0x01000193u
static void propose_unique_id(void) {
  uint32_t h = FNV_OFFSET;
  for (const unsigned char *c = (const unsigned char *)agent.hostname; *c; c++) h = (h ^ *c) * FNV_PRIME;
  struct timespec now;
  rsys2(SYS_clock_gettime, CLOCK_REALTIME, &now);
  char *e = agent.unique_id, *lim = agent.unique_id + sizeof agent.unique_id;
  char hex[24];
  agent_fmt_u64(hex, h, 16);
  for (size_t pad = strlen(hex); pad < 8; pad++) *e++ = '0';
  e += agent_strlcpy(e, hex, (size_t)(lim - e));
  *e++ = '-';
  e = agent_fmt_u64(e, (uint64_t)agent.virt_pid, 10);
  *e++ = '-';
  agent_fmt_u64(e, (uint64_t)now.tv_sec, 16);
}

/* wait: read the WELCOME now. A forked child does not: it proposes its own id
 * and the coordinator answers only if it must take another (pid reuse within
 * the same second), so the fork pays no round trip and nothing is written to
 * the child that would start its checkpoint thread (lazy_thread.c) for
 * nothing; the thread takes that WELCOME when it starts. */
int coord_connect_and_send_hello(int restart, int wait) {
  if (agent.config.no_coordinator) {
    /* nobody to ask for an id: a new process makes its own */
    if (!agent.unique_id[0]) propose_unique_id();
    return solo_open();
  }
  int fd = connect_socket();
  if (fd < 0) return fd;
  agent.coord_fd = fd;
  in_used = 0;
  int propose = !wait && !restart && !agent.unique_id[0];
  if (propose) propose_unique_id();

  char line[2048], *e = line, *lim = line + sizeof line;
  char num[24];
  e += agent_strlcpy(e, "HELLO v=" PROTOCOL_VERSION " role=agent prog=", (size_t)(lim - e));
  e = put_encoded(e, lim, agent.prog);
  e += agent_strlcpy(e, " pid=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.virt_pid, 10); e = put_encoded(e, lim, num);
  e += agent_strlcpy(e, " rpid=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.real_pid, 10); e = put_encoded(e, lim, num);
  e += agent_strlcpy(e, " ppid=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.virt_ppid, 10); e = put_encoded(e, lim, num);
  e += agent_strlcpy(e, " host=", (size_t)(lim - e));
  e = put_encoded(e, lim, agent.hostname);
  e += agent_strlcpy(e, " id=", (size_t)(lim - e));
  e = put_encoded(e, lim, agent.unique_id[0] ? agent.unique_id : "-");
  e += agent_strlcpy(e, restart ? " restart=1 gen=" : " restart=0 gen=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.generation, 10); e = put_encoded(e, lim, num);
  if (agent.is_root) e += agent_strlcpy(e, " root=1", (size_t)(lim - e));
  if (propose) e += agent_strlcpy(e, " proposed=1", (size_t)(lim - e));
  if (coord_send(line) < 0) return -EIO;
  if (!wait) return 0;

  char reply[2048];
  if (coord_read_line(reply, sizeof reply) < 0) return -ECONNRESET;
  if (coord_take_welcome(reply) < 0) {
    agent_say(reply);
    return -EPROTO;
  }
  return 0;
}

/* After exec (exec.c): the connection is the old program's, still registered
 * under our id. Tell the coordinator what runs now; it sends again a barrier
 * that the old program's checkpoint thread took along, and our WELCOME only
 * when we do not know our id (a forked child that exec'd before its thread
 * read it): a program that exits at once then leaves nothing unread, so its
 * connection ends with a FIN, not a reset. */
int coord_send_exec(void) {
  if (agent.config.no_coordinator) return solo_open();
  /* the old program knew how it had connected; we see it from the socket */
  struct sockaddr_storage own;
  socklen_t own_len = sizeof own;
  link_local = rsys3(SYS_getsockname, agent.coord_fd, &own, &own_len) == 0 && own.ss_family == AF_UNIX;
  char line[1024], *e = line, *lim = line + sizeof line;
  char num[24];
  in_used = 0;
  e += agent_strlcpy(e, "EXEC prog=", (size_t)(lim - e));
  e = put_encoded(e, lim, agent.prog);
  e += agent_strlcpy(e, " pid=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.virt_pid, 10); e = put_encoded(e, lim, num);
  e += agent_strlcpy(e, " rpid=", (size_t)(lim - e));
  agent_fmt_u64(num, (uint64_t)agent.real_pid, 10); e = put_encoded(e, lim, num);
  if (!agent.unique_id[0]) e += agent_strlcpy(e, " welcome=1", (size_t)(lim - e));
  return coord_send(line);
}

/* Our fork wrapper made a child (fork.c): the coordinator waits for its HELLO
 * before a checkpoint's SUSPEND is complete (or sees it gone), so the fork
 * returns at once while a checkpoint that starts afterwards still counts the
 * child. One line, one write, no answer. */
/* Children of our fork wrapper, told of late (docs/protocol.md, FORKED).
 *
 * The coordinator must know of a child before a checkpoint's SUSPEND is
 * complete, so that the checkpoint waits for it (a child joins when it first
 * matters: lazy_join.c). Telling it at every fork woke the coordinator each
 * time, about 50 us of its CPU per fork on a machine whose fork takes 150:
 * and the children of a fork + wait loop are reaped before anybody needs to
 * know of them. So the parent notes each child in agent.untold and tells:
 * - at SUSPEND, before it says REACHED (checkpoint_thread.c);
 * - before it execs (the notes would be gone), and at exit();
 * - when every slot is taken.
 * A child the parent reaps is crossed off (pidvirt.c). A parent that ends
 * otherwise (_exit, a signal) cannot tell: its children join on their own
 * within lazy_join.c's 10 ms, and the coordinator lets no SUSPEND complete
 * within ORPHAN_GRACE_MS of a process leaving (src/coordinator/core.ts).
 * Slots are taken and cleared with compare-and-swap, no lock: the fork and
 * wait wrappers may run in signal handlers. */
void forked_tell(void) {
  char lines[AGENT_UNTOLD_MAX * 32], *e = lines;
  for (int i = 0; i < AGENT_UNTOLD_MAX; i++) {
    pid_t child = __atomic_exchange_n(&agent.untold[i], 0, __ATOMIC_SEQ_CST);
    if (child <= 0) continue;
    e += agent_strlcpy(e, "FORKED pid=", sizeof lines - (size_t)(e - lines));
    e = agent_fmt_u64(e, (uint64_t)child, 10);
    *e++ = '\n';
  }
  if (e == lines || agent.config.no_coordinator || agent.coord_fd < 0) return;
  /* not coord_send: its 4 KiB buffer is a page more for a parent to copy
   * while its child still shares its memory */
  agent_write_all(agent.coord_fd, lines, (size_t)(e - lines));
}

void forked_note(pid_t child) {
  if (agent.config.no_coordinator) return;
  for (;;) {
    for (int i = 0; i < AGENT_UNTOLD_MAX; i++) {
      pid_t none = 0;
      if (__atomic_compare_exchange_n(&agent.untold[i], &none, child, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
    }
    forked_tell();   /* every slot taken: tell them all, then note this one */
  }
}

void forked_reaped(pid_t child) {
  if (child <= 0) return;
  for (int i = 0; i < AGENT_UNTOLD_MAX; i++) {
    pid_t was = child;
    if (__atomic_compare_exchange_n(&agent.untold[i], &was, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return;
  }
}

void forked_child_forget(void) {
  for (int i = 0; i < AGENT_UNTOLD_MAX; i++) AGENT_SET(agent.untold[i], 0);
}

/* exit(): the children noted are told of while the link is still there. */
__attribute__((destructor)) static void forked_tell_at_exit(void) {
  if (agent.active) forked_tell();
}
