/* The checkpoint thread: a hidden thread that listens to the coordinator and
 * plays the checkpoint script (docs/protocol.md) one named barrier at a time. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include "agent.h"
#include "dmtcp.h"
#include "raw_syscall.h"
#include "tree_format.h"

static char line[AGENT_LINE_MAX];

/* An answer with up to two fields (key2 may be 0). */
static void reply2(const char *verb, const char *barrier, const char *key, const char *value,
                   const char *key2, const char *value2) {
  char out[4096], *e = out, *lim = out + sizeof out;
  e += agent_strlcpy(e, verb, (size_t)(lim - e));
  e += agent_strlcpy(e, " name=", (size_t)(lim - e));
  e += agent_strlcpy(e, barrier, (size_t)(lim - e));
  for (int i = 0; i < 2; i++, key = key2, value = value2) {
    if (!key) break;
    e += agent_strlcpy(e, " ", (size_t)(lim - e));
    e += agent_strlcpy(e, key, (size_t)(lim - e));
    e += agent_strlcpy(e, "=", (size_t)(lim - e));
    /* percent-encode the few characters the protocol reserves */
    for (const char *v = value ? value : ""; *v && e + 4 < lim; v++) {
      unsigned char c = (unsigned char)*v;
      if (c == '%' || c == ' ' || c == '=' || c == '\n' || c == '\r') {
        *e++ = '%'; *e++ = "0123456789ABCDEF"[c >> 4]; *e++ = "0123456789ABCDEF"[c & 15];
      } else *e++ = (char)c;
    }
    *e = 0;
  }
  coord_send(out);
}

static void reply(const char *verb, const char *barrier, const char *key, const char *value) {
  reply2(verb, barrier, key, value, 0, 0);
}

void checkpoint_image_path(char *out, size_t size) {
  char *e = out, *lim = out + size;
  e += agent_strlcpy(e, agent.config.ckpt_dir, (size_t)(lim - e));
  e += agent_strlcpy(e, "/ckpt_", (size_t)(lim - e));
  e += agent_strlcpy(e, agent.prog, (size_t)(lim - e));
  e += agent_strlcpy(e, "_", (size_t)(lim - e));
  e += agent_strlcpy(e, agent.unique_id, (size_t)(lim - e));
  agent_strlcpy(e, ".dmtcp", (size_t)(lim - e));
}

/* The tree's refill barrier (docs/restart-tree.md): no process of a restarted
 * tree runs before every pipe has its bytes in flight back. A process that
 * died on the way must not stop the rest for good: after the limit we go on. */
#define TREE_REFILL_LIMIT_MS 30000
#define TREE_REFILL_POLL_MS 100

static void tree_refill_barrier(void) {
  if (!agent.tree_addr) return;
  struct tree_header *h = (struct tree_header *)agent.tree_addr;
  __atomic_add_fetch(&h->refilled, 1, __ATOMIC_SEQ_CST);
  agent_futex_wake_shared(&h->refilled);
  for (long waited = 0; waited < TREE_REFILL_LIMIT_MS; waited += TREE_REFILL_POLL_MS) {
    uint32_t seen = __atomic_load_n(&h->refilled, __ATOMIC_SEQ_CST);
    if (seen >= h->nprocs) break;
    agent_futex_wait_shared(&h->refilled, seen, TREE_REFILL_POLL_MS);
  }
  rsys2(SYS_munmap, agent.tree_addr, agent.tree_len);
  agent.tree_addr = agent.tree_len = 0;
}

/* Runs on the checkpoint thread after the restore entry jumped back into it. */
static void continue_after_restart(void) {
  threads_wait_reborn();
  agent.restarted = 1;
  agent.restarts++;
  agent.suspended = 0;
  pipes_refill();
  fds_release();
  tcp_reuse_after_restart();
  sysv_after_restart((const void *)agent.tree_addr);
  tree_refill_barrier();
  sysv_after_barrier();
  terminal_restore();   /* every group of the tree exists now */
  gate_open();
  int r = coord_connect_and_hello(1);
  if (r < 0) {
    agent_say("restart: cannot reach the coordinator; the program continues without checkpoints");
    agent.active = 0;
  }
  process_state_restore_limits();
  timers_restore();
  process_state_raise_pending();
  /* From the moment its threads stopped for the checkpoint to now the program
   * did not run, and it never went on from that checkpoint: relative waits
   * (waits.c) do not count this time (a checkpoint it goes on from counts, as
   * any pause of the process does). */
  agent.lost_ns += agent_mono_ns() - (agent.suspend_mono_ns ? agent.suspend_mono_ns : agent.ckpt_mono_ns);
  /* the new process's CPU clock started again from 0 (cpu_clocks.c) */
  agent.cpu_offset_ns += agent.cpu_at_ckpt_ns - agent_cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  plugins_event(DMTCP_EVENT_RESTART, 1);
  threads_resume_all();
  terminal_after_resume();
  plugins_event(DMTCP_EVENT_RUNNING, 1);
  api_run_hooks(API_HOOK_RESTART);
}

/* Returns 1 if we came back from an image (the coordinator link is new). */
static int checkpoint(const char *barrier, int resume_follows) {
  static char path[PATH_MAX];
  static char why[512];
  process_state_save();
  timers_save();
  sysv_save();
  checkpoint_image_path(path, sizeof path);
  agent_program_path();   /* the program's name for itself after a restart (procfs.c) */
  agent.generation++;
  agent.ckpt_fs_base = agent_get_fs_base();
  agent.ckpt_mono_ns = agent_mono_ns();
  agent.cpu_at_ckpt_ns = agent_cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  if (agent_ctx_save(&agent.ckpt_ctx) != 0) {
    continue_after_restart();
    return 1;
  }
  /* Forked (forked_ckpt.c): what needs this live process is taken here, then
   * a copy of it writes the image while the program goes on. */
  int written = capture_prepare(why, sizeof why), forked = 0;
  const char *why_not = 0;
  if (written == 0) {
    why_not = forked_why_not(capture_maps_text());
    forked = !why_not && forked_start(path, agent.barrier_gen, resume_follows, why, sizeof why) == 0;
    if (!why_not && !forked) why_not = why;   /* the fork failed: we write it ourselves */
    if (!forked) written = capture_stream_prepared(path, why, sizeof why);
  }
  pipes_refill();   /* before RESUME lets any process read */
  terminal_refill();
  process_state_release();
  if (written == 0 && forked) {
    /* The writer says WRITTEN when the image is on disk (docs/protocol.md). */
    reply2("REACHED", barrier, "image", path, "writing", "1");
  } else if (written == 0) {
    agent_strlcpy(agent.last_image, path, sizeof agent.last_image);
    reply2("REACHED", barrier, "image", path, "unforked", why_not);
  } else {
    agent.generation--;
    reply("FAILED", barrier, "reason", why);
  }
  return 0;
}

/* While an image writer runs, the checkpoint thread also watches it end, to
 * reap it at once (it would stay a zombie) and to speak for it if it died
 * without a word. Returns when the coordinator has something to say. */
#define WRITER_POLL_MS 100   /* no pidfd (before Linux 5.3): look this often */

static int wait_for_coordinator(void) {
  while (forked_writing() && !coord_line_buffered()) {
    int pidfd = forked_poll_fd();
    struct pollfd fds[2] = { { agent.coord_fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
    long n = rsys3(SYS_poll, fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? -1 : WRITER_POLL_MS);
    if (n < 0 && n != -EINTR) return 0;   /* let the read say what is wrong */
    if (n > 0 && pidfd >= 0 && (fds[1].revents & POLLNVAL)) forked_pidfd_lost();   /* the program closed it */
    forked_reap(0);
    if (n > 0 && fds[0].revents) return 0;
  }
  return 0;
}

static void *checkpoint_thread_main(void *unused) {
  (void)unused;
  char name[64];
  agent.ckpt_real_tid = agent_real_gettid();
  for (;;) {
    if (!agent.active || wait_for_coordinator() < 0 || coord_read_line(line, sizeof line) < 0) {
      /* The coordinator is gone: the program runs on, without checkpoints. */
      agent.active = 0;
      forked_release();
      return 0;
    }
    if (!coord_take_welcome(line)) {
      /* a forked child's (fork.c), or the one sent again after an exec */
    } else if (!strncmp(line, "ERROR", 5)) {
      agent_say(line);   /* the coordinator refused us: we run on unobserved */
      agent.active = 0;
      return 0;
    } else if (!strncmp(line, "KILL", 4)) {
      /* dmtcp_command -k: every process ends with status 0, as job scripts
       * written for DMTCP expect. */
      forked_kill();   /* an image being written is dropped */
      forked_tell();   /* children not told of yet: the coordinator ends them as they join */
      sockets_reset_before_exit();
      plugins_event(DMTCP_EVENT_EXIT, 0);
      rsys1(SYS_exit_group, 0);
    } else if (!strncmp(line, "BARRIER ", 8) && coord_field(line, "name", name, sizeof name)) {
      char bgen[24];
      if (coord_field(line, "gen", bgen, sizeof bgen)) agent.barrier_gen = (int)agent_parse_u64(bgen, 10, 0);
      if (!strcmp(name, "SUSPEND")) {
        /* Sent twice when an exec took the first one along (coord_send_exec). */
        if (agent.suspended) { reply("REACHED", name, 0, 0); continue; }
        /* The previous image's writer first, while the program still runs
         * (the coordinator starts no checkpoint before it said WRITTEN). */
        forked_reap(1);
        /* The program's pre-checkpoint hooks (dmtcpaware) run while its threads do:
         * they may print or take the program's locks. */
        api_run_hooks(API_HOOK_PRE_CHECKPOINT);
        plugins_event(DMTCP_EVENT_PRESUSPEND, 0);
        /* Forks and execs in flight finish first (gate.c); then the
         * coordinator hears of every child they made, before our REACHED. */
        gate_close();
        forked_tell();
        if (threads_suspend_all() == 0) {
          agent.suspended = 1;
          agent.suspend_mono_ns = agent_mono_ns();
          /* Offsets as they are, before any process of the computation tags a
           * shared one at ELECT (fd_share.c): hence here, one barrier earlier. */
          agent_say_hold();
          fds_save();
          agent.fds_saved = 1;
          reply("REACHED", name, 0, 0);
        } else {
          threads_resume_all();
          gate_open();
          reply("FAILED", name, "reason", "threads did not stop");
        }
      } else if (!strcmp(name, "ELECT")) {
        /* Every process is stopped: bytes TCP still holds back (Nagle, a cork)
         * go to their peers now, so that the peers' DRAIN finds them queued. */
        sockets_push();
        fd_share_elect();
        agent.share_marked = 1;
        reply("REACHED", name, 0, 0);
      } else if (!strcmp(name, "DRAIN")) {
        if (agent.share_marked) fd_share_read();
        sysv_drain();
        reply("REACHED", name, 0, 0);
      } else if (!strcmp(name, "CHECKPOINT")) {
        char gen[24];
        if (agent.share_marked) { fd_share_undo(); agent.share_marked = 0; }
        if (agent.fds_saved) sockets_count_unsent();   /* every receiver copied its queue at DRAIN */
        tcp_windows_narrow();
        agent_say_release();
        first_this_checkpoint_done();   /* every process is past DRAIN */
        if (!coord_field(line, "comp", agent.comp_id, sizeof agent.comp_id)) agent.comp_id[0] = 0;
        if (!coord_field(line, "members", agent.members, sizeof agent.members)) agent.members[0] = 0;
        agent.comp_gen = coord_field(line, "gen", gen, sizeof gen) ? (int)agent_parse_u64(gen, 10, 0) : 0;
        plugins_event(DMTCP_EVENT_PRECHECKPOINT, 0);   /* every process is stopped */
        /* resume=1: RESUME comes without waiting for the images (docs/protocol.md) */
        char resume[8];
        int resume_follows = coord_field(line, "resume", resume, sizeof resume) && !strcmp(resume, "1");
        if (checkpoint(name, resume_follows) == 0) plugins_event(DMTCP_EVENT_RESUME, 0);
      } else if (!strcmp(name, "RESUME")) {
        if (agent.suspended) {
          /* A checkpoint that failed half-way: offsets, owners and pipes as they were. */
          if (agent.share_marked) { fd_share_undo(); agent.share_marked = 0; }
        tcp_windows_narrow();
          agent_say_release();
          first_this_checkpoint_done();
          pipes_refill();
          terminal_refill();
          process_state_release();
          agent.fds_saved = 0;
          agent.suspended = 0;
          threads_resume_all();
          forked_release();   /* the program runs: the image writer may start */
          gate_open();
          plugins_event(DMTCP_EVENT_RUNNING, 0);
          api_run_hooks(API_HOOK_POST_CHECKPOINT);
        }
        forked_release();   /* the program runs: the image writer may start */
        reply("REACHED", name, 0, 0);
      } else {
        reply("REACHED", name, 0, 0);   /* barriers we have no work for */
      }
    }
  }
}

void checkpoint_thread_start(void) {
  pthread_t thread;
  pthread_attr_t attr;
  uint64_t all = ~0ULL, old = 0;
  /* The thread inherits this mask: it never takes any signal of the program's.
   * (Raw call: our own pthread_sigmask wrapper would unblock the checkpoint signal.) */
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  agent_real_pthread_create(&thread, &attr, checkpoint_thread_main, 0);   /* ours: no plugin event */
  pthread_attr_destroy(&attr);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
}
