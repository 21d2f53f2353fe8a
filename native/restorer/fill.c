/* Stage fill: the copied runs' bytes, by one thread per core.
 *
 * Most of a large restart's time is the kernel's, not ours: each page a run
 * lands in is a fresh page of the program's, allocated and zeroed on its first
 * fault (a 2 GiB image: half a million faults; in a virtual machine also the
 * host's). Faults on different pages run in parallel, so several threads read
 * at once, each taking the next piece of at most FILL_PIECE bytes. The
 * threads are raw clone()s (no libc here) on stacks of our own .bss; each
 * ends before the stage does, and the kernel has reaped it before we go on
 * (the program's agent counts its threads). */
#include "fill.h"
#include "util.h"

#define FILL_PIECE (8UL << 20)
#define FILL_MAX_THREADS 8
#define FILL_STACK_SIZE (32 * 1024)
/* Below this a thread costs more than it saves: the main thread copies alone. */
#define FILL_THREADS_FROM (64UL << 20)

#define NR_sched_yield 24
#define NR_sched_getaffinity 204
#define NR_tgkill 234
#define NR_gettid 186
#define ESRCH 3
#define CPU_MASK_BYTES 128

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_THREAD 0x10000
#define CLONE_SYSVSEM 0x40000
#define CLONE_CHILD_CLEARTID 0x200000
#define FILL_CLONE_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_CHILD_CLEARTID)

/* start.S: a thread on stack_top that runs fn() then exits; the kernel
 * clears *ctid and wakes its futex when the thread is gone. Returns its tid. */
extern long restorer_clone(unsigned long flags, void *stack_top, volatile int *ctid, void (*fn)(void));

static char stacks[FILL_MAX_THREADS][FILL_STACK_SIZE] __attribute__((aligned(16)));
static volatile int alive[FILL_MAX_THREADS];

/* The work: a cursor over the copied runs, taken under a spin lock (one take per piece). */
static struct {
  const struct plan_run *runs;
  uint64_t nruns, run, offset;
  int plan_fd, image_fd;
  volatile int lock;
} work;

static void lock(void) { while (__atomic_exchange_n(&work.lock, 1, __ATOMIC_ACQUIRE)) sys0(NR_sched_yield); }
static void unlock(void) { __atomic_store_n(&work.lock, 0, __ATOMIC_RELEASE); }

/* The next piece: its address, length, file and offset there; 0 when none is left. */
static int take(uint64_t *addr, uint64_t *len, int *fd, uint64_t *from) {
  lock();
  while (work.run < work.nruns && ((work.runs[work.run].flags & RUN_MAP_IMAGE) || work.offset >= work.runs[work.run].len)) {
    work.run++;
    work.offset = 0;
  }
  int got = work.run < work.nruns;
  if (got) {
    const struct plan_run *r = &work.runs[work.run];
    *len = r->len - work.offset < FILL_PIECE ? r->len - work.offset : FILL_PIECE;
    *addr = r->addr + work.offset;
    *from = r->data_offset + work.offset;
    *fd = r->flags & RUN_READ_IMAGE ? work.image_fd : work.plan_fd;
    work.offset += *len;
  }
  unlock();
  return got;
}

static void fill_worker(void) {
  uint64_t addr, len, from;
  int fd;
  while (take(&addr, &len, &fd, &from))
    r_read_full(fd, (void *)addr, len, from, fd == work.plan_fd ? "cannot read the restore plan at offset" : "cannot read the image at offset");
}

static int cpus(void) {
  unsigned char mask[CPU_MASK_BYTES];
  long n = sys3(NR_sched_getaffinity, 0, sizeof mask, mask);
  int count = 0;
  for (long i = 0; i < n; i++)
    for (unsigned char b = mask[i]; b; b &= (unsigned char)(b - 1)) count++;
  return count > 0 ? count : 1;
}

void fill_runs(const struct plan_run *runs, uint64_t nruns, int plan_fd, int image_fd) {
  uint64_t bytes = 0;
  for (uint64_t i = 0; i < nruns; i++) {
    if (runs[i].flags & RUN_MAP_IMAGE) continue;
    if ((runs[i].flags & RUN_READ_IMAGE) && image_fd < 0) r_fail("the plan reads a run but names no image, at", 0, runs[i].addr, 1);
    bytes += runs[i].len;
  }
  work.runs = runs;
  work.nruns = nruns;
  work.plan_fd = plan_fd;
  work.image_fd = image_fd;
  int helpers = bytes >= FILL_THREADS_FROM ? cpus() - 1 : 0;
  if (helpers > FILL_MAX_THREADS) helpers = FILL_MAX_THREADS;
  if ((uint64_t)helpers > bytes / FILL_PIECE) helpers = (int)(bytes / FILL_PIECE);
  long tids[FILL_MAX_THREADS];
  int started = 0;
  for (; started < helpers; started++) {
    alive[started] = 1;
    tids[started] = restorer_clone(FILL_CLONE_FLAGS, stacks[started] + FILL_STACK_SIZE, &alive[started], fill_worker);
    if (tids[started] <= 0) { alive[started] = 0; break; }   /* fewer threads: the work is the same */
  }
  fill_worker();
  long self = sys0(NR_getpid);
  for (int i = 0; i < started; i++) {
    while (alive[i]) sys4(NR_futex, &alive[i], FUTEX_WAIT, 1, 0);
    /* the kernel clears alive[] as the thread exits, before it is reaped */
    while (sys3(NR_tgkill, self, tids[i], 0) != -ESRCH) sys0(NR_sched_yield);
  }
}
