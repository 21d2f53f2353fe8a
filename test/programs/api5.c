/* More of dmtcp.h under the agent, across restarts: the ids as structs agree
 * with their text ("ID <hostid hex> <pid> <time hex> <text>"); the program's
 * path is its own after a restart, not the restorer's; a word given to
 * dmtcp_add_to_ckpt_header is in the image; and two threads that add to one
 * counter under a DmtcpMutex (and read it under a DmtcpRWLock) never lose an
 * increment, checkpoint or not: each tick prints "T n <counter>" and checks
 * counter == the sum of what each thread added. At its start and after each
 * restart it prints "ENV <restarts> <getenv API5_WHERE> <dmtcp_get_restart_env
 * API5_WHERE>": its own environment stays the launch's, the restart's is
 * dmtcp_restart's (the test runs each with its own value).
 * Usage: api5 N */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dmtcp.h>

static DmtcpMutex lock = DMTCP_MUTEX_INITIALIZER;
static DmtcpRWLock rw;
static volatile long counter, added[2];
static volatile int stop;

static void *adder(void *arg) {
  long k = (long)arg;
  while (!stop) {
    DmtcpMutexLock(&lock);
    counter++;
    added[k]++;
    DmtcpMutexUnlock(&lock);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  DmtcpRWLockInit(&rw);
  char self[PATH_MAX];
  if (!realpath("/proc/self/exe", self)) return 2;
  dmtcp_add_to_ckpt_header("job", "api5-42");
  pthread_t t[2];
  for (long k = 0; k < 2; k++) pthread_create(&t[k], 0, adder, (void *)k);
  int told = -1;
  for (int i = 1; i <= n; i++) {
    int ckpts = 0, restarts = 0;
    dmtcp_get_local_status(&ckpts, &restarts);
    if (restarts != told) {
      char value[64], tiny[2];
      const char *own = getenv("API5_WHERE");
      if (dmtcp_get_restart_env("API5_WHERE", value, sizeof value) != RESTART_ENV_SUCCESS) strcpy(value, "-");
      if (dmtcp_get_restart_env("API5_WHERE", tiny, sizeof tiny) != RESTART_ENV_TOOLONG) { printf("CORRUPT no TOOLONG\n"); return 3; }
      if (dmtcp_get_restart_env("API5_NOWHERE", tiny, sizeof tiny) != RESTART_ENV_NOTFOUND) { printf("CORRUPT no NOTFOUND\n"); return 3; }
      printf("ENV %d %s %s\n", restarts, own ? own : "-", value);
      told = restarts;
    }
    DmtcpUniqueProcessId id = dmtcp_get_uniquepid();
    printf("ID %llx %d %llx %s\n", (unsigned long long)id._hostid, (int)id._pid, (unsigned long long)id._time, dmtcp_get_uniquepid_str());
    const char *exe = dmtcp_get_executable_path();
    if (!exe || strcmp(exe, self)) { printf("CORRUPT executable path %s, not %s\n", exe ? exe : "(null)", self); return 3; }
    DmtcpRWLockRdLock(&rw);
    DmtcpMutexLock(&lock);
    long c = counter, sum = added[0] + added[1];
    DmtcpMutexUnlock(&lock);
    DmtcpRWLockUnlock(&rw);
    if (c != sum) { printf("CORRUPT counter %ld, added %ld\n", c, sum); return 3; }
    printf("T %d %ld\n", i, c);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    while (nanosleep(&ts, &ts) != 0) {}
  }
  stop = 1;
  for (int k = 0; k < 2; k++) pthread_join(t[k], 0);
  printf("DONE %d\n", n);
  return 0;
}
