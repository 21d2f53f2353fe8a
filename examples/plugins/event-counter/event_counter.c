/* An example plugin: counts the checkpointer's events and the program's
 * write() calls, and logs each event with the counts so far.
 *
 * Build:  cc -shared -fPIC -I <dmtcp>/include -o event_counter.so event_counter.c
 * Run:    EVENT_COUNTER_LOG=/tmp/events.log dmtcp_launch --with-plugin $PWD/event_counter.so PROGRAM
 * Each line of the log: "<pid> <event> writes=<n> checkpoints=<c> restarts=<r>". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "dmtcp.h"

static unsigned long writes, checkpoints, restarts;

/* The program's write: counted, then passed on to the next library's. */
ssize_t write(int fd, const void *buf, size_t n) {
  __atomic_add_fetch(&writes, 1, __ATOMIC_RELAXED);
  return NEXT_FNC(write)(fd, buf, n);
}

static void log_event(const char *name) {
  const char *path = getenv("EVENT_COUNTER_LOG");
  if (!path) return;
  char line[160];
  int len = snprintf(line, sizeof line, "%d %s writes=%lu checkpoints=%lu restarts=%lu\n", getpid(), name, writes, checkpoints, restarts);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  NEXT_FNC(write)(fd, line, (size_t)len);   /* not counted: the plugin's own */
  close(fd);
}

static void event_hook(DmtcpEvent_t event, DmtcpEventData_t *data) {
  (void)data;
  switch (event) {
    case DMTCP_EVENT_INIT: log_event("INIT"); break;
    case DMTCP_EVENT_PRESUSPEND: log_event("PRESUSPEND"); break;
    case DMTCP_EVENT_PRECHECKPOINT: checkpoints++; log_event("PRECHECKPOINT"); break;
    case DMTCP_EVENT_RESUME: log_event("RESUME"); break;
    case DMTCP_EVENT_RESTART: restarts++; log_event("RESTART"); break;
    case DMTCP_EVENT_RUNNING: log_event("RUNNING"); break;
    case DMTCP_EVENT_EXIT: log_event("EXIT"); break;
    case DMTCP_EVENT_ATFORK_PARENT: log_event("ATFORK_PARENT"); break;
    case DMTCP_EVENT_ATFORK_CHILD: log_event("ATFORK_CHILD"); break;
    case DMTCP_EVENT_VFORK_PARENT: log_event("VFORK_PARENT"); break;   /* vfork(): dash, posix_spawn users */
    case DMTCP_EVENT_VFORK_CHILD: log_event("VFORK_CHILD"); break;
    case DMTCP_EVENT_PRE_EXEC: log_event("PRE_EXEC"); break;
    case DMTCP_EVENT_POST_EXEC: log_event("POST_EXEC"); break;
    default: break;
  }
}

static DmtcpPluginDescriptor_t descriptor = {
  DMTCP_PLUGIN_API_VERSION, DMTCP_PACKAGE_VERSION, "event-counter", "dmtcp", "", "Counts events and write() calls",
  event_hook,
};

DMTCP_DECL_PLUGIN(descriptor);
