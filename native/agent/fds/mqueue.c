/* POSIX message queues (mq_open): a queue is a kernel object with a name,
 * shared by every process that opens that name.
 *
 * Capture: each descriptor's queue name and attributes (mq_getsetattr). At
 * DRAIN one holder per queue and checkpoint (first_this_checkpoint) takes every
 * message out with its priority and sends them all back at once, in the
 * order they came out: highest priority first, first-in first within one,
 * which is the order the queue gives them again. The copy travels in that
 * process's image. Restore: the root restorer makes the queue again with its
 * attributes and messages before any process runs (native/restorer/mqueue.c,
 * planned by src/restart/mqueue.ts); each holder then opens it by name.
 *
 * mq_notify: the kernel keeps one registration per queue, for one process,
 * and shows only whose it is (the queue file's NOTIFY_PID). The wrapper below
 * remembers what the program registered; a checkpoint keeps it if the
 * registration is still this process's (it ends when it fires), and a restart
 * registers it again on the reopened queue: SIGEV_SIGNAL, SIGEV_NONE and
 * SIGEV_THREAD, which the agent makes itself (mq_threads.c: glibc's netlink
 * socket and helper thread would not come back). */
#include <dlfcn.h>
#include <errno.h>
#include <mqueue.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

#define MQUEUE_MAGIC 0x19800202
#define PAGE 4096UL

/* The kernel's struct mq_attr. */
struct kernel_mq_attr { long flags, maxmsg, msgsize, curmsgs, pad[4]; };

static int mqueue_claims(int fd) {
  struct statfs sf;
  return rsys2(SYS_fstatfs, fd, &sf) == 0 && sf.f_type == MQUEUE_MAGIC;
}

/* ---- mq_notify ---- */

#define MAX_NOTIFY 64
#define SIGEV_THREAD_KIND 2   /* SIGEV_THREAD */

/* What the program asked for, by descriptor (kind + 1; 0: nothing). */
static struct { int fd, kind, signo; uint64_t value; } asked[MAX_NOTIFY];

/* The kernel's struct sigevent. */
struct kernel_sigevent { uint64_t value; int signo, notify; int pad[12]; };

AGENT_EXPORT int mq_notify(mqd_t q, const struct sigevent *ev) {
  typedef int (*notify_fn)(mqd_t, const struct sigevent *);
  static notify_fn real;
  if (!real) real = (notify_fn)dlsym(RTLD_NEXT, "mq_notify");
  int thread_slot = -1, r;
  if (ev && ev->sigev_notify == SIGEV_THREAD) {
    thread_slot = mq_threads_register((int)q, ev);
    r = thread_slot < 0 ? -1 : 0;
  } else {
    r = real(q, ev);
    if (r == 0) mq_threads_forget((int)q);
  }
  if (r != 0) return r;
  int slot = -1;
  for (int i = 0; i < MAX_NOTIFY; i++) {
    if (asked[i].kind && asked[i].fd == (int)q) { slot = i; break; }
    if (!asked[i].kind && slot < 0) slot = i;
  }
  if (slot < 0) return r;
  asked[slot].fd = (int)q;
  asked[slot].kind = ev ? ev->sigev_notify + 1 : 0;   /* NULL: the program let it go */
  asked[slot].signo = ev ? ev->sigev_signo : 0;
  asked[slot].value = thread_slot >= 0 ? (uint64_t)thread_slot : ev ? (uint64_t)(uintptr_t)ev->sigev_value.sival_ptr : 0;
  return r;
}

/* Whether the queue's registration is this process's: "NOTIFY_PID:<pid>" in
 * what reading the queue file says. */
static int registered_here(int fd) {
  char text[256];
  long n = rsys4(SYS_pread64, fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  text[n] = 0;
  const char *p = strstr(text, "NOTIFY_PID:");
  return p && (pid_t)agent_parse_u64(p + 11, 10, 0) == agent.real_pid;
}

static void save_notify(struct fd_record *r) {
  r->ev_flags = 0;
  for (int i = 0; i < MAX_NOTIFY; i++) {
    if (!asked[i].kind || asked[i].fd != r->fd) continue;
    if (!registered_here(r->fd)) return;   /* fired, or let go */
    r->ev_flags = asked[i].kind;
    r->ev_clock = asked[i].signo;
    r->ev_value_ns = (int64_t)asked[i].value;
  }
}

/* Restart, the fd in place: the registration made again, on this fd. */
static void mqueue_link_up(const struct fd_record *r) {
  if (!r->ev_flags) return;
  if (r->ev_flags == SIGEV_THREAD_KIND + 1) {   /* our record, registered again from a new socket and helper */
    if (mq_threads_again(r->fd, (int)r->ev_value_ns) < 0) fd_say(r, "its mq_notify(SIGEV_THREAD) registration could not be made again");
    return;
  }
  struct kernel_sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.notify = r->ev_flags - 1;
  ev.signo = r->ev_clock;
  ev.value = (uint64_t)r->ev_value_ns;
  if (rsys2(SYS_mq_notify, r->fd, &ev) < 0) fd_say(r, "its mq_notify registration could not be made again");
}

static void mqueue_save(struct fd_record *r) {
  struct kernel_mq_attr a;
  if (rsys3(SYS_mq_getsetattr, r->fd, 0, &a) < 0) return;
  r->ev_count = (uint64_t)a.maxmsg;
  r->ev_mask = (uint64_t)a.msgsize;
  r->drained = 0;
  save_notify(r);
  r->ev_saved = 1;
}

/* [u32 count] then per message [u32 length][u32 priority][bytes] */
static void mqueue_drain(struct fd_record *r) {
  char name[AGENT_FD_PATH_MAX + 16];
  size_t n = agent_strlcpy(name, "mqueue", sizeof name);
  agent_strlcpy(name + n, r->path, sizeof name - n);   /* "/q" becomes "mqueue-q" */
  if (!first_this_checkpoint(name)) return;
  struct kernel_mq_attr a, nonblock;
  if (rsys3(SYS_mq_getsetattr, r->fd, 0, &a) < 0) return;
  uint64_t len = (4 + (uint64_t)a.curmsgs * (8 + (uint64_t)a.msgsize) + PAGE - 1) & ~(PAGE - 1);
  long mem = rsys6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem < 0 && mem > -4096) return;
  char *blob = (char *)mem, *at = blob + 4;
  memset(&nonblock, 0, sizeof nonblock);
  nonblock.flags = O_NONBLOCK;
  rsys3(SYS_mq_getsetattr, r->fd, &nonblock, 0);
  uint32_t count = 0;
  while (count < (uint32_t)a.curmsgs) {
    unsigned prio = 0;
    long n = rsys5(SYS_mq_timedreceive, r->fd, at + 8, a.msgsize, &prio, 0);
    if (n == -EINTR) continue;
    if (n < 0) break;
    uint32_t l = (uint32_t)n, p = prio;
    memcpy(at, &l, 4);
    memcpy(at + 4, &p, 4);
    at += 8 + l;
    count++;
  }
  /* Back at once, in the order they came: the queue is as it was. */
  for (const char *m = blob + 4; m < at;) {
    uint32_t l, p;
    memcpy(&l, m, 4);
    memcpy(&p, m + 4, 4);
    if (rsys5(SYS_mq_timedsend, r->fd, m + 8, l, p, 0) < 0) fd_say(r, "a message could not be put back in its queue");
    m += 8 + l;
  }
  rsys3(SYS_mq_getsetattr, r->fd, &a, 0);   /* its flags as they were */
  memcpy(blob, &count, 4);
  r->saved_data = (uint64_t)mem;
  r->saved_len = (uint64_t)(at - blob);
  r->drained = 1;
}

static int mqueue_restore(const struct fd_record *r) {
  /* The root restorer made the queue again (with its messages): open it by
   * name. Without it (a queue no image drained), make it empty. */
  const char *name = r->path[0] == '/' ? r->path + 1 : r->path;
  int flags = (r->status_flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC;
  long fd = rsys4(SYS_mq_open, name, flags, 0, 0);
  if (fd == -ENOENT) {
    struct kernel_mq_attr a;
    memset(&a, 0, sizeof a);
    a.maxmsg = (long)r->ev_count;
    a.msgsize = (long)r->ev_mask;
    fd = rsys4(SYS_mq_open, name, flags | O_CREAT, r->mode ? r->mode : 0600, &a);
  }
  return (int)fd;
}

static void mqueue_describe(struct jbuf *b, const struct fd_record *r) {
  json_member(b, "maxmsg"); json_num(b, (int64_t)r->ev_count);
  json_member(b, "msgsize"); json_num(b, (int64_t)r->ev_mask);
  json_member(b, "drained"); json_bool(b, r->drained);
  if (r->ev_flags) { json_member(b, "notifySignal"); json_num(b, r->ev_clock); }
  if (r->drained && r->saved_data) {
    uint32_t count;
    memcpy(&count, (const void *)r->saved_data, 4);
    json_member(b, "messages"); json_num(b, count);
    json_member(b, "messagesAt"); json_hex(b, r->saved_data);
    json_member(b, "messagesLen"); json_num(b, (int64_t)r->saved_len);
  }
}

const struct fd_kind_ops mqueue_kind = {
  .kind = FD_MQUEUE, .name = "mqueue", .claims = mqueue_claims,
  .save = mqueue_save, .restore = mqueue_restore, .describe = mqueue_describe, .drain = mqueue_drain,
  .link_up = mqueue_link_up,
};
