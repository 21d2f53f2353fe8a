/* A program that talks to the checkpointer through include/dmtcp.h.
 *
 * Run plainly (no agent): every call answers "not here" and nothing crashes;
 * prints "STUBS ok".
 * Under dmtcp_launch:
 *  1. three dmtcp_checkpoint() calls, each returning DMTCP_AFTER_CHECKPOINT,
 *     each moving the generation and the local checkpoint count by one and
 *     leaving this process's image on disk ("C k");
 *  2. the coordinator's status counts this process, running;
 *  3. a critical section: dmtcp_disable_ckpt(), "CRIT start", 1.5 s in which
 *     the test asks for a checkpoint, which must not come ("CRIT end"), then
 *     dmtcp_enable_ckpt(), after which it comes ("ENABLED-CKPT");
 *  4. dmtcp_checkpoint() again: "FILE <image>", then waits to be killed; the
 *     process restarted from that image returns DMTCP_AFTER_RESTART from the
 *     same call, with one restart counted: "RESTARTED", exit 0.
 * Anything else: "CORRUPT <why>", exit 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dmtcp.h"

static void nap_ms(long ms) {
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&t, &t) != 0) {}
}

static int corrupt(const char *why) { printf("CORRUPT %s\n", why); return 3; }

static int stubs(void) {
  int a = -1, b = -1;
  if (dmtcp_checkpoint() != DMTCP_NOT_PRESENT) return corrupt("checkpoint without the agent");
  if (dmtcp_disable_ckpt() != DMTCP_NOT_PRESENT || dmtcp_enable_ckpt() != DMTCP_NOT_PRESENT) return corrupt("disable/enable without the agent");
  if (dmtcp_get_coordinator_status(&a, &b) != DMTCP_NOT_PRESENT || dmtcp_get_local_status(&a, &b) != DMTCP_NOT_PRESENT) return corrupt("status without the agent");
  if (dmtcp_get_ckpt_filename() != NULL || dmtcp_get_uniquepid_str() != NULL || strcmp(dmtcp_get_ckpt_dir(), "")) return corrupt("names without the agent");
  if (dmtcp_set_ckpt_dir("/tmp") != DMTCP_NOT_PRESENT) return corrupt("set_ckpt_dir without the agent");
  if (dmtcp_get_generation || dmtcp_get_computation_id_str) return corrupt("an unwrapped call resolved without the agent");
  printf("STUBS ok\n");
  return 0;
}

int main(void) {
  setvbuf(stdout, 0, _IOLBF, 0);
  if (!dmtcp_is_enabled()) return stubs();
  printf("ENABLED id %s\n", dmtcp_get_uniquepid_str());
  for (int k = 1; k <= 3; k++) {
    uint32_t gen = dmtcp_get_generation();
    int r = dmtcp_checkpoint();
    if (r != DMTCP_AFTER_CHECKPOINT) return corrupt("dmtcp_checkpoint did not return DMTCP_AFTER_CHECKPOINT");
    int ckpts = -1, restarts = -1;
    dmtcp_get_local_status(&ckpts, &restarts);
    if (dmtcp_get_generation() != gen + 1 || (uint32_t)ckpts != gen + 1 || restarts != 0) return corrupt("the counts did not move by one");
    if (access(dmtcp_get_ckpt_filename(), R_OK) != 0) return corrupt("the image is not where dmtcp_get_ckpt_filename says");
    printf("C %d\n", k);
  }
  int peers = 0, running = 0;
  if (dmtcp_get_coordinator_status(&peers, &running) != DMTCP_IS_PRESENT || peers < 1 || !running) return corrupt("coordinator status");
  if (strcmp(dmtcp_get_ckpt_dir(), "") == 0 || dmtcp_get_computation_id_str()[0] == 0) return corrupt("no ckpt dir or computation id");
  printf("STATUS peers %d\n", peers);

  uint32_t gen = dmtcp_get_generation();
  dmtcp_disable_ckpt();
  printf("CRIT start\n");
  nap_ms(1500);
  if (dmtcp_get_generation() != gen) return corrupt("a checkpoint came inside the critical section");
  printf("CRIT end\n");
  dmtcp_enable_ckpt();
  for (int i = 0; i < 500 && dmtcp_get_generation() == gen; i++) nap_ms(10);
  if (dmtcp_get_generation() != gen + 1) return corrupt("the checkpoint asked for in the critical section did not come after it");
  printf("ENABLED-CKPT\n");

  int r = dmtcp_checkpoint();
  if (r == DMTCP_AFTER_CHECKPOINT) {
    printf("FILE %s\n", dmtcp_get_ckpt_filename());
    for (;;) nap_ms(1000);   /* the test kills and restarts us */
  }
  int ckpts = -1, restarts = -1;
  dmtcp_get_local_status(&ckpts, &restarts);
  if (r != DMTCP_AFTER_RESTART || restarts != 1) return corrupt("after the restart dmtcp_checkpoint did not say so");
  printf("RESTARTED\n");
  return 0;
}
