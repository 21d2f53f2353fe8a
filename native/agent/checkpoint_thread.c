/* The checkpoint thread: a hidden thread that listens to the coordinator and
 * plays the checkpoint script (docs/protocol.md) one named barrier at a time. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include "agent.h"
#include "../common/raw_syscall.h"

static char line[AGENT_LINE_MAX];

static void reply(const char *verb, const char *barrier, const char *key, const char *value) {
  char out[4096], *e = out, *lim = out + sizeof out;
  e += agent_strlcpy(e, verb, (size_t)(lim - e));
  e += agent_strlcpy(e, " name=", (size_t)(lim - e));
  e += agent_strlcpy(e, barrier, (size_t)(lim - e));
  if (key) {
    e += agent_strlcpy(e, " ", (size_t)(lim - e));
    e += agent_strlcpy(e, key, (size_t)(lim - e));
    e += agent_strlcpy(e, "=", (size_t)(lim - e));
    /* percent-encode the few characters the protocol reserves */
    for (const char *v = value; *v && e + 4 < lim; v++) {
      unsigned char c = (unsigned char)*v;
      if (c == '%' || c == ' ' || c == '=' || c == '\n' || c == '\r') {
        *e++ = '%'; *e++ = "0123456789ABCDEF"[c >> 4]; *e++ = "0123456789ABCDEF"[c & 15];
      } else *e++ = (char)c;
    }
    *e = 0;
  }
  coord_send(out);
}

static void image_path(char *out, size_t size) {
  char *e = out, *lim = out + size;
  e += agent_strlcpy(e, agent.config.ckpt_dir, (size_t)(lim - e));
  e += agent_strlcpy(e, "/ckpt_", (size_t)(lim - e));
  e += agent_strlcpy(e, agent.prog, (size_t)(lim - e));
  e += agent_strlcpy(e, "_", (size_t)(lim - e));
  e += agent_strlcpy(e, agent.unique_id, (size_t)(lim - e));
  agent_strlcpy(e, ".dmtcp", (size_t)(lim - e));
}

/* Runs on the checkpoint thread after the restore entry jumped back into it. */
static void continue_after_restart(void) {
  threads_wait_reborn();
  agent.restarted = 1;
  int r = coord_connect_and_hello(1);
  if (r < 0) {
    agent_say("restart: cannot reach the coordinator; the program continues without checkpoints");
    agent.active = 0;
  }
  process_state_restore_limits();
  process_state_raise_pending();
  threads_resume_all();
}

/* Returns 1 if we came back from an image (the coordinator link is new). */
static int checkpoint(const char *barrier) {
  static char path[PATH_MAX];
  static char why[512];
  process_state_save();
  image_path(path, sizeof path);
  agent.generation++;
  agent.ckpt_fs_base = agent_get_fs_base();
  if (agent_ctx_save(&agent.ckpt_ctx) != 0) {
    continue_after_restart();
    return 1;
  }
  int written = capture_write_image(path, why, sizeof why);
  process_state_release();
  if (written == 0) {
    agent_strlcpy(agent.last_image, path, sizeof agent.last_image);
    reply("REACHED", barrier, "image", path);
  } else {
    agent.generation--;
    reply("FAILED", barrier, "reason", why);
  }
  return 0;
}

static void *checkpoint_thread_main(void *unused) {
  (void)unused;
  char name[64];
  agent.ckpt_real_tid = agent_real_gettid();
  for (;;) {
    if (!agent.active || coord_read_line(line, sizeof line) < 0) {
      /* The coordinator is gone: the program runs on, without checkpoints. */
      agent.active = 0;
      return 0;
    }
    if (!strncmp(line, "KILL", 4)) {
      rsys2(SYS_kill, agent.real_pid, SIGKILL);
    } else if (!strncmp(line, "BARRIER ", 8) && coord_field(line, "name", name, sizeof name)) {
      if (!strcmp(name, "SUSPEND")) {
        if (threads_suspend_all() == 0) reply("REACHED", name, 0, 0);
        else { threads_resume_all(); reply("FAILED", name, "reason", "threads did not stop"); }
      } else if (!strcmp(name, "CHECKPOINT")) {
        checkpoint(name);
      } else if (!strcmp(name, "RESUME")) {
        threads_resume_all();
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
  pthread_create(&thread, &attr, checkpoint_thread_main, 0);
  pthread_attr_destroy(&attr);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &old, 0, 8);
}
