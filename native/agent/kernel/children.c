/* Children that have exited but are not reaped yet (zombies). They have no
 * agent and no image; their parent's image records them (pid and wait
 * status), and the restart forks a stand-in that exits the same way
 * (TREE_ZOMBIE, native/restorer/tree.c), so the program's waitpid still finds
 * them. waitid with WNOWAIT reads a zombie's status without reaping it. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "agent.h"
#include "raw_syscall.h"

static int is_zombie(int pid) {
  char path[64], buf[512], *e = path + agent_strlcpy(path, "/proc/", sizeof path);
  e = agent_fmt_u64(e, (uint64_t)pid, 10);
  agent_strlcpy(e, "/stat", sizeof path - (size_t)(e - path));
  if (agent_read_file(path, buf, sizeof buf) <= 0) return 0;
  const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
  return p && p[1] == ' ' && p[2] == 'Z';
}

/* The status as waitpid reports it: exit code << 8, or the signal (| 0x80 for a core). */
static int wait_status(const siginfo_t *si) {
  if (si->si_code == CLD_EXITED) return (si->si_status & 0xff) << 8;
  return (si->si_status & 0x7f) | (si->si_code == CLD_DUMPED ? 0x80 : 0);
}

static void note_child(int pid) {
  for (int i = 0; i < agent.nzombies; i++) if (agent.zombies[i].real == pid) return;
  if (agent.nzombies == AGENT_MAX_ZOMBIES || !is_zombie(pid)) return;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (rsys5(SYS_waitid, P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL, 0) < 0 || si.si_pid != pid) return;
  agent.zombies[agent.nzombies].real = pid;
  agent.zombies[agent.nzombies].virt = pid_virt_of_real(pid);
  agent.zombies[agent.nzombies].status = wait_status(&si);
  agent.nzombies++;
}

/* Children of every thread: /proc/self/task/<tid>/children. */
void children_save(void) {
  agent.nzombies = 0;
  char list[4096];
  for (int t = -1; t < agent.nthreads; t++) {
    int tid = t < 0 ? agent.ckpt_real_tid : agent.threads[t].real_tid;
    char path[64];
    agent_task_path(path, sizeof path, tid, "children");
    if (agent_read_file(path, list, sizeof list) <= 0) continue;
    for (const char *p = list; *p;) {
      const char *q;
      uint64_t pid = agent_parse_u64(p, 10, &q);
      if (q == p) break;
      if (pid) note_child((int)pid);
      p = *q == ' ' ? q + 1 : q;
    }
  }
}
