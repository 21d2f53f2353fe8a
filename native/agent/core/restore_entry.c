/* Where the restorer lands once memory is back (docs/restore-plan.md, stage
 * `jump`). We run on agent.restore_stack with no thread pointer yet: nothing here
 * may touch TLS (errno, stack protector) until the checkpoint thread's is set. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "agent.h"
#include "plan_format.h"
#include "tree_format.h"
#include "raw_syscall.h"

static void apply_restart_info(void) {
  char host[256] = "", port[16] = "", dir[PATH_MAX] = "", encoder[sizeof agent.config.encoder_socket] = "";
  char solo[4] = "", every[24] = "", quiet[8] = "", image_map[80] = "";
  for (const char *p = agent.restart_info; *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    if (eq) {
      size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
      char *dst = 0;
      size_t cap = 0;
      if (klen == 10 && !strncmp(p, "coord_addr", 10)) { dst = host; cap = sizeof host; }
      else if (klen == 10 && !strncmp(p, "coord_port", 10)) { dst = port; cap = sizeof port; }
      else if (klen == 8 && !strncmp(p, "ckpt_dir", 8)) { dst = dir; cap = sizeof dir; }
      else if (klen == 14 && !strncmp(p, "encoder_socket", 14)) { dst = encoder; cap = sizeof encoder; }
      else if (klen == 14 && !strncmp(p, "no_coordinator", 14)) { dst = solo; cap = sizeof solo; }
      else if (klen == 8 && !strncmp(p, "interval", 8)) { dst = every; cap = sizeof every; }
      else if (klen == 5 && !strncmp(p, "quiet", 5)) { dst = quiet; cap = sizeof quiet; }
      else if (klen == 9 && !strncmp(p, "image_map", 9)) { dst = image_map; cap = sizeof image_map; }
      if (dst && vlen < cap) { memcpy(dst, eq + 1, vlen); dst[vlen] = 0; }
    }
    p += len + (eol ? 1 : 0);
  }
  if (dir[0]) agent_strlcpy(agent.config.ckpt_dir, dir, sizeof agent.config.ckpt_dir);
  /* MAJOR:MINOR:INODE of the image our memory is mapped from; none when this
   * restart copied every page (what the image said of an earlier restart's
   * file does not hold any more) */
  const char *q = image_map;
  agent.image_map_major = agent_parse_u64(q, 10, &q);
  agent.image_map_minor = *q == ':' ? agent_parse_u64(q + 1, 10, &q) : 0;
  agent.image_map_ino = *q == ':' ? agent_parse_u64(q + 1, 10, 0) : 0;
  /* The image's socket belonged to the old computation's encoder: use this
   * restart's, or none (then each checkpoint starts its own encoder). */
  agent_strlcpy(agent.config.encoder_socket, encoder, sizeof agent.config.encoder_socket);
  /* dmtcp_restart --no-coordinator (or an image that had none): this process
   * checkpoints itself from now on (solo.c); given a coordinator, it joins it */
  agent.config.no_coordinator = solo[0] == '1';
  if (agent.config.no_coordinator) agent.coord_addr_len = 0;
  if (quiet[0]) agent.config.quiet = (int)agent_parse_u64(quiet, 10, 0);
  if (every[0]) agent.config.interval_s = (int)agent_parse_u64(every, 10, 0);
  if (host[0] && port[0]) {
    agent.config.coord_port = (int)agent_parse_u64(port, 10, 0);
    agent_strlcpy(agent.config.coord_host, host, sizeof agent.config.coord_host);
    memset(&agent.coord_addr, 0, sizeof agent.coord_addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&agent.coord_addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&agent.coord_addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons((uint16_t)agent.config.coord_port);
      agent.coord_addr_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons((uint16_t)agent.config.coord_port);
      agent.coord_addr_len = sizeof *v6;
    }
  }
}

#define PAGE_ROUND(n) (((n) + 4095) & ~(uint64_t)4095)

/* dmtcp_restart's environment, for dmtcp_get_restart_env: copied out of the
 * plan tables into a mapping of ours (the one of an earlier restart, which
 * came back with the image, is given up). */
static void adopt_restart_environ(uint64_t from, uint64_t len) {
  if (agent.restart_environ) rsys2(SYS_munmap, agent.restart_environ, PAGE_ROUND(agent.restart_environ_len));
  agent.restart_environ = agent.restart_environ_len = 0;
  if (!from || !len) return;
  long to = rsys6(SYS_mmap, 0, PAGE_ROUND(len), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (to < 0 && to > -4096) return;
  memcpy((void *)to, (const void *)from, len);
  agent.restart_environ = (uint64_t)to;
  agent.restart_environ_len = len;
}

/* The restorers' shared tree map holds every restarted process's old and new
 * pid: that is our pid table from now on (pid_table.c). */
static void adopt_pid_table(uint64_t addr, uint64_t len, int32_t index) {
  agent.npids = 0;
  if (!addr) { pid_table_set_self(); return; }
  const struct tree_header *h = (const struct tree_header *)addr;
  const struct tree_entry *e = (const struct tree_entry *)(addr + TREE_HEADER_SIZE);
  for (uint32_t i = 0; i < h->nprocs && agent.npids < AGENT_MAX_PIDS; i++) {
    if (e[i].virt_pid <= 0 || e[i].virt_pid == e[i].real_pid) continue;
    agent.pids[agent.npids].virt = e[i].virt_pid;
    agent.pids[agent.npids].real = e[i].real_pid;
    agent.npids++;
  }
  agent.is_root = index == 0;
  agent.restart_foreground = agent.is_root && h->restart_foreground == 1;
  /* Kept until the tree's refill barrier (checkpoint_thread.c). */
  agent.tree_addr = addr;
  agent.tree_len = len;
  agent.tree_index = index;
}

/* The fds the restorers already put in place (shared descriptions). */
static void adopt_placements(void) {
  for (int i = 0; i < agent.nfds; i++) agent.fds[i].placed = 0;
  if (!agent.tree_addr) return;
  const struct tree_header *h = (const struct tree_header *)agent.tree_addr;
  const struct tree_placement *p = (const struct tree_placement *)(agent.tree_addr + h->placements_offset);
  for (uint32_t i = 0; i < h->nplacements; i++) {
    if (p[i].entry != agent.tree_index) continue;
    struct fd_record *r = fds_find(p[i].fd);
    if (r) r->placed = 1;
  }
}

void agent_restore_entry(void *arg) {
  agent_set_fs_base(agent.ckpt_fs_base);

  /* The handoff lives in the restorer, which we are about to unmap. */
  struct restore_handoff *h = arg;
  size_t n = h->info_len < sizeof agent.restart_info - 1 ? h->info_len : sizeof agent.restart_info - 1;
  memcpy(agent.restart_info, h->info, n);
  agent.restart_info[n] = 0;
  uint64_t r0 = h->restorer_start, r1 = h->restorer_end, t0 = h->tables_addr, t1 = h->tables_len;
  uint64_t tree_addr = h->tree_addr, tree_len = h->tree_len;
  uint64_t environ_addr = h->environ_addr, environ_len = h->environ_len;
  int32_t tree_index = h->tree_index;
  rsys2(SYS_munmap, r0, r1 - r0);
  adopt_restart_environ(environ_addr, environ_len);   /* it lives in the tables */
  rsys2(SYS_munmap, t0, t1);

  /* This kernel thread is the new process's first: its tid is the pid. It
   * becomes the thread that had the pid before (the program's main thread),
   * and the checkpoint thread and the others are cloned. The kernel sends a
   * signal for the whole process through that thread when it does not block
   * it: were it our checkpoint thread, which blocks every signal, a signal the
   * program ignores (SIGCHLD, SIGURG, SIGWINCH) would be queued instead of
   * dropped, and wake a thread of the program out of epoll_wait with EINTR.
   * (When that thread had ended, this one becomes the checkpoint thread.) */
  pid_t old_real_pid = agent.real_pid;
  agent.real_pid = (pid_t)rsys0(SYS_getpid);
  agent.parent_real = (pid_t)rsys0(SYS_getppid);
  struct thread_record *leader = threads_leader_record(old_real_pid);
  adopt_pid_table(tree_addr, tree_len, tree_index);
  if (!leader) {
    agent.ckpt_real_tid = agent.real_pid;
    int *tid_slot = (int *)(agent.ckpt_fs_base + (uint64_t)agent.pthread_tid_offset);
    *tid_slot = agent.real_pid;
    rsys1(SYS_set_tid_address, tid_slot);
    threads_register_rseq(agent.ckpt_fs_base);
  }

  apply_restart_info();
  /* The name ps shows, before the threads are cloned (they inherit it). */
  if (agent.comm[0]) rsys2(SYS_prctl, 15 /* PR_SET_NAME */, agent.comm);
  adopt_placements();
  process_state_restore_early();
  threads_recreate_after_restart(leader);
  if (!leader) agent_ctx_jump(&agent.ckpt_ctx, 1);
  /* Last: from here on the checkpoint thread uses the TLS this code runs with. */
  threads_start_checkpoint_thread();
  threads_become(leader);
}
