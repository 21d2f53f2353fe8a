/* libdmtcpaware (.so and .a): include/dmtcp/dmtcpaware.h over the agent.
 *
 * Every call looks up the agent's function by name (the agent is preloaded
 * by dmtcp_launch; a plain run has none) and answers "disabled" without it.
 * Nothing of the checkpointer lives here: a program linked statically with
 * libdmtcpaware.a still talks to the agent of the run it is in. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include "dmtcp/dmtcpaware.h"

#define DMTCP_IS_PRESENT 4

static void *agent_fn(const char *name) { return dlsym(RTLD_DEFAULT, name); }

int dmtcpIsEnabled(void) {
  int (*f)(void) = (int (*)(void))agent_fn("dmtcp_is_enabled");
  return f ? f() : 0;
}

static int call_int(const char *name) {
  int (*f)(void) = (int (*)(void))agent_fn(name);
  return f && dmtcpIsEnabled() ? f() : DMTCP_ERROR_DISABLED;
}

int dmtcpCheckpoint(void) { return call_int("dmtcp_checkpoint"); }
int dmtcpDelayCheckpointsLock(void) { return call_int("dmtcp_disable_ckpt"); }
int dmtcpDelayCheckpointsUnlock(void) { return call_int("dmtcp_enable_ckpt"); }

int dmtcpInstallHooks(DmtcpFunctionPointer pre, DmtcpFunctionPointer post, DmtcpFunctionPointer restart) {
  int (*f)(DmtcpFunctionPointer, DmtcpFunctionPointer, DmtcpFunctionPointer) =
      (int (*)(DmtcpFunctionPointer, DmtcpFunctionPointer, DmtcpFunctionPointer))agent_fn("dmtcp_aware_install_hooks");
  return f && dmtcpIsEnabled() ? f(pre, post, restart) : DMTCP_ERROR_DISABLED;
}

const DmtcpCoordinatorStatus *dmtcpGetCoordinatorStatus(void) {
  static DmtcpCoordinatorStatus s;
  int (*f)(int *, int *) = (int (*)(int *, int *))agent_fn("dmtcp_get_coordinator_status");
  if (!f || !dmtcpIsEnabled() || f(&s.numProcesses, &s.isRunning) != DMTCP_IS_PRESENT) return NULL;
  return &s;
}

const DmtcpLocalStatus *dmtcpGetLocalStatus(void) {
  static DmtcpLocalStatus s;
  int (*f)(int *, int *) = (int (*)(int *, int *))agent_fn("dmtcp_get_local_status");
  const char *(*file)(void) = (const char *(*)(void))agent_fn("dmtcp_get_ckpt_filename");
  const char *(*id)(void) = (const char *(*)(void))agent_fn("dmtcp_get_uniquepid_str");
  if (!f || !file || !id || !dmtcpIsEnabled() || f(&s.numCheckpoints, &s.numRestarts) != DMTCP_IS_PRESENT) return NULL;
  s.checkpointFilename = file();
  s.uniquePidStr = id();
  return &s;
}

int dmtcpRunCommand(char command) {
  int (*f)(char) = (int (*)(char))agent_fn("dmtcp_aware_run_command");
  return f && dmtcpIsEnabled() ? f(command) : DMTCP_ERROR_DISABLED;
}

/* The hook functions the program defines, handed to the agent when the
 * program starts. Linked from libdmtcpaware.a these references bind to the
 * program's own functions; from libdmtcpaware.so only to functions the
 * executable exports (-Wl,-export-dynamic). */
extern void dmtcpHookPreCheckpoint(void) __attribute__((weak));
extern void dmtcpHookPostCheckpoint(void) __attribute__((weak));
extern void dmtcpHookRestart(void) __attribute__((weak));
extern void mtcpHookPreCheckpoint(void) __attribute__((weak));
extern void mtcpHookPostCheckpoint(void) __attribute__((weak));
extern void mtcpHookRestart(void) __attribute__((weak));

__attribute__((constructor)) static void hand_hooks_to_agent(void) {
  void (*f)(const DmtcpFunctionPointer *) = (void (*)(const DmtcpFunctionPointer *))agent_fn("dmtcp_aware_program_hooks");
  const DmtcpFunctionPointer hooks[6] = { dmtcpHookPreCheckpoint, dmtcpHookPostCheckpoint, dmtcpHookRestart,
                                          mtcpHookPreCheckpoint, mtcpHookPostCheckpoint, mtcpHookRestart };
  if (f) f(hooks);
}
