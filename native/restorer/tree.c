/* The restart of a process tree (docs/restart-tree.md), before any memory is
 * touched. Every process of the tree runs this restorer for its own image;
 * the root is the one dmtcp_restart exec'd. In named stages:
 *
 *   join_tree       map the shared tree file; a session leader calls setsid()
 *                   now, so that the children it forks next are in its session;
 *                   write our new real pid
 *   fork_children   fork each child entry, which execs the restorer patched for
 *                   its own image's heap (brk does not survive fork + exec
 *                   otherwise); zombies exit again at once; the root also forks
 *                   the ghosts, helpers that fork the orphans and exit
 *   wait_forked     every process of the tree exists: the pid table is complete
 *   shared_fds      (before fork_children) the root makes every shared
 *                   description once, so that fork hands it to all; after
 *                   groups, each process puts its own at their numbers
 *                   (shared_fds.c)
 *   groups          group leaders make their group; members join their leader's
 *                   (which may be a later sibling: they wait for it); a group
 *                   whose leader had exited is made by a stand-in (its zombie,
 *                   or a ghost its first member forks and later reaps)
 *   wait_planned    every process read its plan (tree_planned): only then does
 *                   anyone unmap its old self, so a bad image stops the whole
 *                   restart with one line and exit 99, not half a tree
 *
 * The shared words are futexes (not private ones: the processes share the
 * file, not an address space). */
#include "util.h"
#include "tree.h"
#include "shared_fds.h"
#include "../common/tree_format.h"

#define TREE_WAIT_POLL_MS 100
#define TREE_WAIT_LIMIT_MS 120000

static struct tree_header *hdr;
static struct tree_entry *entries;
static struct tree_entry *self;
static int self_index = -1;
static char **saved_envp;

static void futex_wait(volatile uint32_t *word, uint32_t seen, long ms) {
  struct { long s, ns; } ts = { ms / 1000, (ms % 1000) * 1000000L };
  sys4(NR_futex, word, FUTEX_WAIT, seen, &ts);
}

static void futex_wake(volatile uint32_t *word) { sys3(NR_futex, word, FUTEX_WAKE, 0x7fffffff); }

static void add_one(volatile uint32_t *word) {
  __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST);
  futex_wake(word);
}

/* A restorer that fails tells the others, which then leave quietly: the one
 * that failed said why. */
static void tell_failed(void) {
  if (!hdr) return;
  __atomic_store_n(&hdr->failed, 1, __ATOMIC_SEQ_CST);
  futex_wake(&hdr->forked);
  futex_wake(&hdr->planned);
  for (uint32_t i = 0; i < hdr->nprocs; i++) futex_wake(&entries[i].state);
}

static void leave_if_failed(void) {
  if (__atomic_load_n(&hdr->failed, __ATOMIC_SEQ_CST)) sys1(NR_exit_group, FAIL_RC);
}

static void wait_count(volatile uint32_t *word, uint32_t want, const char *what) {
  for (long waited = 0;; waited += TREE_WAIT_POLL_MS) {
    leave_if_failed();
    uint32_t seen = __atomic_load_n(word, __ATOMIC_SEQ_CST);
    if (seen >= want) return;
    if (waited > TREE_WAIT_LIMIT_MS) r_fail("the restart tree did not form:", what, seen, 1);
    futex_wait(word, seen, TREE_WAIT_POLL_MS);
  }
}

static void num_text(char *out, uint64_t v) {
  char tmp[24];
  int i = 0;
  do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) *out++ = tmp[--i];
  *out = 0;
}

/* In the new child: become the restorer of entry j. */
static __attribute__((noreturn)) void exec_restorer(int j) {
  char fd_text[24], index_text[24];
  num_text(fd_text, hdr->tree_fd);
  num_text(index_text, (uint64_t)j);
  char *argv[] = { "mtcp_restart", "--tree-fd", fd_text, "--index", index_text, 0 };
  /* Our own start cleared ADDR_NO_RANDOMIZE for the program's sake; the next
   * restorer needs it for an exact brk again. */
  long persona = sys1(NR_personality, 0xffffffffL);
  if (persona >= 0) sys1(NR_personality, persona | ADDR_NO_RANDOMIZE);
  long r = sys5(NR_execveat, entries[j].restorer_fd, "", argv, saved_envp, AT_EMPTY_PATH);
  r_fail("cannot start the restorer of a child process; errno", 0, (uint64_t)-r, 1);
}

static void fork_child(int j) {
  long pid = sys0(NR_fork);
  if (pid < 0) r_fail("cannot fork a process of the tree; errno", 0, (uint64_t)-pid, 1);
  if (pid == 0) exec_restorer(j);
}

static void fork_children(void);

/* Helpers (ghosts) this process forked and reaped: their SIGCHLD is not the program's. */
static int helpers_reaped;

/* Ghosts (TREE_GHOST): the root forks a helper for the orphans, which had a
 * parent outside the computation (init, a subreaper) when they were
 * checkpointed. The helper forks them and exits, and the kernel gives them to
 * init or our subreaper, as before. With TREE_SETSID the helper first makes a
 * session, standing for a session leader that had exited (a double-forked
 * daemon lives in the session of the process that called setsid and left).
 * The root reaps the helper at once, so the restarted program never sees a
 * child it did not have. */
static void fork_ghost(int j) {
  long helper = sys0(NR_fork);
  if (helper < 0) r_fail("cannot fork a process of the tree; errno", 0, (uint64_t)-helper, 1);
  if (helper == 0) {
    self = &entries[j];
    self_index = j;
    if ((self->flags & TREE_SETSID) && sys0(NR_setsid) < 0) r_fail("cannot make the session of an orphan", 0, 0, 0);
    self->real_pid = (int32_t)sys0(NR_getpid);
    add_one(&hdr->forked);
    add_one(&hdr->planned);
    add_one(&hdr->refilled);
    __atomic_or_fetch(&self->state, TREE_STATE_GROUPED, __ATOMIC_SEQ_CST);
    futex_wake(&self->state);
    fork_children();
    sys1(NR_exit_group, 0);
  }
  int status = 0;
  sys4(NR_wait4, helper, &status, 0, 0);
  if (status != 0) sys1(NR_exit_group, FAIL_RC);   /* the helper said why */
  helpers_reaped++;
}

/* A stand-in for a group leader that had exited (a zombie of it, or a group
 * ghost): it makes the group under its own pid, which the pid table names by
 * the old leader's, lets the members join, and stays until every process read
 * its plan, when all have joined: then the group lives on without it. */
static void stand_for_leader(struct tree_entry *e) {
  if (sys2(NR_setpgid, 0, 0) < 0) r_fail("cannot make the process group of a leader that had exited", 0, 0, 0);
  __atomic_or_fetch(&e->state, TREE_STATE_GROUPED, __ATOMIC_SEQ_CST);
  futex_wake(&e->state);
  wait_count(&hdr->planned, hdr->nprocs, "not every process read its plan");
}

static void fork_group_ghost(int j) {
  long pid = sys0(NR_fork);
  if (pid < 0) r_fail("cannot fork a process of the tree; errno", 0, (uint64_t)-pid, 1);
  if (pid != 0) return;
  struct tree_entry *g = &entries[j];
  self = g;
  self_index = j;
  g->real_pid = (int32_t)sys0(NR_getpid);
  add_one(&hdr->forked);
  add_one(&hdr->planned);
  add_one(&hdr->refilled);
  stand_for_leader(g);
  sys1(NR_exit_group, 0);
}

/* Zombies (TREE_ZOMBIE): a child that had exited and was not reaped yet at
 * checkpoint time. It exits again now the way it did then, so its parent's
 * waitpid gets the same status (and a SIGCHLD). */
static void fork_zombie(int j) {
  long pid = sys0(NR_fork);
  if (pid < 0) r_fail("cannot fork a process of the tree; errno", 0, (uint64_t)-pid, 1);
  if (pid != 0) return;
  struct tree_entry *z = &entries[j];
  int status = z->group;
  z->real_pid = (int32_t)sys0(NR_getpid);
  add_one(&hdr->forked);
  add_one(&hdr->planned);
  add_one(&hdr->refilled);
  if (z->flags & TREE_GROUP_LEADER) stand_for_leader(z);
  int sig = status & 0x7f;
  if (sig) {
    uint64_t none = 0, no_core[2] = { 0, 0 };
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { 0, 0, 0, 0 };
    sys4(NR_prlimit64, 0, RLIMIT_CORE, no_core, 0);   /* the first death already dumped, or not */
    sys4(NR_rt_sigaction, sig, &dfl, 0, 8);
    sys4(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, &none, 0, 8);
    sys2(NR_kill, z->real_pid, sig);
  }
  sys1(NR_exit_group, (status >> 8) & 0xff);
}

/* ---- stages ---- */

/* setpgid(0, 0) unless we lead our group already: a session leader does,
 * and may not call it. */
static long lead_own_group(void) { return sys1(NR_getpgid, 0) == sys0(NR_getpid) ? 0 : sys2(NR_setpgid, 0, 0); }

/* Is the restart's group the foreground of its controlling terminal? Asked
 * before the root changes group. No terminal: no. */
static int32_t restart_in_foreground(void) {
  int fd = (int)sys3(NR_open, "/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  int fg = 0;
  long r = sys3(NR_ioctl, fd, TIOCGPGRP, &fg);
  sys1(NR_close, fd);
  return r == 0 && fg > 0 && fg == (int)sys1(NR_getpgid, 0);
}

static void join_tree(int tree_fd, int index) {
  struct tree_header h;
  if (sys4(NR_pread64, tree_fd, &h, sizeof h, 0) != (long)sizeof h) r_fail("cannot read the restart tree", 0, 0, 0);
  for (int i = 0; i < 8; i++)
    if (h.magic[i] != TREE_MAGIC[i]) r_fail("not a restart tree (bad magic)", 0, 0, 0);
  if (h.version != TREE_VERSION) r_fail("unsupported restart tree version", 0, h.version, 1);
  if (h.nprocs == 0 || h.nprocs > TREE_MAX_PROCS || index < 0 || (uint32_t)index >= h.nprocs ||
      h.map_len < TREE_HEADER_SIZE + (uint64_t)h.nprocs * TREE_ENTRY_SIZE || h.map_addr % PAGE_SIZE)
    r_fail("malformed restart tree", 0, 0, 0);
  long addr = sys6(NR_mmap, h.map_addr, h.map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, tree_fd, 0);
  if (addr != (long)h.map_addr) r_fail("cannot map the restart tree at", 0, h.map_addr, 1);
  hdr = (struct tree_header *)addr;
  entries = (struct tree_entry *)(addr + TREE_HEADER_SIZE);
  self = &entries[index];
  self_index = index;
  r_before_fail = tell_failed;
  if (self->flags & TREE_SETSID) {
    long sid = sys0(NR_setsid);
    if (sid < 0) r_say("cannot make a new session; errno", 0, (uint64_t)-sid, 1);
    else shared_fds_take_ctty(hdr, index);
  }
  if (index == 0) {
    hdr->restart_foreground = restart_in_foreground();
    /* Before any fork, so that children forked in the root's group are in the new one. */
    long r = self->flags & TREE_GROUP_LEADER ? lead_own_group() : 0;
    if (r < 0) r_say("cannot make the root's process group; errno", 0, (uint64_t)-r, 1);
    hdr->root_pgid = (int32_t)sys1(NR_getpgid, 0);
    hdr->root_sid = (int32_t)sys1(NR_getsid, 0);
  }
  self->real_pid = (int32_t)sys0(NR_getpid);
  add_one(&hdr->forked);
}

static void fork_children(void) {
  for (uint32_t j = 0; j < hdr->nprocs; j++) {
    leave_if_failed();
    uint32_t f = entries[j].flags;
    if (f & TREE_GHOST) {
      if (self_index == 0) fork_ghost((int)j);
    } else if (entries[j].parent == self_index) {
      if (f & TREE_ZOMBIE) fork_zombie((int)j);
      else if (f & TREE_GROUP_GHOST) fork_group_ghost((int)j);
      else fork_child((int)j);
    }
  }
}

static void groups(void) {
  uint32_t f = self->flags;
  long r = 0;
  if (f & TREE_SETSID) {
    /* setsid made us the leader of a new group too */
  } else if (f & TREE_GROUP_LEADER) {
    r = lead_own_group();
  } else if ((f & TREE_JOIN_GROUP) && self->group >= 0 && (uint32_t)self->group < hdr->nprocs) {
    struct tree_entry *leader = &entries[self->group];
    for (long waited = 0; !(__atomic_load_n(&leader->state, __ATOMIC_SEQ_CST) & TREE_STATE_GROUPED); waited += TREE_WAIT_POLL_MS) {
      leave_if_failed();
      if (waited > TREE_WAIT_LIMIT_MS) r_fail("the restart tree did not form: group leader", 0, 0, 0);
      futex_wait(&leader->state, leader->state, TREE_WAIT_POLL_MS);
    }
    r = sys2(NR_setpgid, 0, leader->real_pid);
  } else if (f & TREE_ROOT_GROUP) {
    r = sys2(NR_setpgid, 0, hdr->root_pgid);
  }
  if (r < 0) r_say("cannot restore a process group; errno", 0, (uint64_t)-r, 1);
  __atomic_or_fetch(&self->state, TREE_STATE_GROUPED, __ATOMIC_SEQ_CST);
  futex_wake(&self->state);
}

/* Only our own plan stays open: the program must not find the others' fds. */
static void close_tree_fds(int own_plan_fd) {
  for (uint32_t j = 0; j < hdr->nprocs; j++) {
    if (entries[j].plan_fd >= 0 && entries[j].plan_fd != own_plan_fd) sys1(NR_close, entries[j].plan_fd);
    if (entries[j].restorer_fd >= 0) sys1(NR_close, entries[j].restorer_fd);
  }
  sys1(NR_close, hdr->tree_fd);
}

int tree_start(int tree_fd, int index, char **envp) {
  saved_envp = envp;
  join_tree(tree_fd, index);
  if (index == 0) shared_fds_make(hdr);
  fork_children();
  wait_count(&hdr->forked, hdr->nprocs, "not every process was forked");
  groups();
  int plan_fd = self->plan_fd;
  close_tree_fds(plan_fd);
  return shared_fds_place(hdr, index, plan_fd);
}

/* The group ghosts we forked leave now that every process planned. Their
 * SIGCHLD (and a ghost's of the root's), pending while the restorer blocks
 * every signal, would reach a handler of the program's for a child it never
 * had: it is dropped, unless a zombie of ours exits too, whose SIGCHLD the
 * program is owed (SIG_IGN, which drops it, would also reap that zombie). */
static void reap_helpers(void) {
  int zombies = 0;
  for (uint32_t j = 0; j < hdr->nprocs; j++) {
    if (entries[j].parent != self_index) continue;
    if (entries[j].flags & TREE_ZOMBIE) zombies++;
    if (!(entries[j].flags & TREE_GROUP_GHOST)) continue;
    int status = 0;
    sys4(NR_wait4, entries[j].real_pid, &status, WAIT_ALL_CHILDREN, 0);
    helpers_reaped++;
  }
  if (!helpers_reaped || zombies) return;
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } ignore = { SIG_IGNORE, 0, 0, 0 }, dfl = { 0, 0, 0, 0 };
  sys4(NR_rt_sigaction, SIG_CHLD, &ignore, 0, 8);
  sys4(NR_rt_sigaction, SIG_CHLD, &dfl, 0, 8);
}

void tree_planned(void) {
  add_one(&hdr->planned);
  wait_count(&hdr->planned, hdr->nprocs, "not every process read its plan");
  reap_helpers();
}

void tree_handoff(uint64_t *addr, uint64_t *len, int32_t *index) {
  *addr = (uint64_t)hdr;
  *len = hdr->map_len;
  *index = self_index;
}

uint64_t tree_map_start(void) { return (uint64_t)hdr; }
uint64_t tree_map_end(void) { return hdr ? (uint64_t)hdr + hdr->map_len : 0; }
