/* Plugins (include/dmtcp.h): libraries dmtcp_launch --with-plugin preloads
 * after us. Each registers a descriptor through DMTCP_DECL_PLUGIN; we call
 * every event hook at each event, in the order the plugins were given.
 *
 * dmtcp_dlsym(RTLD_NEXT, name) is the plugins' NEXT_FNC: glibc's RTLD_NEXT
 * means "after the library that called dlsym", which would be us; here it is
 * after the library that called dmtcp_dlsym. */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "dmtcp.h"

#define MAX_PLUGINS 32

static __thread int in_hook __attribute__((tls_model("initial-exec")));   /* a plugin's hook runs on this thread */
static DmtcpPluginDescriptor_t plugins[MAX_PLUGINS];
static int nplugins;
static int initialized;

AGENT_EXPORT void dmtcp_register_plugin(DmtcpPluginDescriptor_t d) {
  if (nplugins < MAX_PLUGINS) plugins[nplugins++] = d;
  else agent_say("too many plugins; one is left out");
}

static void plugins_at_exit(void) { plugins_event(DMTCP_EVENT_EXIT, 0); }

void plugins_init(void) {
  if (initialized) return;
  initialized = 1;
  /* the first plugin's, which calls the next plugin's (DMTCP_DECL_PLUGIN) */
  void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "dmtcp_initialize_plugin");
  if (init) init();
  plugins_event(DMTCP_EVENT_INIT, 0);
  if (nplugins) atexit(plugins_at_exit);
}

AGENT_EXPORT void dmtcp_initialize(void) { plugins_init(); }

void plugins_event(int event, int is_restart) {
  if (!nplugins) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  data.resumeUserThreadInfo.isRestart = is_restart;
  plugins_event_with(event, &data);
}

void plugins_event_with(int event, void *data) {
  in_hook++;
  for (int i = 0; i < nplugins; i++)
    if (plugins[i].event_hook) plugins[i].event_hook((DmtcpEvent_t)event, (DmtcpEventData_t *)data);
  in_hook--;
}

int plugins_loaded(void) { return nplugins; }

/* ---- the fd and path events (DMTCP 5 sends them from its file wrappers) ----
 * Only while the computation runs (not from inside a checkpoint), and never
 * for the agent's own descriptors. */

/* A hook's own opens and closes (its log file) are not told to it again:
 * that would never end. */
static int fd_events_now(int fd) { return nplugins && !in_hook && !agent.suspended && fd >= 0 && fd < AGENT_COORD_FD_MIN; }

void plugins_open_fd(int fd, const char *path, int flags, mode_t mode) {
  if (!fd_events_now(fd)) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  data.openFd.fd = fd; data.openFd.path = path; data.openFd.flags = flags; data.openFd.mode = mode;
  plugins_event_with(DMTCP_EVENT_OPEN_FD, &data);
}

void plugins_reopen_fd(int fd, const char *path, int flags) {
  if (!fd_events_now(fd)) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  data.reopenFd.fd = fd; data.reopenFd.path = path; data.reopenFd.flags = flags;
  plugins_event_with(DMTCP_EVENT_REOPEN_FD, &data);
}

void plugins_close_fd(int fd) {
  if (!fd_events_now(fd)) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  data.closeFd.fd = fd;
  plugins_event_with(DMTCP_EVENT_CLOSE_FD, &data);
}

void plugins_dup_fd(int old_fd, int new_fd) {
  if (!fd_events_now(new_fd)) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  data.dupFd.oldFd = old_fd; data.dupFd.newFd = new_fd;
  plugins_event_with(DMTCP_EVENT_DUP_FD, &data);
}

/* A plugin may rewrite a path the program gives (VIRTUAL_TO_REAL_PATH) or one
 * the kernel answers (REAL_TO_VIRTUAL_PATH), in place, in a PATH_MAX buffer. */
void plugins_translate_path(int event, char *path) {
  if (in_hook) return;
  DmtcpEventData_t data;
  memset(&data, 0, sizeof data);
  if (event == DMTCP_EVENT_VIRTUAL_TO_REAL_PATH) data.virtualToRealPath.path = path;
  else data.realToVirtualPath.path = path;
  plugins_event_with(event, &data);
  /* a plugin may hand back a buffer of its own instead */
  const char *out = event == DMTCP_EVENT_VIRTUAL_TO_REAL_PATH ? data.virtualToRealPath.path : data.realToVirtualPath.path;
  if (out && out != path) agent_strlcpy(path, out, PATH_MAX);
}

/* The symbol in the libraries loaded after the one holding `caller`. */
static void *next_after(const void *caller, const char *symbol) {
  Dl_info self;
  if (!dladdr(caller, &self)) return 0;
  struct link_map *map = 0;
  void *main_handle = dlopen(0, RTLD_LAZY | RTLD_NOLOAD);
  if (!main_handle || dlinfo(main_handle, RTLD_DI_LINKMAP, &map) != 0) return 0;
  dlclose(main_handle);
  int after = 0;
  for (; map; map = map->l_next) {
    if (!after) { after = (void *)map->l_addr == self.dli_fbase || (map->l_name[0] && !strcmp(map->l_name, self.dli_fname)); continue; }
    if (!map->l_name[0]) continue;
    void *h = dlopen(map->l_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    void *sym = dlsym(h, symbol);
    dlclose(h);
    Dl_info where;
    /* the library's own definition, not one of its dependencies' */
    if (sym && dladdr(sym, &where) && where.dli_fbase == (void *)map->l_addr) return sym;
    if (sym && dladdr(sym, &where) && where.dli_fname && !strcmp(where.dli_fname, map->l_name)) return sym;
  }
  return 0;
}

AGENT_EXPORT void *dmtcp_dlsym(void *handle, const char *symbol) {
  if (handle == RTLD_NEXT) return next_after(__builtin_return_address(0), symbol);
  return dlsym(handle, symbol);
}

/* A plugin's critical section is a program's (api.c). */
AGENT_EXPORT int dmtcp_plugin_disable_ckpt(void) { return dmtcp_disable_ckpt(); }
AGENT_EXPORT void dmtcp_plugin_enable_ckpt(void) { dmtcp_enable_ckpt(); }
