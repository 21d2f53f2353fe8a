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

#endif /* DMTCP_H */
