/* The program bench/vs-dmtcp.sh checkpoints and restarts, and its small tools.
 *
 *   prog run KIND MIB MARKFILE    hold MIB of KIND data, then loop: touch a few
 *                                 pages, write a mark record, sleep 1 ms
 *   prog dump KIND MIB            write the same bytes to stdout (for dd, gzip -1)
 *   prog memcpy MIB               seconds to copy MIB into fresh memory
 *   prog wait-ready MARKFILE S    wait (at most S s) until the loop has run
 *   prog wait-resume MARKFILE T0 S   wait until the loop ran again after T0
 *                                 (ns, CLOCK_REALTIME): print (resume - T0) s
 *   prog field MARKFILE NAME      print one field of the mark record
 *
 * KIND: random, text (pseudo-English words), half (even pages random, odd
 * pages zero); the same generator as bench/make-data.js, so runs compare.
 *
 * The mark record (five u64 at offset 0, rewritten each iteration) says when
 * the loop last ran, when it first ran after a gap (a checkpoint's freeze or a
 * restart), its longest gap since SIGUSR1, and its real pid (the raw syscall:
 * a checkpointer may virtualize getpid) so the bench can signal and end it.
 * Times come from CLOCK_REALTIME so the bench's own clock compares with them
 * across a restart. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define PIECE (1 << 20)
#define PAGES_PER_ITERATION 16
#define SLEEP_NS 1000000L
/* A gap longer than this is a freeze (checkpoint) or a restart: the iteration
 * after it is a "resume". Longer than scheduling noise, shorter than any restart. */
#define RESUME_GAP_NS 10000000ULL
#define POLL_NS 1000000L

enum { F_NOW, F_RESUME, F_MAXGAP, F_PID, F_ITER, F_COUNT };
static const char *field_names[F_COUNT] = { "now", "resume", "maxgap", "pid", "iter" };

static const char *words[] = {
  "the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as", "by", "at",
  "from", "his", "her", "it", "an", "were", "are", "which", "this", "be", "or", "checkpoint",
  "restart", "process", "memory", "image", "page", "thread", "signal", "coordinator", "barrier",
  "heap", "stack", "library", "file", "compress", "delta", "chain", "hash", "zero", "data", "run",
  "area", "kernel", "socket", "pipe", "descriptor", "session", "group", "terminal",
};
#define NWORDS (sizeof words / sizeof words[0])

static uint32_t x = 0x9e3779b9u;
static uint32_t rnd(void) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x; }

static void die(const char *what) { fprintf(stderr, "vs-dmtcp-prog: %s: %s\n", what, strerror(errno)); exit(99); }

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* One MiB of KIND into b (the generator state carries over between pieces). */
static void piece(const char *kind, unsigned char *b) {
  if (!strcmp(kind, "random") || !strcmp(kind, "half")) {
    for (size_t i = 0; i < PIECE; i += 4) { uint32_t r = rnd(); memcpy(b + i, &r, 4); }
    if (!strcmp(kind, "half"))
      for (size_t p = PAGE; p < PIECE; p += 2 * PAGE) memset(b + p, 0, PAGE);
  } else if (!strcmp(kind, "text")) {
    size_t o = 0;
    while (o < PIECE) {
      const char *w = words[rnd() % NWORDS];
      const char *end = rnd() % 13 == 0 ? ".\n" : " ";
      for (const char *s = w; *s && o < PIECE; s++) b[o++] = (unsigned char)*s;
      for (const char *s = end; *s && o < PIECE; s++) b[o++] = (unsigned char)*s;
    }
  } else {
    fprintf(stderr, "vs-dmtcp-prog: unknown kind %s (random, text, half)\n", kind);
    exit(99);
  }
}

static size_t mib_arg(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v <= 0) { fprintf(stderr, "vs-dmtcp-prog: bad MiB %s\n", s); exit(99); }
  return (size_t)v;
}

/* The kernel's pid, past any wrapper of getpid() or syscall() a checkpointer
 * puts in front of the program (DMTCP's returns the pid it had at launch). */
static long real_pid(void) {
#if defined(__x86_64__)
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
  return r;
#else
  return syscall(SYS_getpid);
#endif
}

static volatile sig_atomic_t reset_requested;
static void on_usr1(int sig) { (void)sig; reset_requested = 1; }

__attribute__((noreturn)) static void run(const char *kind, size_t mib, const char *markfile) {
  size_t bytes = mib << 20, npages = bytes / PAGE;
  unsigned char *buf = malloc(bytes);
  if (!buf) die("malloc");
  for (size_t i = 0; i < mib; i++) piece(kind, buf + (i << 20));
  int fd = open(markfile, O_WRONLY | O_CREAT, 0644);
  if (fd < 0) die(markfile);
  struct sigaction sa = { .sa_handler = on_usr1 };
  sigaction(SIGUSR1, &sa, NULL);
  uint64_t rec[F_COUNT] = { 0 }, prev = 0;
  size_t cursor = 0;
  struct timespec nap = { 0, SLEEP_NS };
  for (;;) {
    uint64_t t = now_ns();
    if (prev) {
      uint64_t gap = t - prev;
      if (gap > rec[F_MAXGAP]) rec[F_MAXGAP] = gap;
      if (gap > RESUME_GAP_NS) rec[F_RESUME] = t;
    }
    prev = t;
    if (reset_requested) { reset_requested = 0; rec[F_MAXGAP] = 0; }
    /* Read and write back one byte of the next pages: the data stays as it was,
     * but each touch is a write (a copy-on-write fault in a forked checkpoint). */
    for (int k = 0; k < PAGES_PER_ITERATION; k++, cursor = (cursor + 1) % npages) {
      volatile unsigned char *q = buf + cursor * PAGE + (cursor % (PAGE / 64)) * 64;
      *q = *q;
    }
    rec[F_NOW] = t;
    rec[F_PID] = (uint64_t)real_pid();
    rec[F_ITER]++;
    if (pwrite(fd, rec, sizeof rec, 0) != (ssize_t)sizeof rec) die("pwrite");
    nanosleep(&nap, NULL);
  }
}

static int dump(const char *kind, size_t mib) {
  unsigned char *b = malloc(PIECE);
  if (!b) die("malloc");
  for (size_t i = 0; i < mib; i++) {
    piece(kind, b);
    for (size_t o = 0; o < PIECE;) {
      ssize_t n = write(1, b + o, PIECE - o);
      if (n < 0) die("write");
      o += (size_t)n;
    }
  }
  return 0;
}

/* Copy into memory never touched before: page faults included, as a restore
 * into a fresh address space pays them. */
static int copy(size_t mib) {
  size_t bytes = mib << 20;
  unsigned char *src = malloc(bytes), *dst = malloc(bytes);
  if (!src || !dst) die("malloc");
  for (size_t i = 0; i < mib; i++) piece("random", src + (i << 20));
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  memcpy(dst, src, bytes);
  clock_gettime(CLOCK_MONOTONIC, &b);
  volatile unsigned char sink = dst[bytes - 1];
  (void)sink;
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}

static int read_record(const char *markfile, uint64_t rec[F_COUNT]) {
  int fd = open(markfile, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = pread(fd, rec, F_COUNT * sizeof rec[0], 0);
  close(fd);
  return n == (ssize_t)(F_COUNT * sizeof rec[0]);
}

/* Poll the mark file every POLL_NS until ok(rec) or timeout seconds. */
static int wait_for(const char *markfile, double timeout, uint64_t t0, uint64_t rec[F_COUNT]) {
  uint64_t deadline = now_ns() + (uint64_t)(timeout * 1e9);
  struct timespec nap = { 0, POLL_NS };
  while (now_ns() < deadline) {
    if (read_record(markfile, rec) && rec[F_ITER] > 0 && (t0 == 0 || rec[F_RESUME] > t0)) return 1;
    nanosleep(&nap, NULL);
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  uint64_t rec[F_COUNT];
  if (!strcmp(cmd, "run") && argc == 5) run(argv[2], mib_arg(argv[3]), argv[4]);
  if (!strcmp(cmd, "dump") && argc == 4) return dump(argv[2], mib_arg(argv[3]));
  if (!strcmp(cmd, "memcpy") && argc == 3) return copy(mib_arg(argv[2]));
  if (!strcmp(cmd, "wait-ready") && argc == 4) return wait_for(argv[2], atof(argv[3]), 0, rec) ? 0 : 1;
  if (!strcmp(cmd, "wait-resume") && argc == 5) {
    uint64_t t0 = strtoull(argv[3], NULL, 10);
    if (!wait_for(argv[2], atof(argv[4]), t0, rec)) return 1;
    printf("%.4f\n", (double)(rec[F_RESUME] - t0) / 1e9);
    return 0;
  }
  if (!strcmp(cmd, "field") && argc == 4) {
    if (!read_record(argv[2], rec)) { fprintf(stderr, "vs-dmtcp-prog: no record in %s\n", argv[2]); return 99; }
    for (int f = 0; f < F_COUNT; f++)
      if (!strcmp(argv[3], field_names[f])) { printf("%llu\n", (unsigned long long)rec[f]); return 0; }
  }
  fprintf(stderr, "usage: vs-dmtcp-prog run|dump|memcpy|wait-ready|wait-resume|field ... (see the file's head)\n");
  return 99;
}
