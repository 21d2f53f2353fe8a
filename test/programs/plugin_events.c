/* A test plugin (built -shared): logs the thread, fork and descriptor events
 * of DMTCP 5's interface to $PLUGIN_EVENTS_LOG, one line each:
 * "<pid> <EVENT> [details]", and maps paths under /virtual to the folder
 * $PLUGIN_REAL_DIR (VIRTUAL_TO_REAL_PATH) and back (REAL_TO_VIRTUAL_PATH).
 * It logs with raw system calls: its own opens are none of its business. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "dmtcp.h"

#define VIRTUAL "/virtual"

static void say(const char *fmt_event, const char *detail) {
  const char *path = getenv("PLUGIN_EVENTS_LOG");
  if (!path) return;
  char line[PATH_MAX + 128];
  int len = snprintf(line, sizeof line, "%d %s%s%s\n", (int)syscall(SYS_getpid), fmt_event, detail ? " " : "", detail ? detail : "");
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  syscall(SYS_write, fd, line, (size_t)len);
  syscall(SYS_close, fd);
}

/* A wrapper of a call the agent wraps too: the plugin comes first in the
 * chain (as in DMTCP 5), then the agent's, then libc's. */
int usleep(useconds_t us) {
  say("USLEEP", 0);
  return NEXT_FNC(usleep)(us);
}

static void translate(char *path, const char *from, const char *to) {
  size_t n = strlen(from);
  if (!to || !*to || strncmp(path, from, n) || (path[n] && path[n] != '/')) return;
  char out[PATH_MAX];
  snprintf(out, sizeof out, "%s%s", to, path + n);
  strcpy(path, out);
}

static void event_hook(DmtcpEvent_t event, DmtcpEventData_t *data) {
  char d[PATH_MAX + 64];
  switch (event) {
    case DMTCP_EVENT_PTHREAD_START: say("PTHREAD_START", 0); break;
    case DMTCP_EVENT_PTHREAD_RETURN: say("PTHREAD_RETURN", 0); break;
    case DMTCP_EVENT_PTHREAD_EXIT: say("PTHREAD_EXIT", 0); break;
    case DMTCP_EVENT_THREAD_RESUME:
      snprintf(d, sizeof d, "restart=%d", data->resumeUserThreadInfo.isRestart);
      say("THREAD_RESUME", d);
      break;
    case DMTCP_EVENT_VFORK_PREPARE: say("VFORK_PREPARE", 0); break;
    case DMTCP_EVENT_VFORK_PARENT: say("VFORK_PARENT", 0); break;
    case DMTCP_EVENT_VFORK_CHILD: say("VFORK_CHILD", 0); break;
    case DMTCP_EVENT_ATFORK_PREPARE: say("ATFORK_PREPARE", 0); break;
    case DMTCP_EVENT_OPEN_FD:
      snprintf(d, sizeof d, "fd=%d path=%s", data->openFd.fd, data->openFd.path);
      say("OPEN_FD", d);
      break;
    case DMTCP_EVENT_REOPEN_FD:
      snprintf(d, sizeof d, "fd=%d path=%s", data->reopenFd.fd, data->reopenFd.path);
      say("REOPEN_FD", d);
      break;
    case DMTCP_EVENT_CLOSE_FD:
      snprintf(d, sizeof d, "fd=%d", data->closeFd.fd);
      say("CLOSE_FD", d);
      break;
    case DMTCP_EVENT_DUP_FD:
      snprintf(d, sizeof d, "old=%d new=%d", data->dupFd.oldFd, data->dupFd.newFd);
      say("DUP_FD", d);
      break;
    case DMTCP_EVENT_VIRTUAL_TO_REAL_PATH:
      if (!strncmp(data->virtualToRealPath.path, VIRTUAL, strlen(VIRTUAL))) say("VIRTUAL_TO_REAL_PATH", data->virtualToRealPath.path);
      translate(data->virtualToRealPath.path, VIRTUAL, getenv("PLUGIN_REAL_DIR"));
      break;
    case DMTCP_EVENT_REAL_TO_VIRTUAL_PATH: {
      const char *real = getenv("PLUGIN_REAL_DIR");
      if (real && !strncmp(data->realToVirtualPath.path, real, strlen(real))) say("REAL_TO_VIRTUAL_PATH", data->realToVirtualPath.path);
      translate(data->realToVirtualPath.path, real ? real : "", VIRTUAL);
      break;
    }
    default: break;
  }
}

static DmtcpPluginDescriptor_t descriptor = {
  DMTCP_PLUGIN_API_VERSION, DMTCP_PACKAGE_VERSION, "plugin-events", "dmtcp", "", "Logs thread, fork and fd events; maps /virtual",
  event_hook,
};

DMTCP_DECL_PLUGIN(descriptor);
