/* Shared fds at restart (docs/restart-tree.md): every open file description
 * that several processes (or several fds) of the tree shared is made once, by
 * the root, before it forks anyone; fork then hands the same description to
 * every child, as the original forks did. Each process then puts the ones it
 * held at their old numbers and closes the rest.
 *
 *   make_objects (root)   pipes, FIFOs (read end first: opening a write end
 *                         needs a reader), files at their offsets, and dups
 *                         of the restart's stdin/stdout/stderr, each at its
 *                         slot fd above everything else
 *   place (each process)  dup3 from the slots to the program's fd numbers */
#include "util.h"
#include "shared_fds.h"
#include "sockets.h"
#include "mqueue.h"
#include "sysv.h"

#define NR_pipe2 293
#define NR_dup3 292
#define NR_fcntl 72
#define NR_lseek 8
#define NR_memfd_create 319
#define NR_eventfd2 290
#define NR_epoll_create1 291
#define NR_signalfd4 289
#define NR_timerfd_create 283
#define ANON_KIND_UNKNOWN 22   /* EINVAL */
#define NR_ftruncate 77
#define F_DUPFD 0
#define F_SETFL 4
#define F_SETPIPE_SZ 1031
#define O_WRONLY 1
#define O_NONBLOCK 04000
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define ENXIO 6
#define RLIMIT_NOFILE 7
#define TCSETS 0x5402
#define TIOCSWINSZ 0x5414
#define TIOCSCTTY 0x540E
#define TIOCSPTLCK 0x40045431
#define TIOCGPTPEER 0x5441
#define SETFL_MASK (O_NONBLOCK | 02000 /* O_APPEND */ | 020000 /* O_ASYNC */ | 01000000 /* O_NOATIME */)

static const struct tree_object *objects(const struct tree_header *h) {
  return (const struct tree_object *)((const char *)h + h->objects_offset);
}

static const struct tree_placement *placements(const struct tree_header *h) {
  return (const struct tree_placement *)((const char *)h + h->placements_offset);
}

static const char *path_of(const struct tree_header *h, const struct tree_object *o) {
  return (const char *)h + h->strings_offset + o->path_offset;
}

/* Move fd to exactly `slot` (closing fd). */
static void to_slot(long fd, int slot, const char *what) {
  if (fd < 0) r_fail(what, 0, (uint64_t)-fd, 1);
  if (fd == slot) return;
  long r = sys3(NR_dup3, fd, slot, 0);
  sys1(NR_close, fd);
  if (r < 0) r_fail("cannot place a shared fd; errno", 0, (uint64_t)-r, 1);
}

static void set_flags(int fd, int flags) { sys3(NR_fcntl, fd, F_SETFL, flags & SETFL_MASK); }

static void make_pipe(const struct tree_object *o, int rd, int wr) {
  int p[2];
  long r = sys2(NR_pipe2, p, 0);
  if (r < 0) r_fail("cannot make a pipe of the tree; errno", 0, (uint64_t)-r, 1);
  to_slot(p[0], rd, "cannot make a pipe; errno");
  to_slot(p[1], wr, "cannot make a pipe; errno");
}

static void make_fifo(const struct tree_header *h, const struct tree_object *o, int rd, int wr) {
  const char *path = path_of(h, o);
  long r = sys3(NR_open, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (r < 0) {
    /* The FIFO's path is gone: an anonymous pipe joins its holders just as well. */
    make_pipe(o, rd, wr);
    return;
  }
  to_slot(r, rd, "cannot open a FIFO; errno");
  r = sys3(NR_open, path, O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0);
  to_slot(r, wr, "cannot open a FIFO for writing; errno");
}

static void make_file(const struct tree_header *h, const struct tree_object *o, int slot) {
  int flags = (o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_NOCTTY;
  long fd = sys3(NR_open, path_of(h, o), flags, 0);
  if (fd < 0) {
    r_say("cannot reopen a shared file; its holders get /dev/null:", path_of(h, o), 0, 0);
    fd = sys3(NR_open, "/dev/null", O_RDWR, 0);
  }
  to_slot(fd, slot, "cannot open /dev/null; errno");
  if (o->pos >= 0) sys3(NR_lseek, slot, o->pos, 0 /* SEEK_SET */);
}

#define TCGETS 0x5401
#define TCSETSW 0x5403
#define TERMIOS_OFLAG 4
#define TERMIOS_LFLAG 12
#define OPOST 1
#define ECHO_BITS (0000010 | 0000020 | 0000040 | 0000100)   /* ECHO ECHOE ECHOK ECHONL */

/* Writes data to fd with bits `off` of the termios word at `word_at` cleared meanwhile. */
static void write_plain(int fd, int slave, const char *data, uint32_t len, int word_at, uint32_t off) {
  if (!len) return;
  char saved[TREE_TERMIOS_SIZE], plain[TREE_TERMIOS_SIZE];
  int have = sys3(NR_ioctl, slave, TCGETS, saved) == 0;
  if (have) {
    r_memcpy(plain, saved, sizeof plain);
    uint32_t flags;
    r_memcpy(&flags, plain + word_at, 4);
    flags &= ~off;
    r_memcpy(plain + word_at, &flags, 4);
    sys3(NR_ioctl, slave, TCSETS, plain);
  }
  /* Never block: nobody reads yet (the caller sets the fd's own flags after us). */
  sys3(NR_fcntl, fd, F_SETFL, O_NONBLOCK);
  uint32_t done = 0;
  while (done < len) {
    long n = sys3(NR_write, fd, data + done, len - done);
    if (n <= 0) { r_say("a pty took back less than it held; bytes lost:", 0, len - done, 1); break; }
    done += (uint32_t)n;
  }
  if (have) sys3(NR_ioctl, slave, TCSETSW, saved);
}

/* The bytes that were in flight in the old pty: the slave's unread input
 * through the master with echo off, its output through the slave with output
 * processing off, so that nothing is echoed or translated twice. */
static void refill_pty(int master, int slave, const char *data) {
  uint32_t out_len, in_len;
  r_memcpy(&out_len, data, 4);
  r_memcpy(&in_len, data + 4 + out_len, 4);
  write_plain(master, slave, data + 8 + out_len, in_len, TERMIOS_LFLAG, ECHO_BITS);
  write_plain(slave, slave, data + 4, out_len, TERMIOS_OFLAG, OPOST);
}

/* A pty pair made anew, with the settings and size the old one had. Its
 * number is the kernel's choice: programs that remember their tty's name
 * see a new one (ttyname tells it). */
static void make_pty(const struct tree_header *h, const struct tree_object *o, int master, int slave) {
  long m = sys3(NR_open, "/dev/ptmx", O_RDWR | O_NOCTTY, 0);
  if (m < 0) r_fail("cannot open /dev/ptmx for a pty of the tree; errno", 0, (uint64_t)-m, 1);
  int unlock = 0;
  sys3(NR_ioctl, m, TIOCSPTLCK, &unlock);
  long sl = sys3(NR_ioctl, m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (sl < 0) r_fail("cannot open the slave of a new pty; errno", 0, (uint64_t)-sl, 1);
  to_slot(m, master, "cannot place a pty; errno");
  to_slot(sl, slave, "cannot place a pty; errno");
  if (o->path_offset) {
    const char *blob = path_of(h, o);
    sys3(NR_ioctl, slave, TCSETS, blob);
    sys3(NR_ioctl, master, TIOCSWINSZ, blob + TREE_TERMIOS_SIZE);
    if (o->pos > 0) refill_pty(master, slave, blob + TREE_TERMIOS_SIZE + 8);
  }
}

/* After setsid: a session leader takes its pty back as controlling terminal. */
void shared_fds_take_ctty(const struct tree_header *h, int index) {
  const struct tree_placement *pl = placements(h);
  for (uint32_t i = 0; i < h->nplacements; i++) {
    if (pl[i].entry != index || pl[i].fd != TREE_FD_CTTY) continue;
    long r = sys3(NR_ioctl, h->slot_base + 2 * pl[i].object + 1, TIOCSCTTY, 0);
    if (r < 0) r_say("cannot take back a controlling terminal; errno", 0, (uint64_t)-r, 1);
  }
}

void shared_fds_make(const struct tree_header *h) {
  if (!h->nobjects) return;
  /* The slots sit above every fd the program had: allow as many as the hard
   * limit does (the agent puts the program's own limits back). */
  uint64_t lim[2];
  if (sys4(NR_prlimit64, 0, RLIMIT_NOFILE, 0, lim) == 0 && lim[0] < lim[1]) {
    lim[0] = lim[1];
    sys4(NR_prlimit64, 0, RLIMIT_NOFILE, lim, 0);
  }
  const struct tree_object *obj = objects(h);
  for (uint32_t k = 0; k < h->nobjects; k++) {
    const struct tree_object *o = &obj[k];
    int slot = h->slot_base + 2 * (int)k;
    switch (o->kind) {
      case TREE_OBJ_PIPE:
      case TREE_OBJ_FIFO:
        if (o->kind == TREE_OBJ_PIPE) make_pipe(o, slot, slot + 1);
        else make_fifo(h, o, slot, slot + 1);
        if (o->pipe_size > 0) sys3(NR_fcntl, slot, F_SETPIPE_SZ, o->pipe_size);
        set_flags(slot, o->flags);
        set_flags(slot + 1, o->flags2);
        break;
      case TREE_OBJ_FILE:
        make_file(h, o, slot);
        break;
      case TREE_OBJ_PTY:
        make_pty(h, o, slot, slot + 1);
        set_flags(slot, o->flags);
        set_flags(slot + 1, o->flags2);
        break;
      case TREE_OBJ_SOCKETPAIR:
        sockets_make_pair(o, o->path_offset ? path_of(h, o) : 0, slot, slot + 1);
        set_flags(slot, o->flags);
        set_flags(slot + 1, o->flags2);
        break;
      case TREE_OBJ_SOCKET:
        sockets_make(o, path_of(h, o), slot, slot + 1);
        set_flags(slot, o->flags);
        set_flags(slot + 1, o->flags2);
        break;
      case TREE_OBJ_SYSV:
        sysv_make((struct tree_object *)o, path_of(h, o));   /* the tree map is ours to write */
        break;
      case TREE_OBJ_SHM: {
        if (o->flags & 1) break;   /* a System V segment: its TREE_OBJ_SYSV object */
        /* No MFD_CLOEXEC: every process's own restorer is exec'd with the slots. */
        long m = sys2(NR_memfd_create, "dmtcp-shared-memory", 0);
        to_slot(m, slot, "cannot make shared memory for the tree; errno");
        long r = sys2(NR_ftruncate, slot, o->pos);
        if (r < 0) r_fail("cannot size shared memory for the tree; errno", 0, (uint64_t)-r, 1);
        break;
      }
      case TREE_OBJ_MQUEUE:
        mqueue_make(path_of(h, o));
        break;
      case TREE_OBJ_EVENTFD: {
        /* No EFD_CLOEXEC: the slots go through every restorer's exec. */
        long e = sys2(NR_eventfd2, 0, o->flags2);
        to_slot(e, slot, "cannot make an eventfd for the tree; errno");
        uint64_t count = (uint64_t)o->pos;
        if (count) sys3(NR_write, slot, &count, sizeof count);
        set_flags(slot, o->flags);
        break;
      }
      case TREE_OBJ_ANON: {
        /* the kind only; the holders' agents give it its watches, mask or time */
        uint64_t no_signals = 0;
        long f = o->flags2 == TREE_ANON_EPOLL ? sys1(NR_epoll_create1, 0)
               : o->flags2 == TREE_ANON_SIGNALFD ? sys4(NR_signalfd4, -1, &no_signals, sizeof no_signals, 0)
               : o->flags2 == TREE_ANON_TIMERFD ? sys2(NR_timerfd_create, o->pos, 0) : -ANON_KIND_UNKNOWN;
        to_slot(f, slot, "cannot make an epoll set, signalfd or timerfd for the tree; errno");
        set_flags(slot, o->flags);
        break;
      }
      case TREE_OBJ_STDIO:
        /* The restart's own stdin/stdout/stderr (the root's are still ours). */
        if (sys3(NR_dup3, o->flags2, slot, 0) < 0) sys3(NR_dup3, sys3(NR_open, "/dev/null", O_RDWR, 0), slot, 0);
        break;
      default:
        r_fail("unknown shared fd kind in the restart tree", 0, o->kind, 1);
    }
  }
  sockets_refill_datagrams(h, obj);
  sockets_finish(h, obj);
}

int shared_fds_place(const struct tree_header *h, int index, int plan_fd) {
  if (!h->nobjects) return plan_fd;
  /* Our plan may sit at a number the program wants: move it above the slots. */
  int high = h->slot_base + 2 * (int)h->nobjects;
  long moved = sys3(NR_fcntl, plan_fd, F_DUPFD, high);
  if (moved < 0) r_fail("cannot move the restore plan's fd; errno", 0, (uint64_t)-moved, 1);
  sys1(NR_close, plan_fd);
  const struct tree_placement *pl = placements(h);
  for (uint32_t i = 0; i < h->nplacements; i++) {
    if (pl[i].entry != index || pl[i].fd < 0) continue;
    int slot = h->slot_base + 2 * pl[i].object + pl[i].end;
    long r = sys3(NR_dup3, slot, pl[i].fd, pl[i].cloexec ? O_CLOEXEC : 0);
    if (r < 0) r_say("cannot put a shared fd in place; errno", 0, (uint64_t)-r, 1);
  }
  const struct tree_object *obj = objects(h);
  for (uint32_t k = 0; k < 2 * h->nobjects; k++) {
    int slot = h->slot_base + (int)k;
    if (obj[k / 2].kind == TREE_OBJ_SHM && !(obj[k / 2].flags & 1) && k % 2 == 0) continue;   /* until the areas are mapped */
    int wanted = 0;
    for (uint32_t i = 0; i < h->nplacements && !wanted; i++) wanted = pl[i].entry == index && pl[i].fd == slot && slot >= 0;
    if (!wanted) sys1(NR_close, slot);
  }
  return (int)moved;
}

int shared_fds_object_fd(const struct tree_header *h, uint32_t k) {
  if (k >= h->nobjects || objects(h)[k].kind != TREE_OBJ_SHM || (objects(h)[k].flags & 1)) return -1;
  return h->slot_base + 2 * (int)k;
}

const struct tree_object *shared_fds_segment(const struct tree_header *h, uint32_t k) {
  if (k >= h->nobjects || objects(h)[k].kind != TREE_OBJ_SHM || !(objects(h)[k].flags & 1)) return 0;
  uint32_t s = (uint32_t)objects(h)[k].flags2;
  return s < h->nobjects ? &objects(h)[s] : 0;
}

void shared_fds_after_memory(const struct tree_header *h) {
  const struct tree_object *obj = objects(h);
  for (uint32_t k = 0; k < h->nobjects; k++)
    if (obj[k].kind == TREE_OBJ_SHM && !(obj[k].flags & 1)) sys1(NR_close, h->slot_base + 2 * (int)k);
}
