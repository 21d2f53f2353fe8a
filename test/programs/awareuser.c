/* A program of the older interface (include/dmtcp/dmtcpaware.h, linked with
 * libdmtcpaware .so or .a): it defines the hook functions dmtcpHook* and
 * mtcpHook* and installs three more with dmtcpInstallHooks; each must run
 * once per checkpoint (pre and post) and once per restart.
 * Without the checkpointer every call answers "disabled": "DISABLED ok".
 * Under dmtcp_launch: three dmtcpCheckpoint() calls, each returning
 * DMTCP_AFTER_CHECKPOINT with every pre and post hook run once more ("C k");
 * a critical section's lock and unlock answer 1; the statuses name this
 * process; then one more checkpoint, "FILE <image>", and it waits to be
 * killed. Restarted from that image, the same call returns
 * DMTCP_AFTER_RESTART after both restart hooks ran once: "RESTARTED".
 * Anything else: "CORRUPT <why>", exit 3. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dmtcp/dmtcpaware.h"

enum { PRE, POST, RESTART };
static volatile int defined_runs[3], mtcp_runs[3], installed_runs[3];

void dmtcpHookPreCheckpoint(void) { defined_runs[PRE]++; }
void dmtcpHookPostCheckpoint(void) { defined_runs[POST]++; }
void dmtcpHookRestart(void) { defined_runs[RESTART]++; }
void mtcpHookPreCheckpoint(void) { mtcp_runs[PRE]++; }
void mtcpHookPostCheckpoint(void) { mtcp_runs[POST]++; }
void mtcpHookRestart(void) { mtcp_runs[RESTART]++; }
static void installed_pre(void) { installed_runs[PRE]++; }
static void installed_post(void) { installed_runs[POST]++; }
static void installed_restart(void) { installed_runs[RESTART]++; }

static int corrupt(const char *why) { printf("CORRUPT %s (hooks %d/%d/%d %d/%d/%d %d/%d/%d)\n", why,
  defined_runs[0], defined_runs[1], defined_runs[2], mtcp_runs[0], mtcp_runs[1], mtcp_runs[2],
  installed_runs[0], installed_runs[1], installed_runs[2]); return 3; }

static int all_ran(int moment, int times) {
  return defined_runs[moment] == times && mtcp_runs[moment] == times && installed_runs[moment] == times;
}

int main(void) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (!dmtcpIsEnabled()) {
    if (dmtcpCheckpoint() != DMTCP_ERROR_DISABLED || dmtcpDelayCheckpointsLock() != DMTCP_ERROR_DISABLED ||
        dmtcpDelayCheckpointsUnlock() != DMTCP_ERROR_DISABLED || dmtcpGetCoordinatorStatus() || dmtcpGetLocalStatus() ||
        dmtcpInstallHooks(installed_pre, 0, 0) != DMTCP_ERROR_DISABLED || dmtcpRunCommand('s') != DMTCP_ERROR_DISABLED)
      return corrupt("a call without the checkpointer did not say disabled");
    printf("DISABLED ok\n");
    return 0;
  }
  if (dmtcpInstallHooks(installed_pre, installed_post, installed_restart) != 1) return corrupt("dmtcpInstallHooks");
  for (int k = 1; k <= 3; k++) {
    if (dmtcpCheckpoint() != DMTCP_AFTER_CHECKPOINT) return corrupt("dmtcpCheckpoint did not return DMTCP_AFTER_CHECKPOINT");
    if (!all_ran(PRE, k) || !all_ran(POST, k) || !all_ran(RESTART, 0)) return corrupt("the hooks did not run once each");
    const DmtcpLocalStatus *l = dmtcpGetLocalStatus();
    if (!l || l->numCheckpoints != k || l->numRestarts != 0 || access(l->checkpointFilename, R_OK) != 0 || !l->uniquePidStr[0])
      return corrupt("local status");
    printf("C %d\n", k);
  }
  const DmtcpCoordinatorStatus *c = dmtcpGetCoordinatorStatus();
  if (!c || c->numProcesses < 1 || !c->isRunning) return corrupt("coordinator status");
  if (dmtcpDelayCheckpointsLock() != 1 || dmtcpDelayCheckpointsUnlock() != 1) return corrupt("lock/unlock");
  if (dmtcpRunCommand('s') != 1 || dmtcpRunCommand('?') > 0) return corrupt("dmtcpRunCommand");
  int r = dmtcpCheckpoint();
  if (r == DMTCP_AFTER_CHECKPOINT) {
    printf("FILE %s\n", dmtcpGetLocalStatus()->checkpointFilename);
    for (;;) sleep(1);   /* the test kills and restarts us */
  }
  if (r != DMTCP_AFTER_RESTART || !all_ran(RESTART, 1) || dmtcpGetLocalStatus()->numRestarts != 1)
    return corrupt("after the restart");
  printf("RESTARTED\n");
  return 0;
}
