/* Waits a checkpoint must not cut short. One thread per call waits N times
 * for T ms, each in its own way:
 * - relative timeouts (poll, ppoll, select, pselect, epoll_wait, epoll_pwait,
 *   nanosleep, clock_nanosleep, usleep, sleep, sigtimedwait, semtimedop) must end
 *   after T ms of program time;
 * - absolute deadlines (clock_nanosleep TIMER_ABSTIME, sem_timedwait,
 *   mq_timedreceive, pthread_cond_timedwait, pthread_mutex_timedlock on a
 *   mutex main holds) must never end early, and end T ms after they began,
 *   or at once when a restart came after the deadline;
 * - blocking calls without a timeout (read on a pipe, msgrcv, semop, sem_wait,
 *   mq_receive, sigwaitinfo, pause) are woken by a partner thread that
 *   sleeps T ms between events: they too must end after T ms of program time
 *   (also recv on a socket pair, accept, and a write into a full pipe that
 *   the partner drains a page of; the kernel restarts these by itself; a
 *   1 MiB write into a pipe and a 1 MiB send on a socket pair, which a
 *   checkpoint must not cut short; and a connect to a Unix listener whose
 *   queue is full, until the partner accepts);
 * - wait4 and waitid on a child that lives T ms (restarted by the kernel).
 * Any call that fails (EINTR above all) or ends off by more than 0.5 s is
 * CORRUPT. Program time is the monotonic clock without the time the process
 * spent dead between a checkpoint and its restart: a ticker thread sees a
 * restart as a new real pid (/proc/self) after a jump of its clock, and
 * counts that jump as dead time.
 * Prints "W <call> <k> <elapsed ms>" per wait and "DONE <waits>" at the end.
 * Usage: waits N T_MS (whole seconds for sleep) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL
#define SLACK_NS (500 * MS)
#define TICK_NS (10 * MS)
#define EARLY_NS (50 * MS)   /* the realtime and monotonic clocks may drift apart a little */

static int N, T_MS;
static int64_t T_NS;

static int64_t clock_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}
static int64_t mono(void) { return clock_ns(CLOCK_MONOTONIC); }
static struct timespec ts_of(int64_t ns) { return (struct timespec){ ns / 1000000000LL, ns % 1000000000LL }; }

/* ---- program time ---- */

static volatile int64_t dead_ns, last_restart_end;

static int real_pid(void) {
  char buf[32] = { 0 };
  return readlink("/proc/self", buf, sizeof buf - 1) > 0 ? atoi(buf) : 0;
}

static void *ticker(void *unused) {
  (void)unused;
  int pid = real_pid();
  for (;;) {
    int64_t before = mono();
    struct timespec tick = ts_of(TICK_NS);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &tick, NULL);   /* raw: not what is under test */
    int64_t after = mono();
    int now = real_pid();
    if (now != pid) { dead_ns += after - before - TICK_NS; last_restart_end = after; pid = now; }
  }
  return 0;
}

struct span { int64_t mono, dead; };
static struct span span_start(void) { return (struct span){ mono(), dead_ns }; }
static int64_t program_elapsed(struct span s) { return mono() - s.mono - (dead_ns - s.dead); }

/* ---- the calls ---- */

enum kind { RELATIVE, ABSOLUTE, EVENT };
struct call { const char *name; enum kind kind; int (*wait)(struct call *); void (*post)(struct call *); int fd[2]; int id; sem_t sem; mqd_t q; pthread_t waiter; int64_t deadline_mono; };
#define PIPE_FILL 65536   /* a pipe's default capacity: the next write blocks */

static int is_timeout(long r, int want_errno) { return r == -1 && errno == want_errno; }

static int w_poll(struct call *c) { (void)c; return poll(0, 0, T_MS) == 0; }
static int w_ppoll(struct call *c) { (void)c; struct timespec t = ts_of(T_NS); return ppoll(0, 0, &t, 0) == 0; }
static int w_select(struct call *c) { (void)c; struct timeval t = { T_MS / 1000, (T_MS % 1000) * 1000 }; return select(0, 0, 0, 0, &t) == 0; }
static int w_pselect(struct call *c) { (void)c; struct timespec t = ts_of(T_NS); return pselect(0, 0, 0, 0, &t, 0) == 0; }
static int w_epoll_wait(struct call *c) { struct epoll_event e; return epoll_wait(c->id, &e, 1, T_MS) == 0; }
static int w_epoll_pwait(struct call *c) { struct epoll_event e; sigset_t none; sigemptyset(&none); return epoll_pwait(c->id, &e, 1, T_MS, &none) == 0; }
static int w_nanosleep(struct call *c) { (void)c; struct timespec t = ts_of(T_NS); return nanosleep(&t, 0) == 0; }
static int w_clock_nanosleep(struct call *c) { (void)c; struct timespec t = ts_of(T_NS); return clock_nanosleep(CLOCK_MONOTONIC, 0, &t, 0) == 0; }
static int w_usleep(struct call *c) { (void)c; return usleep((useconds_t)T_MS * 1000) == 0; }
static int w_sigtimedwait(struct call *c) {
  (void)c;
  sigset_t s; sigemptyset(&s); sigaddset(&s, SIGRTMIN + 3);   /* never sent */
  struct timespec t = ts_of(T_NS);
  return is_timeout(sigtimedwait(&s, 0, &t), EAGAIN);
}
static int w_semtimedop(struct call *c) {
  struct sembuf b = { 0, -1, 0 };   /* a semaphore nobody raises */
  struct timespec t = ts_of(T_NS);
  return is_timeout(semtimedop(c->id, &b, 1, &t), EAGAIN);
}

static int w_clock_nanosleep_abs(struct call *c) {
  c->deadline_mono = mono() + T_NS;
  struct timespec at = ts_of(c->deadline_mono);
  return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, 0) == 0;
}
/* The realtime deadline T from now, and the same instant on the monotonic clock. */
static struct timespec realtime_deadline(struct call *c) {
  int64_t m = mono(), r = clock_ns(CLOCK_REALTIME);
  c->deadline_mono = m + T_NS;
  return ts_of(r + T_NS);
}
static int w_sem_timedwait(struct call *c) { struct timespec at = realtime_deadline(c); return is_timeout(sem_timedwait(&c->sem, &at), ETIMEDOUT); }
static int w_mq_timedreceive(struct call *c) {
  char buf[64];
  struct timespec at = realtime_deadline(c);
  return is_timeout(mq_timedreceive(c->q, buf, sizeof buf, 0, &at), ETIMEDOUT);
}
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER, held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int w_cond_timedwait(struct call *c) {
  pthread_mutex_lock(&cond_lock);
  struct timespec at = realtime_deadline(c);
  int r;
  do r = pthread_cond_timedwait(&never, &cond_lock, &at); while (r == 0);   /* spurious wake-ups are allowed */
  pthread_mutex_unlock(&cond_lock);
  return r == ETIMEDOUT;
}
static int w_mutex_timedlock(struct call *c) { struct timespec at = realtime_deadline(c); return pthread_mutex_timedlock(&held, &at) == ETIMEDOUT; }

/* Blocking calls and the partner's event that ends each one. */
static int w_read(struct call *c) { char b; return read(c->fd[0], &b, 1) == 1; }
static void p_read(struct call *c) { if (write(c->fd[1], "x", 1) != 1) printf("CORRUPT write\n"); }
struct msg { long type; char text[8]; };
static int w_msgrcv(struct call *c) { struct msg m; return msgrcv(c->id, &m, sizeof m.text, 1, 0) == 1; }
static void p_msgrcv(struct call *c) { struct msg m = { 1, "x" }; msgsnd(c->id, &m, 1, 0); }
static int w_semop(struct call *c) { struct sembuf b = { 0, -1, 0 }; return semop(c->id, &b, 1) == 0; }
static void p_semop(struct call *c) { struct sembuf b = { 0, 1, 0 }; if (semop(c->id, &b, 1) != 0) printf("CORRUPT semop +1: %s\n", strerror(errno)); }
static int w_sem_wait(struct call *c) { return sem_wait(&c->sem) == 0; }
static void p_sem_wait(struct call *c) { sem_post(&c->sem); }
static int w_mq_receive(struct call *c) { char buf[64]; return mq_receive(c->q, buf, sizeof buf, 0) == 1; }
static void p_mq_receive(struct call *c) { mq_send(c->q, "x", 1, 0); }
#define SIG_WAITED (SIGRTMIN + 1)
#define SIG_PAUSE (SIGRTMIN + 2)
static int w_sigwaitinfo(struct call *c) { (void)c; sigset_t s; sigemptyset(&s); sigaddset(&s, SIG_WAITED); return sigwaitinfo(&s, 0) == SIG_WAITED; }
static void p_sigwaitinfo(struct call *c) { pthread_kill(c->waiter, SIG_WAITED); }
static volatile int paused_handled;
static void on_pause_signal(int sig) { (void)sig; paused_handled++; }
static int w_pause(struct call *c) {
  (void)c;
  int before = paused_handled;
  return pause() == -1 && errno == EINTR && paused_handled != before;   /* EINTR is pause's answer to a handler */
}
static void p_pause(struct call *c) { pthread_kill(c->waiter, SIG_PAUSE); }
static int w_recv(struct call *c) { char b; return recv(c->fd[0], &b, 1, 0) == 1; }
static void p_recv(struct call *c) { if (send(c->fd[1], "x", 1, 0) != 1) printf("CORRUPT send\n"); }
/* a write into a full pipe waits for the partner to read a page */
static char page[4096];
static int w_write_full(struct call *c) { return write(c->fd[1], page, sizeof page) == (ssize_t)sizeof page; }
static void p_write_full(struct call *c) {
  size_t got = 0;
  while (got < sizeof page) { ssize_t n = read(c->fd[0], page, sizeof page - got); if (n <= 0) { printf("CORRUPT read\n"); return; } got += (size_t)n; }
}
static int w_accept(struct call *c) { int s = accept(c->id, 0, 0); if (s < 0) return 0; close(s); return 1; }
static void p_accept(struct call *c) {
  struct sockaddr_in a; socklen_t len = sizeof a;
  getsockname(c->id, (struct sockaddr *)&a, &len);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr *)&a, len) != 0) printf("CORRUPT connect: %s\n", strerror(errno));
  close(s);
}
/* 1 MiB into an empty pipe: the write blocks once the pipe is full, a
 * checkpoint then cuts it short unless the rest goes too */
#define BIG (1 << 20)
static char big[BIG];
static int w_big_write(struct call *c) {
  ssize_t n = write(c->fd[1], big, BIG);
  if (n != BIG) { printf("CORRUPT a %d-byte write returned %zd\n", BIG, n); errno = EIO; return 0; }
  return 1;
}
static void p_big_write(struct call *c) {
  static char sink[65536];
  for (size_t got = 0; got < BIG;) {
    size_t want = BIG - got < sizeof sink ? BIG - got : sizeof sink;   /* not into the next one */
    ssize_t n = read(c->fd[0], sink, want);
    if (n <= 0) { printf("CORRUPT read\n"); return; }
    got += (size_t)n;
  }
}
/* 1 MiB sent on a Unix socket pair: as the pipe write above */
static int w_big_send(struct call *c) {
  ssize_t n = send(c->fd[1], big, BIG, 0);
  if (n != BIG) { printf("CORRUPT a %d-byte send returned %zd\n", BIG, n); errno = EIO; return 0; }
  return 1;
}
/* connect to a Unix listener whose queue is full (listen(fd, 0) holds one
 * connection not accepted): it waits until the partner accepts the oldest.
 * The waiter keeps its last connection open (the next one in the queue), so
 * the queue is full at every checkpoint and after every restart. */
static struct sockaddr_un connect_name;
static int w_connect(struct call *c) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&connect_name, sizeof connect_name) != 0) return 0;
  close(c->fd[0]);
  c->fd[0] = s;
  return 1;
}
static void p_connect(struct call *c) {
  int a = accept(c->id, 0, 0);
  if (a < 0) printf("CORRUPT accept: %s\n", strerror(errno));
  else close(a);
}
/* a child that lives T and ends (it is a process of the tree while it lives) */
static pid_t child_for_T(void) {
  pid_t pid = fork();
  if (pid == 0) {
    struct timespec t = ts_of(T_NS);
    while (nanosleep(&t, &t) != 0) {}
    _exit(0);
  }
  return pid;
}
static int w_wait4(struct call *c) {
  (void)c;
  pid_t pid = child_for_T();
  int status;
  return pid > 0 && wait4(pid, &status, 0, 0) == pid && WIFEXITED(status);
}
static int w_waitid(struct call *c) {
  (void)c;
  pid_t pid = child_for_T();
  siginfo_t info;
  return pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED) == 0 && info.si_pid == pid;
}
static int w_sleep(struct call *c) { (void)c; return sleep((unsigned)(T_MS / 1000)) == 0; }

static struct call calls[] = {
  { "poll", RELATIVE, w_poll }, { "ppoll", RELATIVE, w_ppoll }, { "select", RELATIVE, w_select },
  { "pselect", RELATIVE, w_pselect }, { "epoll_wait", RELATIVE, w_epoll_wait }, { "epoll_pwait", RELATIVE, w_epoll_pwait },
  { "nanosleep", RELATIVE, w_nanosleep }, { "clock_nanosleep", RELATIVE, w_clock_nanosleep }, { "usleep", RELATIVE, w_usleep },
  { "sigtimedwait", RELATIVE, w_sigtimedwait }, { "semtimedop", RELATIVE, w_semtimedop },
  { "clock_nanosleep_abs", ABSOLUTE, w_clock_nanosleep_abs }, { "sem_timedwait", ABSOLUTE, w_sem_timedwait },
  { "mq_timedreceive", ABSOLUTE, w_mq_timedreceive }, { "cond_timedwait", ABSOLUTE, w_cond_timedwait },
  { "mutex_timedlock", ABSOLUTE, w_mutex_timedlock },
  { "read", EVENT, w_read, p_read }, { "msgrcv", EVENT, w_msgrcv, p_msgrcv }, { "sem_wait", EVENT, w_sem_wait, p_sem_wait },
  { "mq_receive", EVENT, w_mq_receive, p_mq_receive }, { "sigwaitinfo", EVENT, w_sigwaitinfo, p_sigwaitinfo },
  { "pause", EVENT, w_pause, p_pause }, { "recv", EVENT, w_recv, p_recv }, { "write_full_pipe", EVENT, w_write_full, p_write_full },
  { "accept", EVENT, w_accept, p_accept }, { "sleep", RELATIVE, w_sleep }, { "big_write", EVENT, w_big_write, p_big_write },
  { "wait4", RELATIVE, w_wait4 }, { "waitid", RELATIVE, w_waitid },
  { "big_send", EVENT, w_big_send, p_big_write }, { "connect", EVENT, w_connect, p_connect }, { "semop", EVENT, w_semop, p_semop },
};
#define NCALLS (int)(sizeof calls / sizeof calls[0])
static int corrupt;

static void *waiter(void *arg) {
  struct call *c = arg;
  struct span s = span_start();
  for (int k = 1; k <= N; k++) {
    if (c->kind != EVENT) s = span_start();
    int pid = real_pid();
    errno = 0;
    int ok = c->wait(c);
    int64_t end = mono();
    if (real_pid() != pid) {
      /* restarted during the wait: let the ticker see it (it ticks every 10 ms) */
      struct timespec t = ts_of(5 * TICK_NS);
      syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &t, NULL);
    }
    int64_t took = program_elapsed(s) - (mono() - end);
    if (!ok) { printf("CORRUPT %s failed: %s\n", c->name, strerror(errno)); corrupt = 1; return 0; }
    if (c->kind == ABSOLUTE) {
      /* never before the deadline; at it, or right after a restart that came later */
      int64_t due = c->deadline_mono > last_restart_end ? c->deadline_mono : last_restart_end;
      if (end < c->deadline_mono - EARLY_NS || end > due + SLACK_NS) { printf("CORRUPT %s ended %lld ms after its deadline\n", c->name, (long long)((end - c->deadline_mono) / MS)); corrupt = 1; return 0; }
    } else if (took < T_NS - SLACK_NS || took > T_NS + SLACK_NS) {
      printf("CORRUPT %s took %lld ms of program time, not %d\n", c->name, (long long)(took / MS), T_MS); corrupt = 1; return 0;
    }
    printf("W %s %d %lld\n", c->name, k, (long long)(took / MS));
    s = span_start();
  }
  return 0;
}

static void *partner(void *arg) {
  struct call *c = arg;
  for (int k = 1; k <= N; k++) {
    struct timespec t = ts_of(T_NS);
    while (nanosleep(&t, &t) != 0) {}
    c->post(c);
  }
  return 0;
}

int main(int argc, char **argv) {
  N = argc > 1 ? atoi(argv[1]) : 6;
  T_MS = argc > 2 ? atoi(argv[2]) : 1500;
  T_NS = T_MS * MS;
  setvbuf(stdout, 0, _IOLBF, 0);
  /* the signals waited for are blocked everywhere but in their waiters */
  sigset_t waited; sigemptyset(&waited); sigaddset(&waited, SIG_WAITED); sigaddset(&waited, SIGRTMIN + 3);
  pthread_sigmask(SIG_BLOCK, &waited, 0);
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_pause_signal;
  sigaction(SIG_PAUSE, &sa, 0);
  sigset_t pause_sig; sigemptyset(&pause_sig); sigaddset(&pause_sig, SIG_PAUSE);
  pthread_sigmask(SIG_BLOCK, &pause_sig, 0);   /* only the pause thread takes it */
  pthread_mutex_lock(&held);
  char qname[64];
  snprintf(qname, sizeof qname, "/dmtcp-test-waits-%d", getpid());
  for (int i = 0; i < NCALLS; i++) {
    struct call *c = &calls[i];
    if (!strncmp(c->name, "epoll", 5)) c->id = epoll_create1(0);
    if (!strcmp(c->name, "semtimedop") || !strcmp(c->name, "semop")) c->id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    if (!strcmp(c->name, "msgrcv")) c->id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (!strcmp(c->name, "read") && pipe(c->fd) < 0) return 3;
    if (!strcmp(c->name, "big_write") && pipe(c->fd) < 0) return 3;
    if (!strcmp(c->name, "big_send") && socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd) < 0) return 3;
    if (!strcmp(c->name, "connect")) {
      /* an abstract name: nothing to remove afterwards */
      connect_name.sun_family = AF_UNIX;
      snprintf(connect_name.sun_path + 1, sizeof connect_name.sun_path - 1, "dmtcp-test-waits-%d", getpid());
      c->id = socket(AF_UNIX, SOCK_STREAM, 0);
      c->fd[0] = socket(AF_UNIX, SOCK_STREAM, 0);
      if (bind(c->id, (struct sockaddr *)&connect_name, sizeof connect_name) != 0 || listen(c->id, 0) != 0 ||
          connect(c->fd[0], (struct sockaddr *)&connect_name, sizeof connect_name) != 0) c->id = -1;
    }
    if (!strcmp(c->name, "recv") && socketpair(AF_UNIX, SOCK_STREAM, 0, c->fd) < 0) return 3;
    if (!strcmp(c->name, "write_full_pipe")) {
      static char fill[PIPE_FILL];
      if (pipe(c->fd) < 0 || fcntl(c->fd[1], F_SETFL, O_NONBLOCK) < 0) return 3;
      while (write(c->fd[1], fill, sizeof fill) > 0) {}
      fcntl(c->fd[1], F_SETFL, 0);
    }
    if (!strcmp(c->name, "accept")) {
      struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
      c->id = socket(AF_INET, SOCK_STREAM, 0);
      if (bind(c->id, (struct sockaddr *)&a, sizeof a) != 0 || listen(c->id, 4) != 0) c->id = -1;
    }
    if (!strncmp(c->name, "sem_", 4)) sem_init(&c->sem, 0, 0);
    if (!strncmp(c->name, "mq_", 3)) {
      struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
      char name[80];
      snprintf(name, sizeof name, "%s-%d", qname, i);
      c->q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &a);
      if (c->q < 0) { printf("CORRUPT mq_open: %s\n", strerror(errno)); return 3; }
    }
    if (c->id < 0) { printf("CORRUPT setting up %s: %s\n", c->name, strerror(errno)); return 3; }
  }
  pthread_t tick;
  pthread_create(&tick, 0, ticker, 0);
  pthread_t partners[NCALLS];
  for (int i = 0; i < NCALLS; i++) {
    if (!strcmp(calls[i].name, "pause")) pthread_sigmask(SIG_UNBLOCK, &pause_sig, 0);
    pthread_create(&calls[i].waiter, 0, waiter, &calls[i]);
    if (!strcmp(calls[i].name, "pause")) pthread_sigmask(SIG_BLOCK, &pause_sig, 0);
  }
  for (int i = 0; i < NCALLS; i++) if (calls[i].post) pthread_create(&partners[i], 0, partner, &calls[i]);
  for (int i = 0; i < NCALLS; i++) pthread_join(calls[i].waiter, 0);
  for (int i = 0; i < NCALLS; i++) if (calls[i].post && !corrupt) pthread_join(partners[i], 0);
  for (int i = 0; i < NCALLS; i++) {
    if (!strcmp(calls[i].name, "semtimedop") || !strcmp(calls[i].name, "semop")) semctl(calls[i].id, 0, IPC_RMID);
    if (!strcmp(calls[i].name, "msgrcv")) msgctl(calls[i].id, IPC_RMID, 0);
    if (!strncmp(calls[i].name, "mq_", 3)) {
      char name[80];
      snprintf(name, sizeof name, "%s-%d", qname, i);
      mq_unlink(name);
    }
  }
  if (corrupt) return 3;
  printf("DONE %d\n", NCALLS * N);
  return 0;
}
