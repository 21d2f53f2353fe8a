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

#endif /* DMTCP_H */
