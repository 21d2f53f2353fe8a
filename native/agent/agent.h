/* The agent: libdmtcp.so, preloaded into every process of a computation.
 *
 * One process-wide state record (`agent`) lives in this library's .bss. That is on
 * purpose: the whole of memory, this record included, is what an image saves, so
 * after a restart the agent finds its thread table, saved contexts and settings
 * exactly where it left them. */
#ifndef DMTCP_AGENT_H
#define DMTCP_AGENT_H
#include <stdint.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/socket.h>

#define AGENT_MAX_THREADS 1024
#define AGENT_MAX_FDS 1024
#define AGENT_FD_PATH_MAX 1024
#define PROTOCOL_VERSION "1"        /* docs/protocol.md: the coordinator's line protocol */
#define AGENT_COORD_FD_MIN 820      /* our coordinator socket sits above the program's fds */
#define AGENT_LINE_MAX 65536
#define AGENT_RESTORE_STACK_SIZE (64 * 1024)
#define AGENT_FAIL_RC 99
#define AGENT_MAX_PIDS 4096          /* processes of the computation a pid table maps */
#define AGENT_MAX_ZOMBIES 256        /* exited, unreaped children an image records */
#define AGENT_UNTOLD_MAX 32          /* forked children noted before the coordinator is told of them */

/* The library is built with hidden visibility; only the wrappers are its interface. */
#define AGENT_EXPORT __attribute__((visibility("default")))
/* Code a forked child runs before it returns from fork: together on one or
 * two pages (the linker groups .text.hot.*), since a child faults in each
 * page of code it runs (fork copies no page table of a file mapping without
 * private pages), and in each page of data it writes. */
#define AGENT_FORK_PATH __attribute__((section(".text.hot.agent_fork")))
/* ...so the child writes only what changes: a page it only reads stays shared. */
#define AGENT_SET(lvalue, value) do { if ((lvalue) != (value)) (lvalue) = (value); } while (0)

/* Callee-saved registers, stack pointer and resume address (see context.S). */
struct agent_ctx { uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip; };

enum thread_state {
  THREAD_FREE = 0,   /* unused slot */
  THREAD_SIGNALED,   /* checkpoint signal sent, not yet parked */
  THREAD_PARKED,     /* in the handler, context saved, waiting for resume */
  THREAD_REBORN,     /* re-created after a restart, waiting for resume */
  THREAD_GONE,       /* exited before it could park */
  THREAD_UNPARKABLE, /* blocks the checkpoint signal with a raw call (glibc's timer
                      * helper thread): left where it waits, not in the image */
};

/* Kernel tids a thread had before its latest restarts, newest last: glibc
 * wrote them into the mutexes and clock ids it handed out (lock_owners.c). */
#define AGENT_PAST_TIDS 8

struct thread_record {
  int real_tid;
  int virt_tid;               /* what the program sees (its tid at first launch) */
  int past_tids[AGENT_PAST_TIDS];
  int npast;                  /* how many restarts this thread went through (the last AGENT_PAST_TIDS kept) */
  int64_t cpu_at_stop_ns;     /* its CPU time when the checkpoint stopped it */
  int64_t cpu_offset_ns;      /* CPU time it used in its lives before this one (cpu_clocks.c) */
  volatile int state;
  uint64_t fs_base;           /* thread pointer: glibc's struct pthread */
  uint64_t pending;           /* signals pending on this thread at checkpoint */
  struct agent_ctx ctx;
};

enum fd_kind {
  FD_FILE = 1, FD_TTY, FD_PIPE, FD_SOCKET, FD_DEVICE, FD_OTHER, FD_DIR, FD_PTMX,
  /* kernel objects without a path, each in a file of its own (fd_kinds.c) */
  FD_EVENTFD, FD_TIMERFD, FD_SIGNALFD, FD_EPOLL, FD_INOTIFY, FD_MQUEUE,
};

#define AGENT_TERMIOS_SIZE 36
#define AGENT_SIGINFO_SIZE 128
#define AGENT_MAX_PENDING_INFO 64
#define AGENT_SOCKADDR_MAX 112  /* sockaddr_un (110) rounded up; holds sockaddr_in6 */   /* the kernel's struct termios (TCGETS) on x86_64 */

/* How a description is known to the other processes (fd_share.c). */
enum fd_share {
  SHARE_NONE = 0,   /* not recognized: restored alone, by path */
  SHARE_TAG,        /* a seekable file: owner_virt/owner_fd from the offset tag */
  SHARE_OWNER,      /* anything else with an owner from F_SETOWN: owner_virt */
  SHARE_PIPE,       /* a pipe or FIFO end: dev/ino and the access mode */
  SHARE_ANON,       /* an epoll set, signalfd or timerfd: owner_virt from F_SETOWN, owner_fd by kcmp */
};

struct fd_record {
  int fd;
  int kind;
  int status_flags;           /* F_GETFL */
  int fd_flags;               /* F_GETFD (FD_CLOEXEC) */
  int64_t offset;
  int deleted;
  int ckpted;                 /* --checkpoint-open-files: its contents are in saved_data */
  int overwrite;              /* ...written over a changed file at restart (file_policy.c) */
  int bq_type;                /* a batch-queue plugin's file: its type; -1: none */
  int64_t size_at_ckpt;       /* a regular file's size: a restart cuts back what was written after */
  unsigned mode;              /* permission bits, to recreate a deleted file */
  uint64_t saved_data;        /* a deleted file's contents, or a pipe's drained bytes, */
  uint64_t saved_len;         /* copied into memory so the image carries them */
  uint64_t dev, ino, rdev;    /* fstat */
  int share;                  /* enum fd_share */
  pid_t owner_virt;           /* the process the election chose for this description */
  int owner_fd;               /* SHARE_TAG, SHARE_ANON: its fd number for it */
  int orig_owner;             /* F_GETOWN before the election, put back after it */
  int drained;                /* we drained this pipe: saved_data holds its bytes */
  int pipe_size;              /* F_GETPIPE_SZ */
  int placed;                 /* restart: the restorers put this fd in place */
  int pty;                    /* a pty master's or slave's number (TIOCGPTN, /dev/pts/N); -1 */
  int sock_domain, sock_type; /* sockets (sockets.c) */
  int sock_unnamed;           /* a Unix socket without a name: a socketpair's end */
  int sock_passcred;          /* SO_PASSCRED */
  uint64_t sock_peer;         /* a Unix socket's peer inode (sock_diag); 0: none */
  int sock_protocol;          /* SO_PROTOCOL */
  int sock_listening;         /* SO_ACCEPTCONN */
  int sock_shutdown;          /* Unix: the kernel's sk_shutdown (1 receive, 2 send): a peer that closed */
  int sock_backlog;           /* a listener's listen() backlog (sock_diag, TCP_INFO); -1: unknown */
  int sock_tcp_state;         /* TCP: tcpi_state (1 ESTABLISHED, 10 LISTEN, ...); 0: not TCP */
  uint32_t sock_opts;         /* SOCK_OPT_* of tree_format.h: the options a restart sets again */
  int sock_rcvbuf, sock_sndbuf;   /* as getsockopt reports them (twice what was asked) */
  int sock_widened;           /* TCP: its receive buffer widened for this checkpoint (sockets_open_windows) */
  uint32_t sock_unsent;       /* TCP: bytes written and not sent yet (SIOCOUTQNSD) */
  uint64_t sock_unsent_data;  /* ...their copy, when the kernel let us read the send queue */
  uint32_t sock_local_len, sock_remote_len;
  unsigned char sock_local[AGENT_SOCKADDR_MAX];    /* getsockname */
  unsigned char sock_remote[AGENT_SOCKADDR_MAX];   /* getpeername; len 0: not connected */
  int has_termios;            /* terminals: their settings (terminal.c) */
  unsigned char termios[AGENT_TERMIOS_SIZE];
  unsigned short winsize[4];  /* rows, cols, xpixel, ypixel */
  /* descriptor kinds of fd_kinds.c (eventfd.c, timerfd.c, signalfd.c,
   * mqueue.c; epoll.c and inotify.c keep their watches in saved_data) */
  int ev_saved;               /* the state below was read at checkpoint */
  uint64_t ev_count;          /* eventfd: its counter; timerfd: expirations not read yet; mqueue: maxmsg */
  uint64_t ev_mask;           /* signalfd: the signals it reads; mqueue: msgsize */
  int ev_flags;               /* eventfd: EFD_SEMAPHORE; timerfd: TFD_TIMER_ABSTIME; mqueue: our mq_notify (kind + 1; 0: none) */
  int ev_clock;               /* timerfd: its clock; mqueue: mq_notify's signal */
  int64_t ev_value_ns;        /* timerfd: time to the next expiry (an absolute REALTIME deadline under ABSTIME); 0: disarmed;
                               * mqueue: mq_notify's sigev_value; eventfd: the kernel's id for it (eventfd-id) */
  int64_t ev_interval_ns;     /* timerfd: its period */
  char path[AGENT_FD_PATH_MAX];
};

/* A path the program watched with inotify_add_watch (inotify.c): the kernel
 * keeps only the inode; the restart adds the watch again by this path. */
#define AGENT_MAX_WATCHED 512
#define AGENT_WATCH_PATH_MAX 512
struct watched_path { uint64_t kdev, ino; char path[AGENT_WATCH_PATH_MAX]; };

/* A System V IPC object the computation uses (sysv.c): the id the program
 * knows and the kernel's id now, and what a checkpoint read of it. */
#define AGENT_MAX_SYSV 128
enum sysv_kind { SYSV_SHM = 1, SYSV_SEM, SYSV_MSG };
struct sysv_record {
  int kind, virt, real, key;
  unsigned mode;              /* permission bits; SHM_DEST for a segment marked for removal */
  uint64_t size;              /* shm: bytes; sem: semaphores; msg: the queue's byte limit */
  int alive;                  /* seen at this checkpoint */
  int drained;                /* msg: this process took the messages (and put them back) */
  uint64_t data, data_len;    /* sem: values (u16 each); msg: [i64 type][u32 len][bytes]... */
};

/* A POSIX timer (timers.c), as /proc/self/timers and timer_gettime show it. */
#define AGENT_MAX_TIMERS 256
struct timer_record {
  int id, clock, notify, signo;   /* notify: SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID */
  int thread_virt;                /* SIGEV_THREAD_ID: the thread it signals, virtual tid */
  uint64_t value;                 /* sigev_value */
  int64_t value_ns, interval_ns;  /* time to the next expiry (0: disarmed), period */
};
struct itimer_record { int64_t value_us, interval_us; };

/* The kernel's struct sigaction for rt_sigaction(2). */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

struct agent_config {
  char coord_host[256];
  int coord_port;
  int ckpt_signal;
  int gzip;
  int hbict;                  /* delta images (DMTCP_HBICT=1): the encoder's job */
  int fsync;                  /* DMTCP_FSYNC=1: images reach the disk before rename */
  int ckpt_open_files;        /* DMTCP_CKPT_OPEN_FILES=1: open files travel in the image (fds.c) */
  int allow_file_overwrite;   /* DMTCP_ALLOW_FILE_OVERWRITE=1: a restart writes them over changed ones */
  char ckpt_dir[PATH_MAX];
  char node_path[PATH_MAX];
  char encoder_path[PATH_MAX];
  char encoder_socket[108];   /* the resident encoder (DMTCP_ENCODER_SOCKET); empty: none */
  int no_coordinator;         /* DMTCP_NO_COORDINATOR=1: the process checkpoints itself (solo.c) */
  int interval_s;             /* with it, DMTCP_CHECKPOINT_INTERVAL: seconds between checkpoints (0: none) */
  int quiet;                  /* DMTCP_QUIET (-q): 2 and more keep our warnings to ourselves (util.c) */
  int forked;                 /* DMTCP_FORKED_CHECKPOINT: FORKED_AUTO (unset), FORKED_ON (1), FORKED_OFF (0) */
  char gzip_engine_env[48];   /* "DMTCP_GZIP_ENGINE=..." for the encoders we start; empty: unset */
};

enum { FORKED_AUTO = 0, FORKED_ON = 1, FORKED_OFF = 2 };

/* One process of the computation: the pid the program knows it by, and the
 * pid the kernel gave it at the latest restart (pid_table.c). */
struct pid_pair { pid_t virt, real; };

/* A child that has exited and is not reaped yet (children.c). */
struct zombie_record { pid_t virt, real; int status; };

struct agent_state {
  int active;                 /* connected to a coordinator and checkpointable */
  struct agent_config config;
  char prog[256];
  char comm[16];              /* the kernel's name of the process (/proc/self/comm), put back at restart */
  char hostname[256];
  char unique_id[128];
  int generation;             /* images written by this process so far */
  int restarted;              /* 1 once this process has come back from an image */
  int is_root;                /* the process dmtcp_launch started (restart: the tree's root) */
  volatile int restarts;      /* restarts of this process: a blocked wrapper notices one */
  /* Program time (wrappers/waits.c): CLOCK_MONOTONIC when this process took
   * its last image, and all the time that passed between the stops of the
   * checkpoints it came back from and their restarts (which a relative wait
   * does not count). */
  int64_t ckpt_mono_ns;
  int64_t suspend_mono_ns;    /* CLOCK_MONOTONIC when the threads stopped for this checkpoint */
  int64_t lost_ns;
  int64_t cpu_at_ckpt_ns;     /* the process's CPU time at its checkpoint */
  int64_t cpu_offset_ns;      /* and what it used in its lives before this one (cpu_clocks.c) */
  int suspended;              /* between SUSPEND and RESUME (a barrier may come twice after exec) */

  /* pids as the program sees them, and as the kernel knows them now. virt_ppid
   * is the parent as the program knew it, valid while the kernel's parent is
   * still parent_real (see getppid in pidvirt.c). */
  pid_t virt_pid, real_pid, virt_ppid, parent_real;
  int ckpt_real_tid;

  /* The other processes of the computation whose pids differ from the kernel's
   * (set at restart, inherited by fork and carried across exec). */
  struct pid_pair pids[AGENT_MAX_PIDS];
  int npids;
  struct zombie_record zombies[AGENT_MAX_ZOMBIES];
  int nzombies;

  /* The checkpoint gate (gate.c): fork and exec run whole or not at all
   * between two checkpoints. */
  volatile int gate_in_flight;
  volatile int gate_closed;
  /* Children our fork wrapper made that the coordinator was not told of yet
   * (coord_link.c, forked_*): beside the gate, whose page a fork's parent writes anyway. */
  volatile pid_t untold[AGENT_UNTOLD_MAX];
  char self_path[PATH_MAX];   /* this library, put back in LD_PRELOAD at exec */
  char exe_path[PATH_MAX];    /* the program, as /proc/self/exe named it at its first checkpoint (after a
                               * restart the kernel names the restorer: procfs.c answers this) */

  int coord_fd;
  struct sockaddr_storage coord_addr;
  socklen_t coord_addr_len;

  /* glibc's struct pthread: where it caches the thread's tid */
  long pthread_tid_offset;

  struct thread_record threads[AGENT_MAX_THREADS];
  int nthreads;
  volatile int parked_count;
  volatile int reborn_count;
  volatile int resume_seq;

  struct agent_ctx ckpt_ctx;   /* the checkpoint thread, saved just before writing */
  uint64_t ckpt_fs_base;

  struct kernel_sigaction sigactions[65];
  struct sysv_record sysv[AGENT_MAX_SYSV];
  int nsysv;
  struct watched_path watched[AGENT_MAX_WATCHED];
  int nwatched;
  struct timer_record timers[AGENT_MAX_TIMERS];
  int ntimers;
  struct itimer_record itimers[3];   /* ITIMER_REAL, _VIRTUAL, _PROF */
  uint64_t process_pending;
  /* The process's pending signals with their siginfo (a timer's value, a
   * sigqueue's data), queued again as they were at a restart. */
  struct { int sig; unsigned char info[AGENT_SIGINFO_SIZE]; } pending_info[AGENT_MAX_PENDING_INFO];
  int npending_info;
  struct fd_record fds[AGENT_MAX_FDS];
  int nfds;
  int fds_saved;              /* the fd table of this checkpoint is saved (ELECT) */
  int share_marked;           /* ELECT marked our descriptions; CHECKPOINT (or RESUME) undoes it */

  /* After a restart, until every process of the tree refilled its pipes: the
   * restorers' shared tree map (native/common/tree_format.h). */
  uint64_t tree_addr, tree_len;
  int tree_index;
  char cwd[PATH_MAX];
  struct { uint64_t cur, max; } rlimits[16];   /* RLIM_NLIMITS on x86_64 */
  unsigned umask_value;

  /* The checkpoint being written, as the coordinator told it (CHECKPOINT
   * barrier): the computation, its generation, and every process in it. */
  uint64_t ctty_rdev;         /* our controlling terminal's device (0: none) */
  pid_t ctty_foreground;      /* its foreground group, virtual (session leaders and the root) */
  int ctty_foreground_own;    /* that group was our own */
  int restart_foreground;     /* restart: the root's restart command had the terminal's foreground */
  int winch_pending;          /* restart: the terminal's size differs from the saved one */

  char comp_id[128];
  int comp_gen;
  int barrier_gen;            /* the generation the coordinator's latest barrier named */
  char members[AGENT_LINE_MAX];

  char last_image[PATH_MAX];
  char restart_info[4096];
  /* The raw image this process's memory is partly mapped from since its last
   * restart (restart info `image_map`; 0: none): device numbers as
   * /proc/self/maps shows them, and the inode. */
  uint64_t image_map_major, image_map_minor, image_map_ino;
  /* dmtcp_restart's environment at the latest restart (NAME=value\0 ...), in
   * a mapping of our own; 0: never restarted (dmtcp_get_restart_env) */
  uint64_t restart_environ, restart_environ_len;
  char restore_stack[AGENT_RESTORE_STACK_SIZE] __attribute__((aligned(16)));
};

extern struct agent_state agent;

/* context.S */
int agent_ctx_save(struct agent_ctx *ctx) __attribute__((returns_twice));
void agent_ctx_jump(struct agent_ctx *ctx, int value) __attribute__((noreturn));
long agent_clone_into(unsigned long flags, void *stack, int *ptid, int *ctid,
                      unsigned long tls, void *arg);

/* util.c: signal-safe helpers (no malloc, no stdio) */
long agent_write_all(int fd, const void *buf, size_t len);
void agent_say_error(const char *msg);   /* agent_say, even under -q -q: the process stops after it */
void agent_say(const char *msg);                    /* "dmtcp: msg\n" on stderr */
void agent_say_hold(void);                          /* SUSPEND: lines wait until the offsets are back */
void agent_say_release(void);                       /* then they are written */
size_t agent_strlcpy(char *dst, const char *src, size_t size);
char *agent_fmt_u64(char *dst, uint64_t v, int base);  /* returns end, NUL-terminated */
uint64_t agent_parse_u64(const char *s, int base, const char **end);
/* Calls each(n, dir fd, ctx) for every entry of a /proc folder named by a
 * number (fds, tasks); 0, or -errno when the folder cannot be opened. */
int agent_each_numbered(const char *dir_path, void (*each)(int n, int dir, void *ctx), void *ctx);
uint64_t agent_get_fs_base(void);
void agent_set_fs_base(uint64_t base);
void agent_futex_wait(volatile int *addr, int expected, long timeout_ms);
void agent_futex_wake(volatile int *addr);
void agent_futex_wait_shared(volatile uint32_t *addr, uint32_t expected, long timeout_ms);  /* across processes */
void agent_futex_wake_shared(volatile uint32_t *addr);
pid_t agent_real_gettid(void);
int agent_read_file(const char *path, char *buf, size_t size);  /* bytes read, -errno */
struct agent_object { uintptr_t base; const char *name; };
int agent_object_of(const void *addr, struct agent_object *out);   /* 1: found (util.c) */
/* A hex mask field of a /proc status text ("SigPnd:\t0000000000000200"): its value, 0 if absent. */
uint64_t agent_status_hex(const char *status, const char *field);
/* "/proc/self/task/<tid>/<leaf>" */
void agent_task_path(char *out, size_t size, int tid, const char *leaf);

/* threads.c */
int threads_install_handler(void);
/* How many times the checkpoint handler stopped this thread: a wrapper that
 * sees it move during a call knows an EINTR was the checkpoint's (waits.c).
 * Initial-exec TLS: read in the handler, no allocation, no lock. */
extern __thread volatile unsigned agent_thread_stops __attribute__((tls_model("initial-exec")));
/* How many handlers of the program's ran on this thread (sigwrap.c counts
 * them in the trampoline it installs in their place). */
extern __thread volatile unsigned agent_program_handlers_run __attribute__((tls_model("initial-exec")));
/* What a wrapper reads before a call the checkpoint may end (waits.c): our
 * stops and the program's handlers on this thread. The call was cut by a
 * checkpoint, to be made again, when we stopped the thread as the call ended
 * and no handler of the program's ran meanwhile (whose EINTR is the
 * program's, even if a checkpoint came too). */
static inline uint64_t agent_call_mark(void) {
  return ((uint64_t)agent_thread_stops << 32) | agent_program_handlers_run;
}
static inline int agent_cut_by_checkpoint(uint64_t mark) {
  uint64_t now = agent_call_mark();
  return (uint32_t)now == (uint32_t)mark && (now >> 32) != (mark >> 32);
}
/* The handler sigwrap.c installs for the program's (runs_a_handler in threads.c). */
void agent_program_handler_trampoline(int sig, siginfo_t *info, void *uctx);
int64_t agent_mono_ns(void);   /* CLOCK_MONOTONIC (waits.c) */
#include <time.h>
clockid_t agent_clock_now(clockid_t clock);   /* a CPU-time clock id with the tid or pid of now (cpu_clocks.c) */
int64_t agent_cpu_ns(clockid_t clock);        /* the kernel's CPU time of a clock, raw */
int64_t threads_cpu_offset(int real_tid);     /* CPU time a thread used before its latest restart */
int threads_suspend_all(void);
void threads_resume_all(void);
struct thread_record *threads_leader_record(pid_t old_real_pid);
void threads_recreate_after_restart(const struct thread_record *leader);   /* every stopped thread but `leader` */
void threads_start_checkpoint_thread(void);
void threads_become(struct thread_record *t) __attribute__((noreturn));
void threads_wait_reborn(void);
void threads_register_rseq(uint64_t fs_base);
int threads_virt_of_real(int real_tid);
int threads_real_of_virt(int virt_tid);
int threads_real_of_any(int tid);        /* a tid the thread has or had (launch, past restarts) -> its tid now; 0: none */
int threads_had_tid(int real_tid_now, int tid);   /* 1: that thread had tid before */

/* pid_table.c: virtual <-> real pids of the computation's processes */
pid_t pid_real_of_virt(pid_t virt);
pid_t agent_real_task(pid_t id);   /* a pid or tid the program knows -> the kernel's now (pid_args.c) */
pid_t pid_virt_of_real(pid_t real);
AGENT_FORK_PATH int pid_table_conflicts(pid_t real);        /* a fresh pid that would shadow a virtual one */
void pid_table_set_self(void);              /* record our own pair (after a restart) */
int pid_table_format(char *out, size_t size);   /* "v:r,v:r" for exec */
void pid_table_parse(const char *text);

/* gate.c: fork/exec against the checkpoint thread */
void gate_enter(void);
void gate_leave(void);
void gate_close(void);       /* checkpoint thread: wait for wrappers in flight */
void gate_open(void);
int gate_held_here(void);    /* how many times this thread holds it (dmtcp_disable_ckpt nests) */
AGENT_FORK_PATH void gate_child_reset(void); /* fork child: no thread holds its gate */

/* api.c: dmtcp.h, the calls a program makes to the checkpointer */
const char *agent_program_path(void);   /* agent.exe_path, read once (util.c) */
int api_header_words(void);           /* dmtcp_add_to_ckpt_header's words (api_more.c) */
const char *api_header_key(int i);
const char *api_header_value(int i);
/* mq_threads.c: mq_notify(SIGEV_THREAD) made by the agent */
int mq_threads_register(int mq, const struct sigevent *ev);   /* the record's slot, or -1 (errno) */
void mq_threads_forget(int mq);                               /* the program registered otherwise, or let go */
int mq_threads_again(int mq, int slot);                       /* restart: 0 or -errno */
int mq_threads_fd(void);
void agent_sigev_thread_start(void (*fn)(union sigval), union sigval value);   /* timer_threads.c: fn(value) on a new detached thread */                                      /* our netlink socket in this life; -1: none */
int api_command_fd(void);    /* the connection a dmtcp.h call has open to the coordinator; -1: none */
enum api_hook { API_HOOK_PRE_CHECKPOINT, API_HOOK_POST_CHECKPOINT, API_HOOK_RESTART, API_HOOK_MOMENTS };
void api_run_hooks(enum api_hook moment);
/* plugins.c: --with-plugin libraries and their events (DmtcpEvent_t of dmtcp.h) */
void plugins_init(void);
AGENT_FORK_PATH void plugins_event(int event, int is_restart);   /* the program's dmtcpaware hooks, on the checkpoint thread */
void plugins_event_with(int event, void *data);  /* a DmtcpEventData_t of the event's own */
int agent_real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);   /* pthread_events.c: no events */
int agent_close_range(unsigned first, unsigned last, int flags);   /* fd_events.c: around our fds */
AGENT_FORK_PATH int plugins_loaded(void);                         /* how many: 0 keeps every wrapper's fast path */
void plugins_open_fd(int fd, const char *path, int flags, mode_t mode);
void plugins_reopen_fd(int fd, const char *path, int flags);
void plugins_close_fd(int fd);
void plugins_dup_fd(int old_fd, int new_fd);
void plugins_translate_path(int event, char *path);   /* in place, PATH_MAX */
void checkpoint_image_path(char *out, size_t size);   /* this process's image (checkpoint_thread.c) */

/* children.c: zombie children, recorded at checkpoint */
void children_save(void);

/* fork.c: a child joins the computation as its own process */
int agent_libc_clone(int (*fn)(void *), void *stack, int flags, void *arg);   /* the agent's own children: not through our wrapper */
AGENT_FORK_PATH void fork_child_join(void);

/* exec.c: identity carried across exec */
int exec_adopt_identity(void);   /* 1 when this process came from our exec wrapper */

#include "agent_fds.h"   /* fds.c, fd_share.c, terminal.c, fd_kinds.c, sockets.c, pipes.c, ... */

/* process_state.c: signals, cwd, umask, rlimits (and the fd table, fds.c) */
void process_state_save(void);
void process_state_release(void);         /* after the image is written */
void process_state_restore_early(void);   /* before threads exist again */
void process_state_raise_pending(void);   /* after threads are back */
void process_state_restore_limits(void);  /* after the coordinator socket is back */

/* sysv.c: System V IPC, ids virtualized */
void sysv_save(void);         /* at checkpoint */
void sysv_drain(void);        /* DRAIN: message queues, by one holder */
void sysv_release(void);      /* after the image */
void sysv_after_restart(const void *tree);   /* the kernel's new ids, from the restart tree */
void sysv_after_barrier(void);               /* every process attached: removals marked before */

/* timers.c: POSIX timers and interval timers (setitimer, alarm) */
void timers_save(void);       /* at checkpoint */
void timers_restore(void);
/* timer_threads.c: glibc's SIGEV_THREAD timers after a restart */
int timer_threads_is_glibc(uint64_t value, int id);
int timer_threads_helper(void);   /* our helper's tid, started on first need; -1 */
struct sigevent;
int timer_threads_create(clockid_t clock, const struct sigevent *ev, timer_t *timer, int *result);

/* capture.c */
int capture_write_image(const char *final_path, char *why, size_t why_size);
/* The same in two steps: what needs the live process (metadata, maps), then
 * the stream (forked_ckpt.c runs it in the image writer). */
int capture_prepare(char *why, size_t why_size);
const char *capture_maps_text(void);
int capture_stream_prepared(const char *final_path, char *why, size_t why_size);

/* forked_ckpt.c: forked checkpointing (docs/forked-checkpoint.md) */
const char *forked_why_not(const char *maps);   /* 0: fork a writer; else why not */
void forked_note_dontfork(void);   /* madvise(MADV_DONTFORK): never fork this process's image writer */
/* 0: the writer writes; after_resume: it waits for forked_release (at RESUME) */
int forked_start(const char *path, int gen, int after_resume, char *why, size_t why_size);
void forked_release(void);
int forked_writing(void);
int forked_poll_fd(void);      /* readable when the writer ended; -1: none (or poll by time) */
int forked_reap(int block);    /* 1: no writer left */
void forked_pidfd_lost(void);
void forked_kill(void);

/* encoder_link.c: the resident encoder. open returns the pipe to stream into
 * (and the connection in *conn) or -errno; finish closes the connection and
 * returns 0 (image written), 1 (failed; `why` says why) or -1 (no answer). */
int encoder_link_open(const char *const *args, int *conn);
int encoder_link_finish(int conn, char *why, size_t why_size);
/* Direct mode: waits for "direct OFFSET" and the image file; 0, or <0 (the
 * service refused or went away: finish tells which). */
int encoder_link_await_direct(int conn, int *image, uint64_t *pos);
/* Direct mode, between writes: whether the service asked for the rest inline. */
int encoder_link_switched(int conn);

/* coord_link.c */
int coord_connect_and_hello(int restart);
int coord_connect_and_send_hello(int restart, int wait_welcome);
int coord_take_welcome(const char *line);   /* 0 if it was a WELCOME (id adopted) */
int coord_send_exec(void);   /* after exec: same connection, new program */
void forked_note(pid_t child);        /* our wrapper made a child: the coordinator is told of it later (coord_link.c) */
void forked_reaped(pid_t child);      /* the parent reaped it: nobody needs to know of it */
void forked_tell(void);               /* tell the coordinator of every child noted (SUSPEND, exec, exit) */
AGENT_FORK_PATH void forked_child_forget(void);   /* fork child: the notes are its parent's */
int coord_link_is_local(void);        /* the link is the abstract socket: the coordinator is on this host */
int coord_read_line(char *buf, size_t size);
int coord_line_buffered(void);
int coord_send(const char *line);
const char *coord_field(const char *line, const char *key, char *out, size_t size);

/* solo.c: --no-coordinator, the barriers played by the process itself */
int solo_open(void);                          /* the request eventfd at the link's number */
void solo_request(void);                      /* async-signal-safe: a checkpoint, please */
int solo_is_request(const siginfo_t *info);   /* the checkpoint signal, sent from outside */
int solo_read_line(char *buf, size_t size);
int solo_answer(const char *line);
unsigned solo_finished(void);                 /* checkpoints over (written or failed) */
unsigned solo_failed(void);

/* checkpoint_thread.c */
void checkpoint_thread_start(void);

/* tcp_reuse.c: TCP listeners keep SO_REUSEADDR in the kernel, the program sees its own */
int tcp_reuse_answer(int fd, int level, int name, void *value, socklen_t *len);
void tcp_reuse_after_restart(void);
#define TCP_REUSE_ENV "DMTCP_TCP_REUSE"
#define TCP_REUSE_TEXT_MAX 8192
int tcp_reuse_export(char *out, size_t size);   /* exec: the program's SO_REUSEADDR view, as text */
void tcp_reuse_adopt(const char *text);        /* ...read back by the new program's agent */

/* lazy_thread.c: the checkpoint thread starts when the coordinator first writes */
void checkpoint_thread_arm(void);            /* a new process, or one that exec'd */
void checkpoint_thread_ensure(void);         /* now, from a context where that is safe */
void checkpoint_thread_before_exec(void);
void checkpoint_thread_exec_failed(void);
AGENT_FORK_PATH void checkpoint_thread_forget(void);         /* fork: the child has none */
int checkpoint_thread_lazy_signal(const siginfo_t *info, void *uctx);   /* 1: it was for this */
void checkpoint_thread_arm_in_handler(void *uctx);   /* a child that joined from our handler */

/* lazy_join.c: a forked child connects to the coordinator when it first matters */
AGENT_FORK_PATH int lazy_join_defer(void);          /* in the child of our fork wrapper: 1 if it joins later */
void lazy_join_now(void);           /* before exec, fork, the checkpoint thread */
int lazy_join_pending(void);
int lazy_join_signal(const siginfo_t *info, void *uctx);   /* 1: our join timer's */
AGENT_FORK_PATH void lazy_join_forget(void);        /* fork: the child starts joined (or defers anew) */
extern __thread int agent_in_fork __attribute__((tls_model("initial-exec")));

/* restore_entry.c */
void agent_restore_entry(void *handoff) __attribute__((noreturn));

/* sigwrap.c */
int agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
void agent_program_signal(int sig, siginfo_t *info, void *uctx);   /* a send of the program's own */
uint64_t agent_program_handled_signals(void);   /* signals the program has handlers for */
void agent_note_program_mask(void);               /* this thread's mask is the program's (at start) */
uint64_t agent_signals_blocked_beyond_program(uint64_t mask);   /* of mask, what the program did not block */

#endif
