/* The checkpoint thread starts when it is first needed.
 *
 * Most processes of a computation live a few milliseconds: a shell forks, the
 * child execs, the program exits. A second thread in each of them is paid for
 * three times over: its creation, the exec that must kill it and wait for it
 * to go (the kernel's de_thread), and an exit that must do the same; on a VM
 * each of those is a cross-CPU interrupt or two. So a new process does not
 * start its checkpoint thread: it asks the kernel to signal it when the
 * coordinator writes to it (O_ASYNC on the connection, F_SETSIG with our
 * checkpoint signal), and the handler starts the thread then. The first thing
 * the coordinator ever sends a process is a barrier, a KILL or the id a
 * process must take instead of the one it chose (coord_link.c), and the
 * thread reads it.
 *
 * pthread_create is not async-signal-safe: it takes the stack cache lock,
 * allocates the thread's TLS vector with calloc and may take the loader's TLS
 * lock. The handler starts the thread only where the interrupted code cannot
 * hold any of those: outside libc, the loader and this library, or blocked in
 * one of the kernel's waits (a thread sleeping in read or poll holds no lock
 * of libc's), and never inside a program signal handler (which may have
 * interrupted malloc) nor inside fork (glibc holds every malloc lock there).
 * Elsewhere it tries again every RETRY_NS from a timer of its own. A program
 * whose malloc is not glibc's (jemalloc and the like have locks we cannot
 * see) gets its thread at once, as before. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include "agent.h"
#include "raw_syscall.h"

#define UNSAFE_TEXT_MAX 16
#define RETRY_NS 2000000L           /* 2 ms between attempts where the handler may not start it */
#define RETRY_LIMIT 250             /* then (0.5 s) it starts anyway: a checkpoint must not wait forever */
#define RETRY_TIMER_MAGIC 0x444d5443 /* sigev_value of our timer ("DMTC") */
#define SYSCALL_INSN_0 0x0f
#define SYSCALL_INSN_1 0x05

/* Executable segments where an interrupted thread may hold a lock that
 * pthread_create takes: libc's, the loader's, ours. Inherited by fork. */
static struct { uintptr_t lo, hi; } unsafe_text[UNSAFE_TEXT_MAX];
static int n_unsafe_text;

static volatile int thread_started;   /* 1 once started (or starting) in this process */
static int armed;                     /* O_ASYNC is on the coordinator connection */
static int retry_timer = -1;          /* kernel timer id, -1: none */
static int retries;

/* glibc holds its malloc locks around fork (fork.c sets this) */
__thread int agent_in_fork __attribute__((tls_model("initial-exec")));

static const void *objects_of_interest[3];

static int segment_walk(struct dl_phdr_info *info, size_t size, void *unused) {
  (void)size; (void)unused;
  int wanted = 0;
  for (int k = 0; k < 3; k++) {
    uintptr_t a = (uintptr_t)objects_of_interest[k];
    for (int i = 0; i < info->dlpi_phnum && a && !wanted; i++) {
      const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
      uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
      if (ph->p_type == PT_LOAD && a >= lo && a < lo + ph->p_memsz) wanted = 1;
    }
  }
  if (!wanted) return 0;
  for (int i = 0; i < info->dlpi_phnum && n_unsafe_text < UNSAFE_TEXT_MAX; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    unsafe_text[n_unsafe_text].lo = info->dlpi_addr + ph->p_vaddr;
    unsafe_text[n_unsafe_text].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    n_unsafe_text++;
  }
  return 0;
}

static uintptr_t object_base(const void *addr) {
  struct agent_object o;
  return agent_object_of(addr, &o) ? o.base : 0;
}

/* 0 when the program's calloc is not libc's: then the thread starts at once.
 * Once per program: a forked child has its parent's. */
static int unsafe_text_known, lazy_possible;
static int find_unsafe_text(void) {
  if (unsafe_text_known) return lazy_possible;
  unsafe_text_known = 1;
  const void *libc_fn = dlsym(RTLD_DEFAULT, "__libc_start_main");
  const void *calloc_fn = dlsym(RTLD_DEFAULT, "calloc");
  if (!libc_fn || !calloc_fn || object_base(libc_fn) != object_base(calloc_fn)) return 0;
  objects_of_interest[0] = libc_fn;
  objects_of_interest[1] = dlsym(RTLD_DEFAULT, "__tls_get_addr");   /* the loader */
  objects_of_interest[2] = (const void *)&find_unsafe_text;        /* us */
  n_unsafe_text = 0;
  dl_iterate_phdr(segment_walk, 0);
  lazy_possible = n_unsafe_text > 0;
  return lazy_possible;
}

static int in_unsafe_text(uintptr_t pc) {
  for (int i = 0; i < n_unsafe_text; i++)
    if (pc >= unsafe_text[i].lo && pc < unsafe_text[i].hi) return 1;
  return 0;
}

/* The kernel's waits: a thread asleep in one holds no lock of libc's. (futex
 * is one: pthread_cond_wait and friends sleep in it; the lock waits inside
 * malloc that hold another lock happen only in fork, excluded above.) */
static int blocking_syscall(long nr) {
  switch (nr) {
  case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv: case SYS_preadv2:
  case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev: case SYS_pwritev2:
  case SYS_recvfrom: case SYS_recvmsg: case SYS_recvmmsg: case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg:
  case SYS_accept: case SYS_accept4: case SYS_connect:
  case SYS_wait4: case SYS_waitid:
  case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
  case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
  case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_pause: case SYS_rt_sigsuspend:
  case SYS_rt_sigtimedwait: case SYS_futex: case SYS_restart_syscall:
  case SYS_msgrcv: case SYS_msgsnd: case SYS_semop: case SYS_semtimedop:
  case SYS_mq_timedreceive: case SYS_mq_timedsend: case SYS_flock: case SYS_fcntl:
  case SYS_open: case SYS_openat: case SYS_io_getevents:
    return 1;
  default:
    return 0;
  }
}

static int interrupted_safely(const ucontext_t *uc) {
  if (agent_in_fork) return 0;
  /* A program's handler runs with its own signal blocked, beyond what the
   * program's mask blocks: we may be on top of one, and it on top of malloc. */
  uint64_t mask;
  memcpy(&mask, &uc->uc_sigmask, sizeof mask);
  if (agent_signals_blocked_beyond_program(mask) & agent_program_handled_signals()) return 0;
  uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
  long ax = (long)uc->uc_mcontext.gregs[REG_RAX];
  if (!in_unsafe_text(pc)) return 1;
  const unsigned char *p = (const unsigned char *)pc;
  /* SA_RESTART: the kernel put the pc back on the syscall instruction and the
   * call's number back in rax, to make the call again. */
  if (p[0] == SYSCALL_INSN_0 && p[1] == SYSCALL_INSN_1 && blocking_syscall(ax)) return 1;
  /* A wait that ends with EINTR instead (epoll_wait, pause, ...). */
  if (in_unsafe_text(pc - 2) && p[-2] == SYSCALL_INSN_0 && p[-1] == SYSCALL_INSN_1 && ax == -EINTR) return 1;
  return 0;
}

static void disarm(void) {
  if (armed && agent.coord_fd >= 0) {
    long fl = rsys2(SYS_fcntl, agent.coord_fd, F_GETFL);
    if (fl >= 0) rsys3(SYS_fcntl, agent.coord_fd, F_SETFL, fl & ~O_ASYNC);
  }
  armed = 0;
  if (retry_timer >= 0) rsys1(SYS_timer_delete, retry_timer);
  retry_timer = -1;
}

static void start_now(void) {
  if (__atomic_exchange_n(&thread_started, 1, __ATOMIC_SEQ_CST)) return;
  disarm();
  checkpoint_thread_start();
}

static int readable(int fd) {
  struct pollfd p = { fd, POLLIN, 0 };
  return rsys3(SYS_poll, &p, 1, 0) > 0;
}

/* O_ASYNC on the link; 0 when that failed (or cannot be used): start now. */
static int arm_link(void) {
  struct f_owner_ex owner = { F_OWNER_PID, agent.real_pid };
  long fl = agent.coord_fd >= 0 ? rsys2(SYS_fcntl, agent.coord_fd, F_GETFL) : -1;
  if (fl < 0 || !find_unsafe_text() ||
      rsys3(SYS_fcntl, agent.coord_fd, F_SETOWN_EX, &owner) < 0 ||
      rsys3(SYS_fcntl, agent.coord_fd, F_SETSIG, agent.config.ckpt_signal) < 0 ||
      rsys3(SYS_fcntl, agent.coord_fd, F_SETFL, fl | O_ASYNC) < 0)
    return 0;
  armed = 1;
  return 1;
}

static void arm_retry_timer(void);

/* From our signal handler: start the thread if the interrupted code holds no
 * lock pthread_create takes, else try again from the retry timer. */
static void start_when_safe(void *uctx) {
  if (thread_started) return;
  if (interrupted_safely((const ucontext_t *)uctx) || ++retries > RETRY_LIMIT) start_now();
  else arm_retry_timer();
}

/* A child that joined late (lazy_join.c), from our signal handler. */
void checkpoint_thread_arm_in_handler(void *uctx) {
  if (thread_started) return;
  /* No dlsym here (find_unsafe_text): every process armed its link at start
   * (agent_main.c) or before its fork, so a child has its parent's answer. */
  if (!arm_link() || readable(agent.coord_fd)) start_when_safe(uctx);
}

void checkpoint_thread_arm(void) {
  if (thread_started) return;
  if (agent.config.no_coordinator) {
    /* No link to watch: the request is a signal, which the handler takes
     * below; checkpoints on a timer need the thread from the start. */
    if (!find_unsafe_text() || agent.config.interval_s > 0) start_now();
    return;
  }
  if (!arm_link()) {
    start_now();
    return;
  }
  /* what came before O_ASYNC was on signals nothing */
  if (readable(agent.coord_fd)) start_now();
}

void checkpoint_thread_ensure(void) {
  lazy_join_now();   /* the thread needs our link */
  if (!thread_started && agent.active) start_now();
}

void checkpoint_thread_before_exec(void) {
  /* The new program's agent installs our handler only after its loader ran;
   * until then the signal's default action would end the process. */
  if (!armed || agent.coord_fd < 0) return;
  long fl = rsys2(SYS_fcntl, agent.coord_fd, F_GETFL);
  if (fl >= 0) rsys3(SYS_fcntl, agent.coord_fd, F_SETFL, fl & ~O_ASYNC);
}

void checkpoint_thread_exec_failed(void) {
  if (!armed || agent.coord_fd < 0) return;
  long fl = rsys2(SYS_fcntl, agent.coord_fd, F_GETFL);
  if (fl >= 0) rsys3(SYS_fcntl, agent.coord_fd, F_SETFL, fl | O_ASYNC);
  if (readable(agent.coord_fd)) start_now();
}

void checkpoint_thread_forget(void) {
  /* fork: the child has no thread of ours, and no timer (timers are not inherited) */
  AGENT_SET(thread_started, 0);
  AGENT_SET(armed, 0);
  AGENT_SET(retry_timer, -1);
  AGENT_SET(retries, 0);
}

static void arm_retry_timer(void) {
  if (retry_timer >= 0) return;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = agent.config.ckpt_signal;
  sev.sigev_value.sival_int = RETRY_TIMER_MAGIC;
  int id = -1;
  if (rsys3(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) < 0) return;
  struct itimerspec every = { { 0, RETRY_NS }, { 0, RETRY_NS } };
  rsys4(SYS_timer_settime, id, 0, &every, 0);
  retry_timer = id;
}

int checkpoint_thread_lazy_signal(const siginfo_t *info, void *uctx) {
  int from_link = info->si_code >= POLL_IN && info->si_code <= POLL_HUP && info->si_fd == agent.coord_fd && agent.coord_fd >= 0;
  int from_timer = info->si_code == SI_TIMER && info->si_value.sival_int == RETRY_TIMER_MAGIC;
  int asked = solo_is_request(info);   /* --no-coordinator: `kill -USR2 <pid>` (solo.c) */
  if (!from_link && !from_timer && !asked) return lazy_join_signal(info, uctx);
  if (asked) solo_request();
  if (thread_started) return 1;   /* one more that was on its way */
  start_when_safe(uctx);
  return 1;
}
