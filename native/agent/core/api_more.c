/* The rest of dmtcp.h's surface (include/dmtcp.h, "identities" onwards):
 * ids as structs, the program's path, the agent's own fds and signal, the
 * file-policy answers, words added to the image's metadata, lookups for
 * plugins, and the locks (include/dmtcp_locks.h) exported under DMTCP 5's
 * names. api.c has the calls that talk to the coordinator. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

#include "dmtcp.h"
#undef dmtcp_get_uniquepid
#undef dmtcp_get_computation_id
#undef dmtcp_get_coord_id
#undef dmtcp_unique_pids_equal
#undef dmtcp_get_coordinator_timestamp
#undef dmtcp_get_executable_path
#undef dmtcp_get_restart_env
#undef dmtcp_is_protected_fd
#undef dmtcp_protected_environ_fd
#undef dmtcp_get_readlog_fd
#undef dmtcp_get_ckpt_files_subdir
#undef dmtcp_should_ckpt_open_files
#undef dmtcp_allow_overwrite_with_ckpted_files
#undef DmtcpMutexInit
#undef DmtcpMutexLock
#undef DmtcpMutexTryLock
#undef DmtcpMutexUnlock
#undef DmtcpRWLockInit
#undef DmtcpRWLockRdLock
#undef DmtcpRWLockRdLockIgnoreQueuedWriter
#undef DmtcpRWLockTryRdLock
#undef DmtcpRWLockWrLock
#undef DmtcpRWLockUnlock

/* ---- identities ---- */

/* Our ids read "<host hash, hex>-<first pid>-<start time, hex>" (coord_link.c,
 * src/coordinator/uniqueid.ts). */
static DmtcpUniqueProcessId parse_id(const char *text, uint32_t generation) {
  DmtcpUniqueProcessId id;
  memset(&id, 0, sizeof id);
  const char *p = text, *q;
  id._hostid = agent_parse_u64(p, 16, &q);
  if (*q != '-') return id;
  id._pid = (pid_t)agent_parse_u64(q + 1, 10, &p);
  if (*p != '-') return id;
  id._time = agent_parse_u64(p + 1, 16, 0);
  id._computation_generation = generation;
  return id;
}

AGENT_EXPORT DmtcpUniqueProcessId dmtcp_get_uniquepid(void) { return parse_id(agent.unique_id, (uint32_t)agent.generation); }
AGENT_EXPORT DmtcpUniqueProcessId dmtcp_get_computation_id(void) {
  return parse_id(dmtcp_get_computation_id_str(), (uint32_t)agent.comp_gen);
}
/* The coordinator names a computation after itself: the same id. */
AGENT_EXPORT DmtcpUniqueProcessId dmtcp_get_coord_id(void) { return dmtcp_get_computation_id(); }

AGENT_EXPORT int dmtcp_unique_pids_equal(DmtcpUniqueProcessId a, DmtcpUniqueProcessId b) {
  return a._hostid == b._hostid && a._pid == b._pid && a._time == b._time;
}

AGENT_EXPORT uint64_t dmtcp_get_coordinator_timestamp(void) { return dmtcp_get_computation_id()._time; }

AGENT_EXPORT const char *dmtcp_get_executable_path(void) { return agent_program_path(); }

AGENT_EXPORT void dmtcp_get_local_ip_addr(struct in_addr *in) {
  if (!in) return;
  struct sockaddr_storage own;
  socklen_t len = sizeof own;
  in->s_addr = htonl(INADDR_LOOPBACK);
  if (agent.coord_fd >= 0 && getsockname(agent.coord_fd, (struct sockaddr *)&own, &len) == 0 && own.ss_family == AF_INET)
    *in = ((struct sockaddr_in *)&own)->sin_addr;
}

/* The value of `name` in a block of NAME=value\0 strings; NULL if absent. */
static const char *environ_value(const char *block, size_t len, const char *name) {
  size_t nlen = strlen(name);
  for (const char *p = block, *end = block + len; p < end;) {
    const char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) break;
    if ((size_t)(nul - p) > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') return p + nlen + 1;
    p = nul + 1;
  }
  return 0;
}

/* After a restart, the environment dmtcp_restart ran with (restore_entry.c);
 * before any, the process's own, as dmtcp_launch gave it. */
AGENT_EXPORT DmtcpGetRestartEnvErr_t dmtcp_get_restart_env(const char *name, char *value, size_t size) {
  if (!name || !value) return RESTART_ENV_NULL_PTR;
  const char *v = agent.restart_environ
    ? environ_value((const char *)agent.restart_environ, agent.restart_environ_len, name)
    : getenv(name);
  if (!v) return RESTART_ENV_NOTFOUND;
  size_t n = strlen(v);
  if (n + 1 > size) return RESTART_ENV_TOOLONG;
  memcpy(value, v, n + 1);
  return RESTART_ENV_SUCCESS;
}

/* ---- the agent's own fds and signal ---- */

AGENT_EXPORT int dmtcp_is_protected_fd(int fd) {
  return fd >= 0 && (fd == agent.coord_fd || fd == api_command_fd() || fd >= AGENT_COORD_FD_MIN);
}
/* Ours stay ours: a program cannot close the coordinator link this way. */
AGENT_EXPORT void dmtcp_close_protected_fd(int fd) { (void)fd; }
AGENT_EXPORT int dmtcp_protected_environ_fd(void) { return -1; }
AGENT_EXPORT int dmtcp_get_readlog_fd(void) { return -1; }

AGENT_EXPORT void dmtcp_block_ckpt_signal(void) {
  uint64_t sig = 1ULL << (agent.config.ckpt_signal - 1);
  rsys4(SYS_rt_sigprocmask, SIG_BLOCK, &sig, 0, 8);
}
AGENT_EXPORT void dmtcp_unblock_ckpt_signal(void) {
  uint64_t sig = 1ULL << (agent.config.ckpt_signal - 1);
  rsys4(SYS_rt_sigprocmask, SIG_UNBLOCK, &sig, 0, 8);
}

/* ---- files ---- */

AGENT_EXPORT const char *dmtcp_get_ckpt_files_subdir(void) {
  static char dir[PATH_MAX];
  const char *image = dmtcp_get_ckpt_filename();
  if (!image || !*image) return "";
  size_t n = strlen(image);
  const char *suffix = ".dmtcp";
  size_t s = strlen(suffix);
  if (n > s && !strcmp(image + n - s, suffix)) n -= s;
  if (n + sizeof "_files" > sizeof dir) return "";
  memcpy(dir, image, n);
  memcpy(dir + n, "_files", sizeof "_files");
  return dir;
}
AGENT_EXPORT int dmtcp_should_ckpt_open_files(void) { return agent.config.ckpt_open_files; }
AGENT_EXPORT int dmtcp_allow_overwrite_with_ckpted_files(void) { return agent.config.allow_file_overwrite; }

/* Words a plugin or program adds to its image's metadata (meta_json.c:
 * "header"). A key given again takes the new value. */
#define HEADER_WORDS_MAX 16
#define HEADER_WORD_LEN 256
static struct { char key[HEADER_WORD_LEN], value[HEADER_WORD_LEN]; } header_words[HEADER_WORDS_MAX];
static int n_header_words;

AGENT_EXPORT void dmtcp_add_to_ckpt_header(const char *key, const char *value) {
  if (!key || !value) return;
  int i = 0;
  while (i < n_header_words && strcmp(header_words[i].key, key)) i++;
  if (i == n_header_words) {
    if (n_header_words == HEADER_WORDS_MAX) return;
    n_header_words++;
  }
  agent_strlcpy(header_words[i].key, key, HEADER_WORD_LEN);
  agent_strlcpy(header_words[i].value, value, HEADER_WORD_LEN);
}

int api_header_words(void) { return n_header_words; }
const char *api_header_key(int i) { return header_words[i].key; }
const char *api_header_value(int i) { return header_words[i].value; }

/* ---- lookups for plugins ---- */

AGENT_EXPORT void *dmtcp_dlvsym(void *handle, char *symbol, const char *version) { return dlvsym(handle, symbol, version); }

AGENT_EXPORT void *dmtcp_dlsym_lib(const char *libname, const char *symbol) {
  void *lib = libname ? dlopen(libname, RTLD_NOW | RTLD_NOLOAD) : 0;
  if (!lib) return 0;
  void *f = dlsym(lib, symbol);
  dlclose(lib);   /* NOLOAD took a reference of its own */
  return f;
}

AGENT_EXPORT uint64_t dmtcp_dlsym_lib_fnc_offset(const char *libname, const char *symbol) {
  void *f = dmtcp_dlsym_lib(libname, symbol);
  Dl_info info;
  if (!f || !dladdr(f, &info) || !info.dli_fbase) return LIB_FNC_OFFSET_FAILED;
  return (uint64_t)((uintptr_t)f - (uintptr_t)info.dli_fbase);
}

/* ---- locks ---- */

AGENT_EXPORT void DmtcpMutexInit(DmtcpMutex *m, DmtcpMutexType type) { dmtcp_mutex_init_(m, type); }
AGENT_EXPORT int DmtcpMutexLock(DmtcpMutex *m) { return dmtcp_mutex_lock_(m); }
AGENT_EXPORT int DmtcpMutexTryLock(DmtcpMutex *m) { return dmtcp_mutex_trylock_(m); }
AGENT_EXPORT int DmtcpMutexUnlock(DmtcpMutex *m) { return dmtcp_mutex_unlock_(m); }
AGENT_EXPORT void DmtcpRWLockInit(DmtcpRWLock *l) { dmtcp_rwlock_init_(l); }
AGENT_EXPORT int DmtcpRWLockRdLock(DmtcpRWLock *l) { return dmtcp_rwlock_rdlock_(l); }
AGENT_EXPORT int DmtcpRWLockRdLockIgnoreQueuedWriter(DmtcpRWLock *l) { return dmtcp_rwlock_rdlock_(l); }
AGENT_EXPORT int DmtcpRWLockTryRdLock(DmtcpRWLock *l) { return dmtcp_rwlock_tryrdlock_(l); }
AGENT_EXPORT int DmtcpRWLockWrLock(DmtcpRWLock *l) { return dmtcp_rwlock_wrlock_(l); }
AGENT_EXPORT int DmtcpRWLockUnlock(DmtcpRWLock *l) { return dmtcp_rwlock_unlock_(l); }
