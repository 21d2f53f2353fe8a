/* Terminals: their settings, the controlling terminal and its foreground
 * group, saved at checkpoint and put back at restart.
 *
 * The tree's own terminal (the root's stdin/stdout/stderr, which became the
 * restart command's terminal, shared_fds.c) gets the saved settings again:
 * a full-screen program left in raw mode stays in raw mode. The window size
 * is the new terminal's own; when it differs from the saved one, the
 * foreground group gets SIGWINCH after the resume so that it redraws.
 * Ptys created inside the computation are made again by the restorers with
 * their settings and size (native/restorer/shared_fds.c); their session
 * leaders take them back as controlling terminal there. The foreground group
 * is set here, by the session leader (or the root), once every group of the
 * tree exists again. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include "agent.h"
#include "raw_syscall.h"

static int pts_number(const char *path) {
  if (strncmp(path, "/dev/pts/", 9) || path[9] < '0' || path[9] > '9') return -1;
  return (int)agent_parse_u64(path + 9, 10, 0);
}

void terminal_save_fd(struct fd_record *r) {
  r->pty = -1;
  r->has_termios = 0;
  if (r->kind == FD_PTMX) {
    unsigned n = 0;
    if (rsys3(SYS_ioctl, r->fd, TIOCGPTN, &n) == 0) r->pty = (int)n;
  } else if (r->kind == FD_TTY) {
    r->pty = pts_number(r->path);
  } else {
    return;
  }
  if (rsys3(SYS_ioctl, r->fd, TCGETS, r->termios) == 0) r->has_termios = 1;
  if (rsys3(SYS_ioctl, r->fd, TIOCGWINSZ, r->winsize) != 0) memset(r->winsize, 0, sizeof r->winsize);
}

/* Field 7 of /proc/self/stat: the controlling terminal's device number. */
static uint64_t ctty_device(void) {
  char buf[2048];
  if (agent_read_file("/proc/self/stat", buf, sizeof buf) <= 0) return 0;
  const char *p = strrchr(buf, ')');
  if (!p) return 0;
  int field = 2;
  for (; *p && field < 7; p++) if (*p == ' ') field++;
  return agent_parse_u64(p, 10, 0);
}

static int open_ctty(void) { return (int)rsys3(SYS_open, "/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0); }

void terminal_save(void) {
  agent.ctty_rdev = ctty_device();
  agent.ctty_foreground = 0;
  agent.ctty_foreground_own = 0;
  pid_t sid = (pid_t)rsys1(SYS_getsid, 0);
  if (!agent.ctty_rdev || (sid != agent.real_pid && !agent.is_root)) return;
  int fd = open_ctty();
  if (fd < 0) return;
  pid_t fg = 0;
  if (rsys3(SYS_ioctl, fd, TIOCGPGRP, &fg) == 0 && fg > 0) {
    agent.ctty_foreground = pid_virt_of_real(fg);
    agent.ctty_foreground_own = fg == (pid_t)rsys1(SYS_getpgid, 0);
  }
  rsys1(SYS_close, fd);
}

static struct fd_record *stdio_terminal(void) {
  for (int fd = 0; fd <= 2; fd++) {
    struct fd_record *r = fds_find(fd);
    if (r && r->kind == FD_TTY && r->has_termios) return r;
  }
  return 0;
}

void terminal_restore(void) {
  agent.winch_pending = 0;
  if (agent.is_root) {
    struct fd_record *r = stdio_terminal();
    unsigned char now[AGENT_TERMIOS_SIZE];
    if (r && rsys3(SYS_ioctl, r->fd, TCGETS, now) == 0) {
      rsys3(SYS_ioctl, r->fd, TCSETS, r->termios);
      unsigned short size[4];
      if (rsys3(SYS_ioctl, r->fd, TIOCGWINSZ, size) == 0 && (size[0] != r->winsize[0] || size[1] != r->winsize[1]))
        agent.winch_pending = 1;
    }
  }
  /* The foreground group: by the leader of a session made again at restart;
   * on the restart's own terminal by the root, only when the restart command
   * had the foreground (a restart sent to the background leaves the terminal
   * to the shell that started it). A leader root is in the restart's session
   * too: the same rule. */
  if (!agent.ctty_foreground) return;
  if (agent.is_root ? !agent.restart_foreground : (pid_t)rsys1(SYS_getsid, 0) != agent.real_pid) return;
  int fd = open_ctty();
  if (fd < 0) return;
  /* Our own group's number is the one we have now: a root that did not lead
   * its group is in the restart's, whose number is not in the pid table.
   * Another group is one of the tree's when the table translates it; one that
   * does not translate was outside the tree (the shell that had put us in the
   * background): the root's group, which had the restart's foreground, keeps
   * it then. A tree process whose new pid happens to equal its old one is not
   * told apart. */
  pid_t own = (pid_t)rsys1(SYS_getpgid, 0), fg = own;
  if (!agent.ctty_foreground_own) {
    fg = pid_real_of_virt(agent.ctty_foreground);
    if (fg == agent.ctty_foreground) fg = agent.is_root ? own : 0;
  }
  if (fg <= 0) { rsys1(SYS_close, fd); return; }
  /* Every signal is still blocked here, SIGTTOU included: allowed even from a
   * background group. A group that is gone leaves the terminal as it is. */
  rsys3(SYS_ioctl, fd, TIOCSPGRP, &fg);
  rsys1(SYS_close, fd);
}

void terminal_after_resume(void) {
  if (!agent.winch_pending) return;
  agent.winch_pending = 0;
  int fd = open_ctty();
  pid_t fg = 0;
  if (fd >= 0 && rsys3(SYS_ioctl, fd, TIOCGPGRP, &fg) == 0 && fg > 0) rsys2(SYS_kill, -fg, SIGWINCH);
  if (fd >= 0) rsys1(SYS_close, fd);
}

/* ---- bytes in flight in a pty made inside the computation ----
 *
 * At DRAIN the owner of a pty's master takes what waits on either side: the
 * slave's output not yet read by the master's holders (read from the master),
 * and input written to the master not yet read on the slave side (read from
 * the slave, opened by its name, with ICANON off for the read so that a line
 * not ended yet comes too). After the image (or at restart, the root
 * restorer from the image) it puts them back: the input through the master
 * with echo off, the output through the slave with output processing off, so
 * that neither is echoed or translated a second time. */

#define PTY_QUEUE_MAX (64 * 1024)
#define PAGE 4096UL

static void pts_path(char *out, size_t size, int n) {
  char *e = out + agent_strlcpy(out, "/dev/pts/", size);
  agent_fmt_u64(e, (uint64_t)n, 10);
}

static long read_all(int fd, char *buf, long cap) {
  long got = 0;
  while (got < cap) {
    long n = rsys3(SYS_read, fd, buf + got, cap - got);
    if (n == -EINTR) continue;
    if (n <= 0) break;
    got += n;
  }
  return got;
}

#define VEOF_INDEX 4   /* c_cc[VEOF] */
#define CC_OFFSET 17   /* c_cc in the kernel's struct termios: 4 flag words, then c_line */
#define LFLAG_OFFSET 12
#define PTY_EOFS_MAX 64   /* end-of-files queued in a row (a slave whose master hung up reads 0 for ever) */

/* What waits to be read on a pty's slave. In canonical mode a read takes one
 * line, and an end-of-file the writer typed (VEOF at the start of a line)
 * reads as 0 bytes: it comes here as the VEOF character, which the refill
 * types again. A line not ended yet cannot be read at all: the kernel makes it
 * readable when ICANON goes off (n_tty pushes it), and the refill writes it
 * back as the same half line. (ICANON goes off only after the lines: there an
 * end-of-file would read as a NUL.) No signal comes of changing the termios:
 * our thread blocks SIGTTOU, so the kernel lets a background process do it. */
static long read_input(int s, char *buf, long cap) {
  unsigned char saved[AGENT_TERMIOS_SIZE], raw[AGENT_TERMIOS_SIZE];
  unsigned lflag = 0;
  if (rsys3(SYS_ioctl, s, TCGETS, saved) != 0) return read_all(s, buf, cap);
  memcpy(&lflag, saved + LFLAG_OFFSET, 4);
  if (!(lflag & ICANON)) return read_all(s, buf, cap);
  long got = 0;
  for (int eofs = 0; got < cap;) {
    long n = rsys3(SYS_read, s, buf + got, cap - got);
    if (n == -EINTR) continue;
    if (n > 0) got += n;
    else if (n == 0 && saved[CC_OFFSET + VEOF_INDEX] && eofs++ < PTY_EOFS_MAX) buf[got++] = (char)saved[CC_OFFSET + VEOF_INDEX];
    else break;
  }
  memcpy(raw, saved, sizeof raw);
  lflag &= ~ICANON;
  memcpy(raw + LFLAG_OFFSET, &lflag, 4);
  rsys3(SYS_ioctl, s, TCSETS, raw);
  got += read_all(s, buf + got, cap - got);
  rsys3(SYS_ioctl, s, TCSETS, saved);
  return got;
}

static int drained_pty(const struct fd_record *r) {
  for (const struct fd_record *o = agent.fds; o < r; o++)
    if (o->kind == FD_PTMX && o->pty == r->pty && o->drained) return 1;
  return 0;
}

void terminal_drain(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->kind != FD_PTMX || r->pty < 0 || r->share != SHARE_OWNER || r->owner_virt != agent.virt_pid || drained_pty(r)) continue;
    r->drained = 1;
    uint64_t len = (8 + 2 * PTY_QUEUE_MAX + PAGE - 1) & ~(PAGE - 1);
    long mem = rsys6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem < 0 && mem > -4096) continue;
    char *blob = (char *)mem;
    uint32_t out_len = 0, in_len = 0;
    rsys3(SYS_fcntl, r->fd, F_SETFL, r->status_flags | O_NONBLOCK);
    out_len = (uint32_t)read_all(r->fd, blob + 4, PTY_QUEUE_MAX);
    rsys3(SYS_fcntl, r->fd, F_SETFL, r->status_flags);
    char slave[32];
    pts_path(slave, sizeof slave, r->pty);
    int s = (int)rsys3(SYS_open, slave, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0);
    if (s >= 0) {
      in_len = (uint32_t)read_input(s, blob + 8 + out_len, PTY_QUEUE_MAX);
      rsys1(SYS_close, s);
    }
    /* [u32 output length][output][u32 input length][input] */
    memcpy(blob, &out_len, 4);
    memcpy(blob + 4 + out_len, &in_len, 4);
    if (!out_len && !in_len) { rsys2(SYS_munmap, mem, len); continue; }
    r->saved_data = (uint64_t)mem;
    r->saved_len = 8 + out_len + in_len;
  }
}

/* Writes len bytes to fd with the termios bits `off` of flag word `word`
 * (0 iflag, 1 oflag, 2 cflag, 3 lflag) cleared meanwhile. */
static void write_plain(int fd, int tty, const char *data, uint32_t len, int word, unsigned off) {
  if (!len) return;
  unsigned char saved[AGENT_TERMIOS_SIZE], plain[AGENT_TERMIOS_SIZE];
  int have = rsys3(SYS_ioctl, tty, TCGETS, saved) == 0;
  if (have) {
    memcpy(plain, saved, sizeof plain);
    unsigned flags;
    memcpy(&flags, plain + 4 * word, 4);
    flags &= ~off;
    memcpy(plain + 4 * word, &flags, 4);
    rsys3(SYS_ioctl, tty, TCSETS, plain);
  }
  long n = agent_write_all(fd, data, len);
  if (n != (long)len) agent_say("a pty took back less than it held: some of its bytes in flight are lost");
  if (have) rsys3(SYS_ioctl, tty, TCSETSW, saved);
}

void terminal_refill(void) {
  for (int i = 0; i < agent.nfds; i++) {
    struct fd_record *r = &agent.fds[i];
    if (r->kind != FD_PTMX || !r->drained || !r->saved_data || r->saved_len < 8) continue;
    const char *blob = (const char *)r->saved_data;
    uint32_t out_len, in_len;
    memcpy(&out_len, blob, 4);
    memcpy(&in_len, blob + 4 + out_len, 4);
    char slave[32];
    pts_path(slave, sizeof slave, r->pty);
    int s = (int)rsys3(SYS_open, slave, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
    if (s < 0) { agent_say("cannot reach a pty's slave: its bytes in flight are lost"); continue; }
    write_plain(r->fd, s, blob + 8 + out_len, in_len, 3, ECHO | ECHONL | ECHOE | ECHOK);
    write_plain(s, s, blob + 4, out_len, 1, OPOST);
    rsys1(SYS_close, s);
    rsys2(SYS_munmap, r->saved_data, (r->saved_len + PAGE - 1) & ~(PAGE - 1));
    r->saved_data = 0;
    r->saved_len = 0;
  }
}
