/* mq_notify(SIGEV_THREAD) across checkpoints and restarts.
 *
 * The kernel offers this notification through a netlink socket: the
 * registration names the socket and a 32-byte cookie, and when a message
 * comes to the empty queue the kernel sends the cookie on the socket.
 * glibc keeps such a socket and a helper thread that starts the program's
 * function; neither comes back from an image (the socket would be
 * /dev/null, its helper would spin on it). So the agent makes these
 * registrations itself, the same way: a netlink socket of its own (above
 * the program's fds, not in the image, not the program's to close), a
 * cookie naming a record of ours (the function and its value), and a helper
 * of ours that takes the kernel's message and runs the function in a new
 * thread, as glibc does. The helper blocks every signal: a checkpoint leaves
 * it out (threads.c). A restart makes a new socket and helper, and mqueue.c
 * registers again what the queue still said was ours (NOTIFY_PID). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

#define NOTIFY_COOKIE_LEN 32   /* the kernel's message: the cookie, its last byte saying why */
#define NOTIFY_WOKENUP 1
#define KERNEL_SIGEV_THREAD 2
#define NETLINK_FD_MIN (AGENT_COORD_FD_MIN + 24)   /* among our fds, above the program's */
#define MAX_CALLS 64
#define COOKIE_MAGIC 0x6d71746eu   /* "mqtn" */
#define HELPER_START_WAIT_MS 2000

struct kernel_sigevent { uint64_t value; int signo, notify; int pad[12]; };

/* One registration: the program's function and value, and its cookie. */
static struct call_record {
  int used, mq;
  void (*fn)(union sigval);
  union sigval value;
  unsigned char cookie[NOTIFY_COOKIE_LEN];
} calls[MAX_CALLS];

static int netlink_fd = -1;
static int made_restarts = -1;   /* agent.restarts when the socket and helper were made... */
static pid_t made_pid;           /* ...in this process (a forked child has neither) */
static volatile int helper_started;

int mq_threads_fd(void) { return made_pid == agent.real_pid && made_restarts == agent.restarts ? netlink_fd : -1; }

static void *helper_main(void *arg) {
  int fd = (int)(intptr_t)arg;
  uint64_t all = ~0ULL;
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  helper_started = 1;
  agent_futex_wake(&helper_started);
  for (;;) {
    unsigned char msg[NOTIFY_COOKIE_LEN];
    long n = rsys6(SYS_recvfrom, fd, msg, sizeof msg, MSG_WAITALL | MSG_NOSIGNAL, 0, 0);
    if (n == -EBADF || n == -ENOTSOCK) return 0;   /* the socket is gone */
    if (n != (long)sizeof msg || msg[NOTIFY_COOKIE_LEN - 1] != NOTIFY_WOKENUP) continue;
    uint32_t magic, slot;
    memcpy(&magic, msg, 4);
    memcpy(&slot, msg + 4, 4);
    if (magic != COOKIE_MAGIC || slot >= MAX_CALLS || !calls[slot].used) continue;
    void (*fn)(union sigval) = calls[slot].fn;
    union sigval value = calls[slot].value;
    calls[slot].used = 0;   /* the kernel ends a registration when it fires */
    agent_sigev_thread_start(fn, value);
  }
}

/* The socket and the helper of this life of the process; -1 on failure. */
static int ensure_helper(void) {
  if (mq_threads_fd() >= 0) return netlink_fd;
  int s = (int)rsys3(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  int fd = (int)rsys3(SYS_fcntl, s, F_DUPFD_CLOEXEC, NETLINK_FD_MIN);
  rsys1(SYS_close, s);
  if (fd < 0) return fd;
  helper_started = 0;
  uint64_t all = ~0ULL, old = 0;
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);   /* the helper starts with everything blocked */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int r = agent_real_pthread_create(&th, &attr, helper_main, (void *)(intptr_t)fd);
  pthread_attr_destroy(&attr);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
  if (r != 0) { rsys1(SYS_close, fd); return -EAGAIN; }
  for (int waited = 0; !helper_started && waited < HELPER_START_WAIT_MS; waited++) agent_futex_wait(&helper_started, 0, 1);
  netlink_fd = fd;
  made_pid = agent.real_pid;
  made_restarts = agent.restarts;
  return fd;
}

static long register_slot(int mq, int slot) {
  int fd = ensure_helper();
  if (fd < 0) return fd;
  struct kernel_sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.notify = KERNEL_SIGEV_THREAD;
  ev.signo = fd;
  ev.value = (uint64_t)(uintptr_t)calls[slot].cookie;
  return rsys2(SYS_mq_notify, mq, &ev);
}

int mq_threads_register(int mq, const struct sigevent *ev) {
  int slot = -1;
  for (int i = 0; i < MAX_CALLS; i++) {
    if (calls[i].used && calls[i].mq == mq) calls[i].used = 0;   /* a queue has one registration */
    if (!calls[i].used && slot < 0) slot = i;
  }
  if (slot < 0) { errno = ENOMEM; return -1; }
  struct call_record *c = &calls[slot];
  c->mq = mq;
  c->fn = ev->sigev_notify_function;
  c->value = ev->sigev_value;
  uint32_t magic = COOKIE_MAGIC, id = (uint32_t)slot;
  memset(c->cookie, 0, sizeof c->cookie);
  memcpy(c->cookie, &magic, 4);
  memcpy(c->cookie + 4, &id, 4);
  c->used = 1;
  long r = register_slot(mq, slot);
  if (r < 0) { c->used = 0; errno = (int)-r; return -1; }
  return slot;
}

void mq_threads_forget(int mq) {
  for (int i = 0; i < MAX_CALLS; i++) if (calls[i].used && calls[i].mq == mq) calls[i].used = 0;
}

int mq_threads_again(int mq, int slot) {
  if (slot < 0 || slot >= MAX_CALLS || !calls[slot].used) return -EINVAL;
  calls[slot].mq = mq;
  return (int)register_slot(mq, slot);
}
