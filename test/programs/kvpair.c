/* dmtcp::kvdb (include/kvdb.h) between two processes of one computation.
 * Built as C++ (-x c++). A parent and its child count ("P k", "C k"); after
 * each restart each publishes "r<restarts>" under its own key and adds 1 to
 * "joined<restarts>", meets the other at dmtcp_global_barrier, then must read
 * the other's "r<restarts>" and joined<restarts> = 2 at once: "KV <who> <restarts> ok". Before any
 * restart a get of a key nobody set answers KEY_NOT_FOUND, and of a database
 * nobody made DB_NOT_FOUND. Anything else: "CORRUPT <why>", exit 3.
 * Usage: kvpair N */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "dmtcp.h"
#include "kvdb.h"

using dmtcp::kvdb::KVDBRequest;
using dmtcp::kvdb::KVDBResponse;

static void tick(void) { struct timespec t = { 0, 100000000 }; while (nanosleep(&t, &t) != 0) {} }

static int corrupt(const char *who, const char *why) { printf("CORRUPT %s: %s\n", who, why); fflush(stdout); return 3; }

static int meet(const char *who, const char *other, int restarts) {
  char mine[32], want[32], joined[32];
  snprintf(mine, sizeof mine, "rank-%s", who);
  snprintf(want, sizeof want, "r%d", restarts);
  snprintf(joined, sizeof joined, "joined%d", restarts);
  if (dmtcp::kvdb::set("kvpair", mine, want) != KVDBResponse::SUCCESS) return corrupt(who, "set");
  int64_t before = -1;
  KVDBResponse r = dmtcp::kvdb::request64(KVDBRequest::INCRBY, "kvpair", joined, 1, &before);
  if (r != KVDBResponse::SUCCESS && r != KVDBResponse::KEY_NOT_FOUND) return corrupt(who, "incrby");
  char theirs[32];
  snprintf(theirs, sizeof theirs, "rank-%s", other);
  /* both have published once both are past the barrier: one get each, no retry */
  dmtcp_global_barrier("kvpair-published");
  dmtcp::string got;
  int64_t n = 0;
  if (dmtcp::kvdb::get("kvpair", theirs, &got) != KVDBResponse::SUCCESS || got != want) return corrupt(who, "the other's value is not there after the barrier");
  if (dmtcp::kvdb::get64("kvpair", joined, &n) != KVDBResponse::SUCCESS || n != 2) return corrupt(who, "the count is not 2 after the barrier");
  printf("KV %s %d ok\n", who, restarts);
  fflush(stdout);
  return 0;
}

static int count(const char *who, const char *other, int n) {
  int seen = 0;
  for (int k = 1; k <= n; k++) {
    int ckpts = 0, restarts = 0;
    dmtcp_get_local_status(&ckpts, &restarts);
    if (restarts != seen) {
      seen = restarts;
      if (meet(who, other, restarts)) return 3;
    }
    printf("%c %d\n", who[0], k);
    fflush(stdout);
    tick();
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  setvbuf(stdout, 0, _IOLBF, 0);
  dmtcp::string v;
  if (dmtcp::kvdb::get("kvpair-none", "k", &v) != KVDBResponse::DB_NOT_FOUND) return corrupt("P", "a database nobody made");
  dmtcp::kvdb::set("kvpair-probe", "a", "1");
  if (dmtcp::kvdb::get("kvpair-probe", "b", &v) != KVDBResponse::KEY_NOT_FOUND) return corrupt("P", "a key nobody set");
  pid_t child = fork();
  if (child == 0) return count("C", "P", n);
  int r = count("P", "C", n);
  int status = 0;
  waitpid(child, &status, 0);
  if (r || !WIFEXITED(status) || WEXITSTATUS(status)) return 3;
  printf("DONE %d\n", n);
  return 0;
}
