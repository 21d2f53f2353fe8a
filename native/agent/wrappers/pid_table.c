/* The pid table: every process of the computation that the kernel knows under
 * another pid than the program does. Before the first restart it is empty and
 * every translation is the identity (no cost at all). A restart fills it with
 * the whole restarted tree (restore_entry.c reads it from the restorers' shared
 * tree map); fork copies it with the rest of memory; exec carries it in the
 * environment (exec.c). Process group and session ids are the pids of their
 * leaders, so they translate through the same table.
 *
 * Lookups are linear: a restarted tree has a handful to a few hundred
 * processes, and the wrappers that look up pass a pid the program chose. */
#include <string.h>
#include "agent.h"

pid_t pid_real_of_virt(pid_t virt) {
  if (virt == agent.virt_pid) return agent.real_pid;
  for (int i = 0; i < agent.npids; i++)
    if (agent.pids[i].virt == virt) return agent.pids[i].real;
  return virt;
}

pid_t pid_virt_of_real(pid_t real) {
  if (real == agent.real_pid) return agent.virt_pid;
  for (int i = 0; i < agent.npids; i++)
    if (agent.pids[i].real == real) return agent.pids[i].virt;
  return real;
}

/* A pid the kernel just gave a new child is unusable when the program already
 * knows another process by that number, or when the table names it as some
 * process's real pid (a stale pair from a process that has exited): the child
 * would be confused with that process. fork.c then forks again. */
int pid_table_conflicts(pid_t real) {
  if (real == agent.virt_pid && real != agent.real_pid) return 1;
  for (int i = 0; i < agent.npids; i++)
    if (agent.pids[i].virt == real || agent.pids[i].real == real) return 1;
  return 0;
}

void pid_table_set_self(void) {
  for (int i = 0; i < agent.npids; i++) {
    if (agent.pids[i].virt == agent.virt_pid) { agent.pids[i].real = agent.real_pid; return; }
  }
  if (agent.virt_pid != agent.real_pid && agent.npids < AGENT_MAX_PIDS) {
    agent.pids[agent.npids].virt = agent.virt_pid;
    agent.pids[agent.npids].real = agent.real_pid;
    agent.npids++;
  }
}

/* "v:r,v:r,..." for the environment of an exec; returns the length, or -1 when
 * it does not fit (the new program then knows only its own pair). */
int pid_table_format(char *out, size_t size) {
  char *e = out, *lim = out + size;
  *e = 0;
  for (int i = 0; i < agent.npids; i++) {
    char num[48], *n = num;
    if (i) *n++ = ',';
    n = agent_fmt_u64(n, (uint64_t)agent.pids[i].virt, 10);
    *n++ = ':';
    n = agent_fmt_u64(n, (uint64_t)agent.pids[i].real, 10);
    size_t len = (size_t)(n - num);
    if (e + len + 1 > lim) { *out = 0; return -1; }
    memcpy(e, num, len);
    e += len;
    *e = 0;
  }
  return (int)(e - out);
}

void pid_table_parse(const char *text) {
  agent.npids = 0;
  for (const char *p = text; p && *p && agent.npids < AGENT_MAX_PIDS;) {
    const char *q;
    uint64_t v = agent_parse_u64(p, 10, &q);
    if (*q != ':') break;
    uint64_t r = agent_parse_u64(q + 1, 10, &q);
    if (v && r) {
      agent.pids[agent.npids].virt = (pid_t)v;
      agent.pids[agent.npids].real = (pid_t)r;
      agent.npids++;
    }
    if (*q != ',') break;
    p = q + 1;
  }
}
