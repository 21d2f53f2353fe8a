/* Memory across a restart: 128 MiB of heap and a 128 MiB anonymous mapping of
 * pseudo-random bytes (checksummed), a PROT_NONE guard page, a 64 GiB
 * MAP_NORESERVE reservation with a few pages touched far apart, a private file
 * mapping that was written to (copy-on-write), a shared file mapping, and a
 * mapping of a file that is then deleted. Prints "DONE ok" or "FAIL <why>". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BIG (128UL << 20)
#define RESERVE (64UL << 30)
#define PAGE 4096UL
#define FILE_SIZE (16 * PAGE)

static char failure[256];
static void fail(const char *why) { if (!failure[0]) snprintf(failure, sizeof failure, "%s", why); }

static unsigned long fill(unsigned char *p, size_t n, unsigned long seed) {
  unsigned long x = seed, h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    memcpy(p + i, &x, 8);
  }
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 1469598103934665603UL;
  for (size_t i = 0; i < n; i += 8) { unsigned long v; memcpy(&v, p + i, 8); h = (h ^ v) * 1099511628211UL; }
  return h;
}

static sigjmp_buf probe_jump;
static void on_segv(int sig) { (void)sig; siglongjmp(probe_jump, 1); }

/* 1 if reading the byte faults (the guard page must stay PROT_NONE). */
static int faults(volatile const char *p) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, &old);
  int faulted = 0;
  if (sigsetjmp(probe_jump, 1) == 0) { (void)*p; } else faulted = 1;
  sigaction(SIGSEGV, &old, 0);
  return faulted;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static int make_file(const char *path, char c) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  char page[PAGE];
  memset(page, c, PAGE);
  for (unsigned i = 0; i < FILE_SIZE / PAGE; i++) if (write(fd, page, PAGE) != PAGE) return -1;
  return fd;
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 20;
  unsigned char *heap = malloc(BIG);
  unsigned char *anon = mmap(0, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *guarded = mmap(0, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *reserve = mmap(0, RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (!heap || anon == MAP_FAILED || guarded == MAP_FAILED || reserve == MAP_FAILED) { printf("FAIL setup\n"); return 1; }
  unsigned long heap_sum = fill(heap, BIG, 42), anon_sum = fill(anon, BIG, 4242);
  mprotect(guarded + PAGE, PAGE, PROT_NONE);
  strcpy(guarded, "below the guard");
  strcpy(guarded + 2 * PAGE, "above the guard");
  for (unsigned long off = 0; off < RESERVE; off += RESERVE / 8) sprintf(reserve + off, "reserve %lu", off);

  int pf = make_file("private.map", 'p');
  char *priv = mmap(0, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, pf, 0);
  memcpy(priv + PAGE, "written privately", 18);
  int sf = make_file("shared.map", 's');
  char *shared = mmap(0, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, sf, 0);
  memcpy(shared + 2 * PAGE, "written shared", 15);
  int gf = make_file("gone.map", 'g');
  char *gone = mmap(0, FILE_SIZE, PROT_READ, MAP_PRIVATE, gf, 0);
  close(pf); close(sf); close(gf);
  unlink("gone.map");

  for (int t = 1; t <= ticks; t++) {
    if (t % 5 == 0 || t == ticks) {
      if (sum(heap, BIG) != heap_sum) fail("heap checksum");
      if (sum(anon, BIG) != anon_sum) fail("mmap checksum");
    }
    if (strcmp(guarded, "below the guard") || strcmp(guarded + 2 * PAGE, "above the guard")) fail("guarded area");
    if (!faults(guarded + PAGE)) fail("guard page is readable");
    for (unsigned long off = 0; off < RESERVE; off += RESERVE / 8) {
      char want[64];
      sprintf(want, "reserve %lu", off);
      if (strcmp(reserve + off, want)) fail("reservation contents");
    }
    if (reserve[RESERVE / 16] != 0) fail("untouched reservation page is not zero");
    if (memcmp(priv + PAGE, "written privately", 18) || priv[0] != 'p') fail("private file mapping");
    if (memcmp(shared + 2 * PAGE, "written shared", 15) || shared[0] != 's') fail("shared file mapping");
    if (gone[0] != 'g' || gone[FILE_SIZE - 1] != 'g') fail("mapping of a deleted file");
    printf("tick %d\n", t);
    fflush(stdout);
    sleep_ms(50);
  }
  /* The shared mapping still writes through to its file. */
  memcpy(shared + 3 * PAGE, "after restart", 14);
  msync(shared, FILE_SIZE, MS_SYNC);
  int check = open("shared.map", O_RDONLY);
  char got[14] = { 0 };
  if (pread(check, got, 14, 3 * PAGE) != 14 || memcmp(got, "after restart", 14)) fail("shared mapping no longer writes its file");
  close(check);
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok\n");
  return 0;
}
