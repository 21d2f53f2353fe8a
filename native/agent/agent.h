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
#include <signal.h>
#include <sys/types.h>
#include <sys/socket.h>

#define AGENT_MAX_THREADS 1024
#define AGENT_MAX_FDS 1024
#define AGENT_FD_PATH_MAX 1024
#define AGENT_COORD_FD_MIN 820      /* our coordinator socket sits above the program's fds */
#define AGENT_LINE_MAX 65536
#define AGENT_RESTORE_STACK_SIZE (64 * 1024)
#define AGENT_FAIL_RC 99

/* The library is built with hidden visibility; only the wrappers are its interface. */
#define AGENT_EXPORT __attribute__((visibility("default")))

/* Callee-saved registers, stack pointer and resume address (see context.S). */
struct agent_ctx { uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip; };

enum thread_state {
  THREAD_FREE = 0,   /* unused slot */
  THREAD_SIGNALED,   /* checkpoint signal sent, not yet parked */
  THREAD_PARKED,     /* in the handler, context saved, waiting for resume */
  THREAD_REBORN,     /* re-created after a restart, waiting for resume */
  THREAD_GONE,       /* exited before it could park */
};

struct thread_record {
  int real_tid;
  int virt_tid;               /* what the program sees (its tid at first launch) */
  volatile int state;
  uint64_t fs_base;           /* thread pointer: glibc's struct pthread */
  uint64_t pending;           /* signals pending on this thread at checkpoint */
  struct agent_ctx ctx;
};

enum fd_kind { FD_FILE = 1, FD_TTY, FD_PIPE, FD_SOCKET, FD_DEVICE, FD_OTHER };

struct fd_record {
  int fd;
  int kind;
  int status_flags;           /* F_GETFL */
  int fd_flags;               /* F_GETFD (FD_CLOEXEC) */
  int64_t offset;
  int deleted;
  unsigned mode;              /* permission bits, to recreate a deleted file */
  uint64_t saved_data;        /* a deleted file's contents, copied into memory so */
  uint64_t saved_len;         /* the image carries them (see process_state.c) */
  char path[AGENT_FD_PATH_MAX];
};

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
  char ckpt_dir[PATH_MAX];
  char node_path[PATH_MAX];
  char encoder_path[PATH_MAX];
  char encoder_socket[108];   /* the resident encoder (DMTCP_ENCODER_SOCKET); empty: none */
};

struct agent_state {
  int active;                 /* connected to a coordinator and checkpointable */
  struct agent_config config;
  char prog[256];
  char hostname[256];
  char unique_id[128];
  int generation;             /* images written by this process so far */
  int restarted;              /* 1 once this process has come back from an image */
  int ppid_virtual;           /* getppid() answers virt_ppid, not the kernel */

  /* pids as the program sees them, and as the kernel knows them now */
  pid_t virt_pid, real_pid, virt_ppid;
  int ckpt_real_tid;

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
  uint64_t process_pending;
  struct fd_record fds[AGENT_MAX_FDS];
  int nfds;
  char cwd[PATH_MAX];
  struct { uint64_t cur, max; } rlimits[16];   /* RLIM_NLIMITS on x86_64 */
  unsigned umask_value;

  char last_image[PATH_MAX];
  char restart_info[4096];
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
void agent_say(const char *msg);                    /* "dmtcp: msg\n" on stderr */
size_t agent_strlcpy(char *dst, const char *src, size_t size);
char *agent_fmt_u64(char *dst, uint64_t v, int base);  /* returns end, NUL-terminated */
uint64_t agent_parse_u64(const char *s, int base, const char **end);
uint64_t agent_get_fs_base(void);
void agent_set_fs_base(uint64_t base);
void agent_futex_wait(volatile int *addr, int expected, long timeout_ms);
void agent_futex_wake(volatile int *addr);
pid_t agent_real_gettid(void);
int agent_read_file(const char *path, char *buf, size_t size);  /* bytes read, -errno */

/* threads.c */
int threads_install_handler(void);
int threads_suspend_all(void);
void threads_resume_all(void);
void threads_recreate_after_restart(void);
void threads_wait_reborn(void);
void threads_register_rseq(uint64_t fs_base);
int threads_virt_of_real(int real_tid);
int threads_real_of_virt(int virt_tid);

/* process_state.c: fds, signals, cwd, umask */
void process_state_save(void);
void process_state_release(void);         /* after the image is written */
void process_state_restore_early(void);   /* before threads exist again */
void process_state_raise_pending(void);   /* after threads are back */
void process_state_restore_limits(void);  /* after the coordinator socket is back */

/* capture.c */
int capture_write_image(const char *final_path, char *why, size_t why_size);

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
int coord_read_line(char *buf, size_t size);
int coord_send(const char *line);
const char *coord_field(const char *line, const char *key, char *out, size_t size);

/* checkpoint_thread.c */
void checkpoint_thread_start(void);

/* restore_entry.c */
void agent_restore_entry(void *handoff) __attribute__((noreturn));

/* sigwrap.c */
int agent_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#endif
