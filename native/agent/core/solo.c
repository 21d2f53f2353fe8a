/* --no-coordinator: a process that checkpoints itself (docs/api.md).
 *
 * No coordinator runs. The checkpoint thread plays the same script of named
 * barriers (docs/protocol.md), but each barrier comes from here, as soon as
 * the last one was reached, instead of from the coordinator once every process
 * reached it. A checkpoint begins when the process is sent the checkpoint
 * signal from outside (`kill -USR2 <pid>`: the kernel says SI_USER; sigqueue
 * says SI_QUEUE; our own stop signals are tgkill's SI_TKILL), when the program
 * calls dmtcp_checkpoint(), or every DMTCP_CHECKPOINT_INTERVAL seconds.
 *
 * The request travels through an eventfd at the coordinator link's number
 * (above the program's fds; no image records it): the signal handler may
 * write it (write(2) is async-signal-safe), and the checkpoint thread sleeps
 * in poll on it. A process and each child it forks checkpoint on their own;
 * nothing here keeps a pipe between two of them whole (that needs the
 * coordinator's barriers across processes). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include "agent.h"
#include "raw_syscall.h"

#define EVENTFD_CLOEXEC 02000000   /* EFD_CLOEXEC == O_CLOEXEC */
#define EVENTFD_NONBLOCK 04000     /* EFD_NONBLOCK == O_NONBLOCK */
#define MS_PER_S 1000

/* The barrier that comes after each one this process reached. */
static const struct { const char *reached, *next; } script[] = {
  { "SUSPEND", "ELECT" },
  { "ELECT", "DRAIN" },
  { "DRAIN", "CHECKPOINT" },
  { "CHECKPOINT", "RESUME" },
};

static char queued[1024];          /* the next barrier line, or "" */
static int checkpoint_gen;         /* checkpoints begun in this process */
static volatile unsigned finished; /* checkpoints that ran to their RESUME, or failed */
static volatile unsigned failed;

int solo_open(void) {
  int e = (int)rsys2(SYS_eventfd2, 0, EVENTFD_CLOEXEC | EVENTFD_NONBLOCK);
  if (e < 0) return e;
  /* The number the link had (a fork's or a restart's), or one above the program's. */
  if (agent.coord_fd >= AGENT_COORD_FD_MIN) {
    rsys3(SYS_dup3, e, agent.coord_fd, O_CLOEXEC);
  } else {
    int high = (int)rsys3(SYS_fcntl, e, F_DUPFD_CLOEXEC, AGENT_COORD_FD_MIN);
    if (high < 0) { rsys1(SYS_close, e); return high; }
    agent.coord_fd = high;
  }
  rsys1(SYS_close, e);
  queued[0] = 0;
  return 0;
}

void solo_request(void) {
  uint64_t one = 1;
  if (agent.coord_fd >= 0) rsys3(SYS_write, agent.coord_fd, &one, sizeof one);
}

int solo_is_request(const siginfo_t *info) {
  return agent.config.no_coordinator && (info->si_code == SI_USER || info->si_code == SI_QUEUE);
}

unsigned solo_finished(void) { return finished; }
unsigned solo_failed(void) { return failed; }

/* Appends `text` with every byte but [A-Za-z0-9_.~-] as %XX: once as
 * encodeURIComponent leaves a program's name in a member's `<prog>/<id>`,
 * twice for the line's own encoding (coord_field takes one off). */
static char *put_escaped(char *e, char *lim, const char *text, int times) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *c = (const unsigned char *)text; *c && e + 8 < lim; c++) {
    int plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '_' || *c == '.' || *c == '~' || *c == '-';
    if (plain) { *e++ = (char)*c; continue; }
    if (times == 2) { *e++ = '%'; *e++ = '2'; *e++ = '5'; } else *e++ = '%';
    *e++ = hex[*c >> 4];
    *e++ = hex[*c & 15];
  }
  *e = 0;
  return e;
}

static int line_of(char *buf, size_t size, const char *name) {
  char *e = buf, *lim = buf + size;
  e += agent_strlcpy(e, "BARRIER name=", (size_t)(lim - e));
  e += agent_strlcpy(e, name, (size_t)(lim - e));
  e += agent_strlcpy(e, " gen=", (size_t)(lim - e));
  e = agent_fmt_u64(e, (uint64_t)checkpoint_gen, 10);
  if (!strcmp(name, "CHECKPOINT")) {
    /* the image's record of its checkpoint: a computation of one process */
    e += agent_strlcpy(e, " comp=", (size_t)(lim - e));
    e = put_escaped(e, lim, agent.unique_id, 1);
    e += agent_strlcpy(e, " members=", (size_t)(lim - e));
    e = put_escaped(e, lim, agent.prog, 2);
    e += agent_strlcpy(e, "/", (size_t)(lim - e));
    e = put_escaped(e, lim, agent.unique_id, 1);
  }
  return (int)(e - buf);
}

/* What the checkpoint thread reads instead of the coordinator's next line. */
int solo_read_line(char *buf, size_t size) {
  if (queued[0]) {
    int n = (int)agent_strlcpy(buf, queued, size);
    queued[0] = 0;
    return n;
  }
  for (;;) {
    struct pollfd p = { agent.coord_fd, POLLIN, 0 };
    int every = agent.config.interval_s;
    struct timespec t = { every, 0 };
    long n = rsys5(SYS_ppoll, &p, 1, every > 0 ? &t : 0, 0, 8);
    if (n == -EINTR) continue;
    if (n < 0) return -1;
    uint64_t requests;
    /* Requests that came before this checkpoint begins are all answered by it. */
    rsys3(SYS_read, agent.coord_fd, &requests, sizeof requests);
    checkpoint_gen++;
    return line_of(buf, size, "SUSPEND");
  }
}

/* What the checkpoint thread would have told the coordinator. */
int solo_answer(const char *line) {
  char name[32];
  if (!coord_field(line, "name", name, sizeof name)) return 0;
  if (!strncmp(line, "FAILED", 6)) {
    char why[512], say[600], *e = say;
    e += agent_strlcpy(e, "checkpoint failed: ", sizeof say);
    agent_strlcpy(e, coord_field(line, "reason", why, sizeof why) ? why : name, sizeof say - (size_t)(e - say));
    agent_say(say);
    failed++;
    if (strcmp(name, "RESUME")) { line_of(queued, sizeof queued, "RESUME"); return 0; }
  }
  for (size_t i = 0; i < sizeof script / sizeof script[0]; i++) {
    if (!strcmp(name, script[i].reached)) { line_of(queued, sizeof queued, script[i].next); return 0; }
  }
  if (!strcmp(name, "RESUME")) finished++;
  return 0;
}
