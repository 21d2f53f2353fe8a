/* dmtcpaware.h: the older interface a program uses to talk to the checkpointer
 * (DMTCP's seeds: link with -ldmtcpaware, include <dmtcp/dmtcpaware.h>).
 *
 * libdmtcpaware (.so or .a, under build/Release) finds the agent that
 * dmtcp_launch preloads; run without it, every call answers "disabled"
 * (DMTCP_ERROR_DISABLED, 0 or NULL). The newer interface is <dmtcp.h>.
 *
 * Hook functions: a program may define dmtcpHookPreCheckpoint,
 * dmtcpHookPostCheckpoint and dmtcpHookRestart (and mtcpHookPreCheckpoint,
 * mtcpHookPostCheckpoint, mtcpHookRestart): each is called once per process at
 * its moment, on the agent's checkpoint thread (the program's threads run
 * during the pre-checkpoint hooks and again during the others). An executable
 * linked with libdmtcpaware.so must export them: -Wl,-export-dynamic. */
#ifndef DMTCPAWARE_H
#define DMTCPAWARE_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DMTCP_AFTER_CHECKPOINT
# define DMTCP_AFTER_CHECKPOINT 1
# define DMTCP_AFTER_RESTART 2
#endif
/* Returned when the program runs without the checkpointer, unless said otherwise. */
#define DMTCP_ERROR_DISABLED -128

typedef void (*DmtcpFunctionPointer)(void);

typedef struct _DmtcpCoordinatorStatus {
  int numProcesses;   /* processes the coordinator has */
  int isRunning;      /* 1 unless a checkpoint holds them */
} DmtcpCoordinatorStatus;

typedef struct _DmtcpLocalStatus {
  int numCheckpoints;
  int numRestarts;
  const char *checkpointFilename;   /* this process's image */
  const char *uniquePidStr;         /* this process's unique id */
} DmtcpLocalStatus;

/* 1 under dmtcp_launch or dmtcp_restart, else 0. */
int dmtcpIsEnabled(void);
/* Checkpoints the whole computation; DMTCP_AFTER_CHECKPOINT, or
 * DMTCP_AFTER_RESTART in a process restarted from that image. */
int dmtcpCheckpoint(void);
/* A critical section no checkpoint starts in; 1 on success. They nest. */
int dmtcpDelayCheckpointsLock(void);
int dmtcpDelayCheckpointsUnlock(void);
/* Functions called at each checkpoint and restart (NULL: none); 1 on success. */
int dmtcpInstallHooks(DmtcpFunctionPointer preCheckpoint, DmtcpFunctionPointer postCheckpoint,
                      DmtcpFunctionPointer postRestart);
/* Each call refreshes and returns one static structure; NULL without the checkpointer. */
const DmtcpCoordinatorStatus *dmtcpGetCoordinatorStatus(void);
const DmtcpLocalStatus *dmtcpGetLocalStatus(void);
/* A coordinator console key: 'c' checkpoint, 'k' kill, 'q' quit, 's' status,
 * 'l' list. 1 when sent and accepted, <= 0 otherwise. */
int dmtcpRunCommand(char command);

/* What a program may define (see above). */
void dmtcpHookPreCheckpoint(void);
void dmtcpHookPostCheckpoint(void);
void dmtcpHookRestart(void);
void mtcpHookPreCheckpoint(void);
void mtcpHookPostCheckpoint(void);
void mtcpHookRestart(void);

#ifdef __cplusplus
}
#endif
#endif /* DMTCPAWARE_H */
