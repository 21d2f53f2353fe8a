/* dmtcp.h: what a program calls to talk to the checkpointer it runs under.
 *
 * Source-compatible with the header of DMTCP 5: the same names, types, return
 * values and macros, so a program built against either runs under either.
 * The functions live in the agent, libdmtcp.so, which dmtcp_launch preloads.
 * Each is declared weak and wrapped in a macro of its own name: a program run
 * without dmtcp_launch (no agent) links and runs, and every call answers "not
 * here" (DMTCP_NOT_PRESENT, 0, NULL or "") instead of crashing.
 *
 * Build: cc -I<this package>/include prog.c (no library to link). */
#ifndef DMTCP_H
#define DMTCP_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
/* What DMTCP 5's header brings in: plugins written for it use these without
 * including them (printf, assert, sockaddr_in, ElfW). */
#include <assert.h>
#include <elf.h>
#include <link.h>
#include <netinet/ip.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#ifdef __cplusplus
# define EXTERNC extern "C"
#else
# define EXTERNC
#endif

/* What dmtcp_checkpoint() returns: after the checkpoint it asked for, the
 * process going on; after a restart from that checkpoint's image. */
#ifndef DMTCP_AFTER_CHECKPOINT
# define DMTCP_AFTER_CHECKPOINT 1
# define DMTCP_AFTER_RESTART 2
#endif
/* Without the agent; and with it, for the calls that only say so. */
#ifndef DMTCP_NOT_PRESENT
# define DMTCP_NOT_PRESENT 3
#endif
#ifndef DMTCP_IS_PRESENT
# define DMTCP_IS_PRESENT 4
#endif

/* The exit status dmtcp_launch and dmtcp_restart give for a failure of
 * their own (not the program's): DMTCP_FAIL_RC from the environment, else
 * 99; with DMTCP_ABORT_ON_FAILURE set, abort() instead. */
#define DMTCP_FAIL_RC_PARAM \
  (getenv("DMTCP_FAIL_RC") && atoi(getenv("DMTCP_FAIL_RC")) ? atoi(getenv("DMTCP_FAIL_RC")) : 99)
#define DMTCP_FAIL_RC (getenv("DMTCP_ABORT_ON_FAILURE") ? abort(), 99 : DMTCP_FAIL_RC_PARAM)

/* 1 under dmtcp_launch or dmtcp_restart, else 0. */
EXTERNC int dmtcp_is_enabled(void) __attribute__((weak));
#define dmtcp_is_enabled() (dmtcp_is_enabled ? dmtcp_is_enabled() : 0)

/* Checkpoints the whole computation and returns when this process goes on:
 * DMTCP_AFTER_CHECKPOINT, or DMTCP_AFTER_RESTART in a process restarted from
 * the image. Blocks until then (retrying while no coordinator answers). */
EXTERNC int dmtcp_checkpoint(void) __attribute__((weak));
#define dmtcp_checkpoint() (dmtcp_checkpoint ? dmtcp_checkpoint() : DMTCP_NOT_PRESENT)

/* A critical section no checkpoint cuts: a checkpoint asked for after
 * dmtcp_disable_ckpt() waits until the matching dmtcp_enable_ckpt(). They
 * nest, per thread. Both return 1. */
EXTERNC int dmtcp_disable_ckpt(void) __attribute__((weak));
#define dmtcp_disable_ckpt() (dmtcp_disable_ckpt ? dmtcp_disable_ckpt() : DMTCP_NOT_PRESENT)
EXTERNC int dmtcp_enable_ckpt(void) __attribute__((weak));
#define dmtcp_enable_ckpt() (dmtcp_enable_ckpt ? dmtcp_enable_ckpt() : DMTCP_NOT_PRESENT)

/* The coordinator's view: how many processes it has and whether they all
 * run (not in a checkpoint). DMTCP_IS_PRESENT when asked, even if the
 * coordinator did not answer (then both are 0). */
EXTERNC int dmtcp_get_coordinator_status(int *numPeers, int *isRunning) __attribute__((weak));
#define dmtcp_get_coordinator_status(p, r) \
  (dmtcp_get_coordinator_status ? dmtcp_get_coordinator_status(p, r) : DMTCP_NOT_PRESENT)

/* This process's own: the checkpoints it took part in and its restarts. */
EXTERNC int dmtcp_get_local_status(int *numCheckpoints, int *numRestarts) __attribute__((weak));
#define dmtcp_get_local_status(c, r) (dmtcp_get_local_status ? dmtcp_get_local_status(c, r) : DMTCP_NOT_PRESENT)

/* Where this process's images go, and a new place for the next ones
 * (created when the checkpoint comes). */
EXTERNC const char *dmtcp_get_ckpt_dir(void) __attribute__((weak));
#define dmtcp_get_ckpt_dir() (dmtcp_get_ckpt_dir ? dmtcp_get_ckpt_dir() : "")
EXTERNC int dmtcp_set_ckpt_dir(const char *dir) __attribute__((weak));
#define dmtcp_set_ckpt_dir(d) (dmtcp_set_ckpt_dir ? dmtcp_set_ckpt_dir(d) : DMTCP_NOT_PRESENT)

/* The path of this process's image: the one written last, or the one the
 * next checkpoint writes. */
EXTERNC const char *dmtcp_get_ckpt_filename(void) __attribute__((weak));
#define dmtcp_get_ckpt_filename() (dmtcp_get_ckpt_filename ? dmtcp_get_ckpt_filename() : NULL)

/* This process's unique id (as in its image's name), and the computation's. */
EXTERNC const char *dmtcp_get_uniquepid_str(void) __attribute__((weak));
#define dmtcp_get_uniquepid_str() (dmtcp_get_uniquepid_str ? dmtcp_get_uniquepid_str() : NULL)
EXTERNC const char *dmtcp_get_computation_id_str(void) __attribute__((weak));

/* Images this process wrote so far (its checkpoint generation). */
EXTERNC uint32_t dmtcp_get_generation(void) __attribute__((weak));

/* The signal the checkpointer stops threads with (SIGUSR2 unless
 * --mtcp-checkpoint-signal), and its folder for temporary files. */
EXTERNC int dmtcp_get_ckpt_signal(void) __attribute__((weak));
EXTERNC const char *dmtcp_get_tmpdir(void) __attribute__((weak));

/* 1 while the computation runs, 0 while a checkpoint holds it. */
EXTERNC int dmtcp_is_running_state(void) __attribute__((weak));

/* The pid the kernel knows for a pid the program knows, and back (they
 * differ after a restart). */
EXTERNC pid_t dmtcp_pid_virtual_to_real(pid_t virtualPid) __attribute__((weak));
EXTERNC pid_t dmtcp_pid_real_to_virtual(pid_t realPid) __attribute__((weak));

/* ---- plugins ----
 * A plugin is a shared library given to dmtcp_launch --with-plugin (or
 * DMTCP_PLUGIN): preloaded after the agent into every process. It declares a
 * descriptor with DMTCP_DECL_PLUGIN; the agent calls its event_hook at each
 * event below, in the process, in the order the plugins were given. A plugin
 * may also define libc functions of its own (wrappers): the program's call
 * reaches the agent's wrapper first, then the plugin's, which calls on with
 * NEXT_FNC(name). */
#include <dlfcn.h>
#include <sys/stat.h>
#ifndef RTLD_NEXT
# define RTLD_NEXT ((void *)-1l)   /* glibc's, when _GNU_SOURCE was not asked for */
#endif

#define DMTCP_PLUGIN_API_VERSION "4"
#ifndef DMTCP_PACKAGE_VERSION
# define DMTCP_PACKAGE_VERSION "5.0.0"   /* the DMTCP release whose plugins build unchanged */
#endif
#define LIB_PRIVATE __attribute__((visibility("hidden")))
#define ATOMIC_SHARED_GLOBAL volatile __attribute((aligned))
#define ATOMIC_SHARED volatile __attribute((aligned))
#define ATTR_TLS_INITIAL_EXEC __attribute__((tls_model("initial-exec")))

/* The events, in DMTCP 5's order (the values are theirs too). Called today:
 * INIT, EXIT, PRE_EXEC, POST_EXEC, ATFORK_*, PRESUSPEND, PRECHECKPOINT,
 * RESUME, RESTART, RUNNING; the others are declared for plugins to build. */
typedef enum eDmtcpEvent {
  DMTCP_EVENT_INIT,
  DMTCP_EVENT_EXIT,
  DMTCP_EVENT_PRE_EXEC,
  DMTCP_EVENT_POST_EXEC,
  DMTCP_EVENT_ATFORK_PREPARE,
  DMTCP_EVENT_ATFORK_PARENT,
  DMTCP_EVENT_ATFORK_CHILD,
  DMTCP_EVENT_ATFORK_FAILED,
  DMTCP_EVENT_VFORK_PREPARE,
  DMTCP_EVENT_VFORK_PARENT,
  DMTCP_EVENT_VFORK_CHILD,
  DMTCP_EVENT_VFORK_FAILED,
  DMTCP_EVENT_PTHREAD_START,
  DMTCP_EVENT_PTHREAD_EXIT,
  DMTCP_EVENT_PTHREAD_RETURN,
  DMTCP_EVENT_PRESUSPEND,       /* a checkpoint begins; the program's threads still run */
  DMTCP_EVENT_PRECHECKPOINT,    /* every process is stopped; the image is written next */
  DMTCP_EVENT_RESUME,           /* the image is written; the process goes on (isRestart 0) */
  DMTCP_EVENT_RESTART,          /* the process came back from its image */
  DMTCP_EVENT_RUNNING,          /* the program's threads run again, after either */
  DMTCP_EVENT_THREAD_RESUME,
  DMTCP_EVENT_OPEN_FD,
  DMTCP_EVENT_REOPEN_FD,
  DMTCP_EVENT_CLOSE_FD,
  DMTCP_EVENT_DUP_FD,
  DMTCP_EVENT_VIRTUAL_TO_REAL_PATH,
  DMTCP_EVENT_REAL_TO_VIRTUAL_PATH,
  nDmtcpEvents
} DmtcpEvent_t;

typedef union _DmtcpEventData_t {
  struct { int serializationFd; char *filename; size_t maxArgs; const char **argv; size_t maxEnv; const char **envp; } preExec;
  struct { int serializationFd; } postExec;
  struct { int isRestart; } resumeUserThreadInfo, nameserviceInfo;
  struct { int fd; const char *path; int flags; mode_t mode; } openFd;
  struct { int fd; const char *path; int flags; } reopenFd;
  struct { int fd; } closeFd;
  struct { int oldFd; int newFd; } dupFd;
  struct { char *path; } realToVirtualPath, virtualToRealPath;
} DmtcpEventData_t;

typedef void (*HookFunctionPtr_t)(DmtcpEvent_t, DmtcpEventData_t *);

typedef struct {
  const char *pluginApiVersion;   /* DMTCP_PLUGIN_API_VERSION */
  const char *dmtcpVersion;       /* DMTCP_PACKAGE_VERSION */
  const char *pluginName;
  const char *authorName;
  const char *authorEmail;
  const char *description;
  void (*event_hook)(const DmtcpEvent_t event, DmtcpEventData_t *data);
} DmtcpPluginDescriptor_t;

EXTERNC void dmtcp_register_plugin(DmtcpPluginDescriptor_t descr) __attribute__((weak));
/* Each plugin defines this through DMTCP_DECL_PLUGIN; the agent calls the
 * first, which registers its plugin and calls the next plugin's. */
EXTERNC void dmtcp_initialize_plugin(void) __attribute__((weak));
#define DMTCP_DECL_PLUGIN(descr)                          \
  EXTERNC void dmtcp_initialize_plugin(void) {            \
    dmtcp_register_plugin(descr);                         \
    void (*next_init)(void) = NEXT_FNC(dmtcp_initialize_plugin); \
    if (next_init) next_init();                           \
  }

/* The agent's own start, for a wrapper called before it (a no-op after). */
EXTERNC void dmtcp_initialize(void) __attribute__((weak));
/* dlsym whose RTLD_NEXT is the next library after the caller's (the plugin's),
 * not after the agent's. */
EXTERNC void *dmtcp_dlsym(void *handle, const char *symbol) __attribute__((weak));

/* The function `func` of the next library after this plugin: what a wrapper
 * calls on with. Looked up once. */
#define NEXT_FNC(func)                                                           \
  ({                                                                             \
    static __typeof__(&func) _real_##func = (__typeof__(&func))-1;               \
    if (_real_##func == (__typeof__(&func))-1) {                                 \
      if (dmtcp_initialize) dmtcp_initialize();                                  \
      _real_##func = (__typeof__(&func))(dmtcp_dlsym ? dmtcp_dlsym(RTLD_NEXT, #func) : dlsym(RTLD_NEXT, #func)); \
    }                                                                            \
    _real_##func;                                                                \
  })

/* Waits until every process of the computation has called it with the same
 * name (through the coordinator; it gives up after its barrier timeout). For a
 * plugin's event hook, e.g. at DMTCP_EVENT_RESTART before querying kvdb. The
 * local barrier (the threads of one process) has nothing to wait for here. */
EXTERNC void dmtcp_global_barrier(const char *barrier) __attribute__((weak));
EXTERNC void dmtcp_local_barrier(const char *barrier) __attribute__((weak));

/* A plugin's critical section: as dmtcp_disable_ckpt/dmtcp_enable_ckpt. */
EXTERNC int dmtcp_plugin_disable_ckpt(void) __attribute__((weak));
EXTERNC void dmtcp_plugin_enable_ckpt(void) __attribute__((weak));
#define DMTCP_PLUGIN_DISABLE_CKPT() dmtcp_plugin_disable_ckpt()
#define DMTCP_PLUGIN_ENABLE_CKPT() dmtcp_plugin_enable_ckpt()

/* ---- identities ----
 * A process's unique id, its computation's and its coordinator's, as
 * structs (the _str calls above give the same as text). */
#include <netinet/in.h>
typedef struct DmtcpUniqueProcessId {
  uint64_t _hostid;                   /* of the host it started on */
  uint64_t _time;                     /* when it started, in seconds */
  union { pid_t _pid; int32_t _; };   /* its first pid */
  uint32_t _computation_generation;   /* checkpoints so far */
} DmtcpUniqueProcessId;
#define DMTCP_NO_UNIQUE_PID_ ((DmtcpUniqueProcessId){ 0, 0, { 0 }, 0 })
EXTERNC DmtcpUniqueProcessId dmtcp_get_uniquepid(void) __attribute__((weak));
#define dmtcp_get_uniquepid() (dmtcp_get_uniquepid ? dmtcp_get_uniquepid() : DMTCP_NO_UNIQUE_PID_)
EXTERNC DmtcpUniqueProcessId dmtcp_get_computation_id(void) __attribute__((weak));
#define dmtcp_get_computation_id() (dmtcp_get_computation_id ? dmtcp_get_computation_id() : DMTCP_NO_UNIQUE_PID_)
EXTERNC DmtcpUniqueProcessId dmtcp_get_coord_id(void) __attribute__((weak));
#define dmtcp_get_coord_id() (dmtcp_get_coord_id ? dmtcp_get_coord_id() : DMTCP_NO_UNIQUE_PID_)
/* 1 when both name the same process (the generation aside). */
EXTERNC int dmtcp_unique_pids_equal(DmtcpUniqueProcessId a, DmtcpUniqueProcessId b) __attribute__((weak));
#define dmtcp_unique_pids_equal(a, b) (dmtcp_unique_pids_equal ? dmtcp_unique_pids_equal(a, b) : 0)
/* When the computation began (seconds since the epoch); 0: not known. */
EXTERNC uint64_t dmtcp_get_coordinator_timestamp(void) __attribute__((weak));
#define dmtcp_get_coordinator_timestamp() (dmtcp_get_coordinator_timestamp ? dmtcp_get_coordinator_timestamp() : 0)
/* The program's own path (not the restorer's, after a restart). */
EXTERNC const char *dmtcp_get_executable_path(void) __attribute__((weak));
#define dmtcp_get_executable_path() (dmtcp_get_executable_path ? dmtcp_get_executable_path() : NULL)
/* The address this host's agents reach the coordinator from. */
EXTERNC void dmtcp_get_local_ip_addr(struct in_addr *in) __attribute__((weak));

/* What the environment of dmtcp_restart holds for `name`, copied into
 * value (size bytes) after a restart; before one, the launch's. */
typedef enum eDmtcpGetRestartEnvErr {
  RESTART_ENV_SUCCESS = 0,
  RESTART_ENV_NOTFOUND = -1,
  RESTART_ENV_TOOLONG = -2,
  RESTART_ENV_DMTCP_BUF_TOO_SMALL = -3,
  RESTART_ENV_INTERNAL_ERROR = -4,
  RESTART_ENV_NULL_PTR = -5,
} DmtcpGetRestartEnvErr_t;
#define RESTART_ENV_MAXSIZE (12288 * 10)
EXTERNC DmtcpGetRestartEnvErr_t dmtcp_get_restart_env(const char *name, char *value, size_t size) __attribute__((weak));
#define dmtcp_get_restart_env(name, value, size) \
  (dmtcp_get_restart_env ? dmtcp_get_restart_env(name, value, size) : RESTART_ENV_NOTFOUND)

/* ---- the agent's own fds and signal ---- */
/* 1 for an fd the agent holds (its coordinator link and the like): a program
 * that closes every fd should leave these. */
EXTERNC int dmtcp_is_protected_fd(int fd) __attribute__((weak));
#define dmtcp_is_protected_fd(fd) (dmtcp_is_protected_fd ? dmtcp_is_protected_fd(fd) : 0)
EXTERNC void dmtcp_close_protected_fd(int fd) __attribute__((weak));
/* The fd of the environment saved for a restart; -1: none. */
EXTERNC int dmtcp_protected_environ_fd(void) __attribute__((weak));
#define dmtcp_protected_environ_fd() (dmtcp_protected_environ_fd ? dmtcp_protected_environ_fd() : -1)
/* The record/replay plugin's log; -1: none. */
EXTERNC int dmtcp_get_readlog_fd(void) __attribute__((weak));
#define dmtcp_get_readlog_fd() (dmtcp_get_readlog_fd ? dmtcp_get_readlog_fd() : -1)
/* Hold the checkpoint signal on this thread (a checkpoint waits for it), and let it go. */
EXTERNC void dmtcp_block_ckpt_signal(void) __attribute__((weak));
EXTERNC void dmtcp_unblock_ckpt_signal(void) __attribute__((weak));

/* ---- files ---- */
/* The folder beside the image where saved files go ("ckpt_<prog>_<id>_files"). */
EXTERNC const char *dmtcp_get_ckpt_files_subdir(void) __attribute__((weak));
#define dmtcp_get_ckpt_files_subdir() (dmtcp_get_ckpt_files_subdir ? dmtcp_get_ckpt_files_subdir() : NULL)
/* --checkpoint-open-files, --allow-file-overwrite: 1 when given. */
EXTERNC int dmtcp_should_ckpt_open_files(void) __attribute__((weak));
#define dmtcp_should_ckpt_open_files() (dmtcp_should_ckpt_open_files ? dmtcp_should_ckpt_open_files() : 0)
EXTERNC int dmtcp_allow_overwrite_with_ckpted_files(void) __attribute__((weak));
#define dmtcp_allow_overwrite_with_ckpted_files() \
  (dmtcp_allow_overwrite_with_ckpted_files ? dmtcp_allow_overwrite_with_ckpted_files() : 0)
/* Hooks a plugin may define (the agent asks them, weakly): */
EXTERNC int dmtcp_skip_truncate_file_at_restart(const char *path) __attribute__((weak));
EXTERNC int dmtcp_must_ckpt_file(const char *path) __attribute__((weak));
EXTERNC int dmtcp_must_overwrite_file(const char *path) __attribute__((weak));
EXTERNC void dmtcp_get_new_file_path(const char *abspath, const char *cwd, char *newpath) __attribute__((weak));
/* ...and the batch-queue plugin's ("bq": its spool files). */
EXTERNC int dmtcp_is_bq_file(const char *path) __attribute__((weak));
EXTERNC int dmtcp_bq_should_ckpt_file(const char *path, int *type) __attribute__((weak));
EXTERNC int dmtcp_bq_restore_file(const char *path, const char *savedFilePath, int fcntlFlags, int type) __attribute__((weak));
/* A key and value written into the image's metadata (readdmtcp shows them). */
EXTERNC void dmtcp_add_to_ckpt_header(const char *key, const char *value) __attribute__((weak));
/* What an image file begins with, for tools that look: ours are gzip streams
 * or raw images, see docs/image-format.md; DMTCP 5's text, for comparison. */
#define DMTCP_CKPT_SIGNATURE "DMTCP_CHECKPOINT_IMAGE_v4.0\n"

/* ---- locks that a checkpoint may hold across (futexes, no glibc state) ---- */
typedef enum eDmtcpMutexType { DMTCP_MUTEX_NORMAL, DMTCP_MUTEX_RECURSIVE, DMTCP_MUTEX_LLL } DmtcpMutexType;
typedef struct {
  uint32_t futex;   /* 0 free, 1 held, 2 held with waiters */
  uint32_t owner;   /* kernel tid of the holder */
  uint32_t count;   /* a recursive mutex's depth */
  DmtcpMutexType type;
} DmtcpMutex;
#define DMTCP_MUTEX_INITIALIZER { 0, 0, 0, DMTCP_MUTEX_NORMAL }
#define DMTCP_MUTEX_INITIALIZER_RECURSIVE { 0, 0, 0, DMTCP_MUTEX_RECURSIVE }
#define DMTCP_MUTEX_INITIALIZER_LLL { 0, 0, 0, DMTCP_MUTEX_LLL }
typedef struct {
  int32_t nReaders : 10;
  int32_t nWriters : 10;
  int32_t nReadersQueued : 10;
  int32_t unused : 2;
} DmtcpRWLockStatus;
typedef struct {
  DmtcpRWLockStatus status;   /* a snapshot, for the curious */
  int32_t writerTid;
  uint32_t readerFutex;       /* the lock word: readers, or WRITER */
  uint32_t writerFutex;       /* changes whenever the lock is let go */
} DmtcpRWLock;
/* These live in libdmtcp.so and also work without it (the program's own copy
 * of the same code, dmtcp_locks.h). Lock and unlock return 0, or an errno. */
#include "dmtcp_locks.h"
EXTERNC void DmtcpMutexInit(DmtcpMutex *mutex, DmtcpMutexType type) __attribute__((weak));
EXTERNC int DmtcpMutexLock(DmtcpMutex *mutex) __attribute__((weak));
EXTERNC int DmtcpMutexTryLock(DmtcpMutex *mutex) __attribute__((weak));
EXTERNC int DmtcpMutexUnlock(DmtcpMutex *mutex) __attribute__((weak));
#define DmtcpMutexInit(m, t) (DmtcpMutexInit ? DmtcpMutexInit(m, t) : dmtcp_mutex_init_(m, t))
#define DmtcpMutexLock(m) (DmtcpMutexLock ? DmtcpMutexLock(m) : dmtcp_mutex_lock_(m))
#define DmtcpMutexTryLock(m) (DmtcpMutexTryLock ? DmtcpMutexTryLock(m) : dmtcp_mutex_trylock_(m))
#define DmtcpMutexUnlock(m) (DmtcpMutexUnlock ? DmtcpMutexUnlock(m) : dmtcp_mutex_unlock_(m))
EXTERNC void DmtcpRWLockInit(DmtcpRWLock *rwlock) __attribute__((weak));
EXTERNC int DmtcpRWLockRdLock(DmtcpRWLock *rwlock) __attribute__((weak));
EXTERNC int DmtcpRWLockRdLockIgnoreQueuedWriter(DmtcpRWLock *rwlock) __attribute__((weak));
EXTERNC int DmtcpRWLockTryRdLock(DmtcpRWLock *rwlock) __attribute__((weak));
EXTERNC int DmtcpRWLockWrLock(DmtcpRWLock *rwlock) __attribute__((weak));
EXTERNC int DmtcpRWLockUnlock(DmtcpRWLock *rwlock) __attribute__((weak));
#define DmtcpRWLockInit(l) (DmtcpRWLockInit ? DmtcpRWLockInit(l) : dmtcp_rwlock_init_(l))
#define DmtcpRWLockRdLock(l) (DmtcpRWLockRdLock ? DmtcpRWLockRdLock(l) : dmtcp_rwlock_rdlock_(l))
#define DmtcpRWLockRdLockIgnoreQueuedWriter(l) \
  (DmtcpRWLockRdLockIgnoreQueuedWriter ? DmtcpRWLockRdLockIgnoreQueuedWriter(l) : dmtcp_rwlock_rdlock_(l))
#define DmtcpRWLockTryRdLock(l) (DmtcpRWLockTryRdLock ? DmtcpRWLockTryRdLock(l) : dmtcp_rwlock_tryrdlock_(l))
#define DmtcpRWLockWrLock(l) (DmtcpRWLockWrLock ? DmtcpRWLockWrLock(l) : dmtcp_rwlock_wrlock_(l))
#define DmtcpRWLockUnlock(l) (DmtcpRWLockUnlock ? DmtcpRWLockUnlock(l) : dmtcp_rwlock_unlock_(l))

/* ---- more for plugins ---- */
typedef void (*dmtcp_fnptr_t)(void);
typedef struct DmtcpInfo { int argc; const char **argv; } DmtcpInfo;
enum ElfType { Elf_32, Elf_64 };
/* dlvsym and dlsym of one library by name (its soname or path), as the agent
 * sees them; the offset of `symbol` in `libname`, LIB_FNC_OFFSET_FAILED when
 * not found. */
EXTERNC void *dmtcp_dlvsym(void *handle, char *symbol, const char *version) __attribute__((weak));
EXTERNC void *dmtcp_dlsym_lib(const char *libname, const char *symbol) __attribute__((weak));
EXTERNC uint64_t dmtcp_dlsym_lib_fnc_offset(const char *libname, const char *symbol) __attribute__((weak));
#define LIB_FNC_OFFSET_FAILED ((uint64_t)-1)
#define NEXT_FNC_V(func, ver)                                                   \
  ({                                                                            \
    static __typeof__(&func) _real_##func = (__typeof__(&func))-1;              \
    if (_real_##func == (__typeof__(&func))-1) {                                \
      if (dmtcp_initialize) dmtcp_initialize();                                 \
      _real_##func = (__typeof__(&func))(dmtcp_dlvsym ? dmtcp_dlvsym(RTLD_NEXT, (char *)#func, ver) : 0); \
    }                                                                           \
    _real_##func;                                                               \
  })
#define NEXT_FNC_LIB(lib, func)                                                 \
  ({                                                                            \
    static __typeof__(&func) _real_##func = (__typeof__(&func))-1;              \
    if (_real_##func == (__typeof__(&func))-1) {                                \
      if (dmtcp_initialize) dmtcp_initialize();                                 \
      _real_##func = (__typeof__(&func))(dmtcp_dlsym_lib ? dmtcp_dlsym_lib(lib, #func) : 0); \
    }                                                                           \
    _real_##func;                                                               \
  })
/* For a developer's restart in a debugger: lets gdb attach, then loops
 * while `condition` holds (set it false from gdb to go on). */
#include <sys/prctl.h>
#ifdef PR_SET_PTRACER
# define DMTCP_SETUP_PTRACE() prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0)
#else
# define DMTCP_SETUP_PTRACE()
#endif
#define DMTCP_RESTART_PAUSE_WHILE(condition) \
  do { DMTCP_SETUP_PTRACE(); while (condition) {} } while (0)

#endif /* DMTCP_H */
