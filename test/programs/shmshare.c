/* Memory a parent and its child share, across checkpoints: MAP_SHARED
 * anonymous memory, a MAP_SHARED mapping of /dev/zero, a memfd and a POSIX
 * shm object (shm_open), each 1 MiB mapped before fork. In each, the two take
 * turns: the parent writes turn 2k-1, the child sees it and writes 2k, through
 * that memory alone. The child also fills a pattern the parent checks. A turn
 * that does not come within 3 s means the memory is no longer shared:
 * CORRUPT. The parent prints "M k" per round of all four. Usage: shmshare N */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE (1 << 20)
#define KINDS 4
static const char *kind_names[KINDS] = { "anonymous", "/dev/zero", "memfd", "shm_open" };

struct shared { volatile uint32_t turn; uint32_t pad[1023]; uint32_t pattern[(SIZE - 4096) / 4]; };

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int await_turn(struct shared *m, uint32_t want, int kind) {
  for (int waited = 0; __atomic_load_n(&m->turn, __ATOMIC_ACQUIRE) != want; waited++) {
    if (waited > 3000) { printf("CORRUPT %s memory: turn %u never came (at %u)\n", kind_names[kind], want, m->turn); return -1; }
    nap(1);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  struct shared *m[KINDS];
  m[0] = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int z = open("/dev/zero", O_RDWR);
  m[1] = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
  close(z);
  int mf = memfd_create("shmshare", 0);
  ftruncate(mf, SIZE);
  m[2] = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
  close(mf);
  char name[64];
  snprintf(name, sizeof name, "/dmtcp-shmshare-%d", getpid());
  int ps = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  ftruncate(ps, SIZE);
  m[3] = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ps, 0);
  close(ps);
  for (int i = 0; i < KINDS; i++) if (m[i] == MAP_FAILED) { printf("CORRUPT mmap %s\n", kind_names[i]); return 3; }
  pid_t pid = fork();
  if (pid == 0) {
    for (uint32_t k = 1; k <= (uint32_t)n; k++) {
      for (int i = 0; i < KINDS; i++) {
        if (await_turn(m[i], 2 * k - 1, i) < 0) _exit(3);
        for (size_t j = 0; j < sizeof m[i]->pattern / 4; j += 1024) m[i]->pattern[j] = k * 2654435761u + (uint32_t)j;
        __atomic_store_n(&m[i]->turn, 2 * k, __ATOMIC_RELEASE);
      }
    }
    _exit(0);
  }
  for (uint32_t k = 1; k <= (uint32_t)n; k++) {
    for (int i = 0; i < KINDS; i++) {
      __atomic_store_n(&m[i]->turn, 2 * k - 1, __ATOMIC_RELEASE);
      if (await_turn(m[i], 2 * k, i) < 0) { shm_unlink(name); return 3; }
      for (size_t j = 0; j < sizeof m[i]->pattern / 4; j += 1024)
        if (m[i]->pattern[j] != k * 2654435761u + (uint32_t)j) { printf("CORRUPT %s pattern at %zu\n", kind_names[i], j); shm_unlink(name); return 3; }
    }
    printf("M %u\n", k);
    nap(40);
  }
  int status;
  waitpid(pid, &status, 0);
  shm_unlink(name);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT child ended with status %d\n", status); return 3; }
  printf("DONE %d\n", n);
  return 0;
}
