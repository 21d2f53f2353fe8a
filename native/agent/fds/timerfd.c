/* timerfd: a timer read as a file. Capture: its clock, flags and expirations
 * not read yet from fdinfo, the time to its next expiry and its period from
 * timerfd_gettime. Restore: a new timer on the same clock, the expirations
 * put back (TFD_IOC_SET_TICKS), armed for the time that was left: the gap
 * while the computation was down does not count, as for the program's other
 * timers, except for an absolute CLOCK_REALTIME deadline, which names a time
 * of day and is kept. One that several processes hold is made once by the
 * restorers on its clock; each holder then gives it the same state. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include "agent.h"
#include "image/meta_json.h"
#include "raw_syscall.h"

#define NS_PER_S 1000000000LL
#define TFD_IOC_SET_TICKS_REQ _IOW('T', 0, uint64_t)

static int64_t ns_of(const struct timespec *t) { return (int64_t)t->tv_sec * NS_PER_S + t->tv_nsec; }
static struct timespec ts_of(int64_t ns) { struct timespec t = { ns / NS_PER_S, ns % NS_PER_S }; return t; }
static int wall_clock(int clock) { return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM; }

static void timerfd_save(struct fd_record *r) {
  char info[512];
  struct itimerspec now;
  if (fdinfo_read(r->fd, info, sizeof info) <= 0 || rsys2(SYS_timerfd_gettime, r->fd, &now) < 0) return;
  r->ev_clock = (int)fdinfo_u64(info, "clockid:", 10, CLOCK_MONOTONIC);
  r->ev_count = fdinfo_u64(info, "ticks:", 10, 0);
  r->ev_flags = (int)fdinfo_u64(info, "settime flags:", 8, 0) & TFD_TIMER_ABSTIME;
  r->ev_value_ns = ns_of(&now.it_value);
  r->ev_interval_ns = ns_of(&now.it_interval);
  if (r->ev_value_ns && (r->ev_flags & TFD_TIMER_ABSTIME) && wall_clock(r->ev_clock)) {
    struct timespec t;
    rsys2(SYS_clock_gettime, CLOCK_REALTIME, &t);
    r->ev_value_ns += ns_of(&t);
  }
  r->ev_saved = 1;
}

/* the expirations and the time left, on a timer of the right clock */
static int timerfd_set(int fd, const struct fd_record *r) {
  int64_t value = r->ev_value_ns;
  if (r->ev_count && rsys3(SYS_ioctl, fd, TFD_IOC_SET_TICKS_REQ, &r->ev_count) < 0 && !value)
    value = 1;   /* a kernel without it: at least one expiry is waiting, as before */
  if (!value) return 0;   /* disarmed */
  int abs = (r->ev_flags & TFD_TIMER_ABSTIME) && wall_clock(r->ev_clock);
  struct itimerspec spec = { ts_of(r->ev_interval_ns), ts_of(value) };
  if (rsys4(SYS_timerfd_settime, fd, abs ? TFD_TIMER_ABSTIME : 0, &spec, 0) < 0) fd_say(r, "could not arm the timer again");
  return 0;
}

static int timerfd_restore(const struct fd_record *r) {
  int flags = TFD_CLOEXEC | ((r->status_flags & O_NONBLOCK) ? TFD_NONBLOCK : 0);
  int fd = (int)rsys2(SYS_timerfd_create, r->ev_clock, flags);
  if (fd < 0) return fd;
  timerfd_set(fd, r);
  return fd;
}

static int timerfd_adopt(const struct fd_record *r) { return timerfd_set(r->fd, r); }

static void timerfd_describe(struct jbuf *b, const struct fd_record *r) {
  json_member(b, "clock"); json_num(b, r->ev_clock);
  json_member(b, "absolute"); json_bool(b, r->ev_flags & TFD_TIMER_ABSTIME);
  json_member(b, "valueNs"); json_num(b, r->ev_value_ns);
  json_member(b, "intervalNs"); json_num(b, r->ev_interval_ns);
  json_member(b, "ticks"); json_num(b, (int64_t)r->ev_count);
}

const struct fd_kind_ops timerfd_kind = {
  .kind = FD_TIMERFD, .name = "timerfd", .link = "anon_inode:[timerfd]",
  .save = timerfd_save, .restore = timerfd_restore, .describe = timerfd_describe, .adopt = timerfd_adopt,
};
