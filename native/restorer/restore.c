/* mtcp_restart: put a process's memory back, then jump into its agent.
 *
 * dmtcp_restart (TypeScript) decoded and verified the image and wrote a plan file
 * (docs/restore-plan.md); it exec'd us with ADDR_NO_RANDOMIZE and a patched ELF
 * header, so the kernel's start_brk is already the image's start_brk. We run with
 * no libc, in named stages, and any failure is one line on stderr and exit 99
 * before the old program's memory is touched by anything but us. */
#include "util.h"
#include "tree.h"
#include "shared_fds.h"
#include "sysv.h"
#include "fill.h"
#include "../common/plan_format.h"

#define RESTORER_STACK_SIZE (256 * 1024)
#define MAPS_BUF_SIZE (256 * 1024)
#define MAX_SPECIALS 8

char restorer_stack[RESTORER_STACK_SIZE] __attribute__((aligned(16)));
char *const restorer_stack_top = restorer_stack + RESTORER_STACK_SIZE;
extern char __executable_start[], _end[];

static char maps_buf[MAPS_BUF_SIZE];
static struct restore_handoff handoff;
static struct plan_header header;

struct special { uint64_t start, end; char name[24]; };
static struct special live_specials[MAX_SPECIALS];
static int n_live_specials;

extern void jump_to_entry(uint64_t entry, uint64_t stack_top, void *handoff) __attribute__((noreturn));

static uint64_t page_down(uint64_t a) { return a & ~(PAGE_SIZE - 1); }
static uint64_t page_up(uint64_t a) { return (a + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }
static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

/* ---- stage: read_plan ---- */

struct restorer_args { int plan_fd, tree_fd, index; };

static struct restorer_args parse_args(char **argv) {
  struct restorer_args a = { -1, -1, 0 };
  for (int i = 1; argv[i] && argv[i + 1]; i++) {
    if (r_streq(argv[i], "--plan-fd")) a.plan_fd = (int)r_parse_num(argv[++i], 10, 0);
    else if (r_streq(argv[i], "--tree-fd")) a.tree_fd = (int)r_parse_num(argv[++i], 10, 0);
    else if (r_streq(argv[i], "--index")) a.index = (int)r_parse_num(argv[++i], 10, 0);
  }
  if (a.plan_fd < 0 && a.tree_fd < 0)
    r_fail("usage: mtcp_restart --tree-fd N --index I | --plan-fd N (run by dmtcp_restart)", 0, 0, 0);
  return a;
}

static void read_full(int fd, void *buf, uint64_t len, uint64_t off) {
  r_read_full(fd, buf, len, off, "cannot read the restore plan at offset");
}

static const struct plan_area *areas;
static const struct plan_run *runs;
static int image_fd = -1;   /* the raw image that RUN_MAP_IMAGE runs come from */

static void read_plan(int fd) {
  read_full(fd, &header, sizeof header, 0);
  for (int i = 0; i < 8; i++)
    if (header.magic[i] != PLAN_MAGIC[i]) r_fail("not a restore plan (bad magic)", 0, 0, 0);
  if (header.version != PLAN_VERSION) r_fail("unsupported restore plan version", 0, header.version, 1);
  if (header.areas_offset % PAGE_SIZE || header.tables_addr % PAGE_SIZE || header.tables_len == 0)
    r_fail("malformed restore plan tables", 0, 0, 0);
  if (header.info_len > PLAN_INFO_MAX) r_fail("restart info too long", 0, header.info_len, 1);
  read_full(fd, handoff.info, header.info_len, PLAN_INFO_OFFSET);
  handoff.info_len = header.info_len;
  uint64_t len = page_up(header.tables_len);
  long addr = sys6(NR_mmap, (long)header.tables_addr, (long)len, PROT_READ,
                   MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, (long)header.areas_offset);
  if (addr != (long)header.tables_addr) r_fail("cannot map the plan tables at", 0, header.tables_addr, 1);
  areas = (const struct plan_area *)header.tables_addr;
  runs = (const struct plan_run *)(header.tables_addr + (header.runs_offset - header.areas_offset));
  handoff.tables_addr = header.tables_addr;
  handoff.tables_len = len;
  if (header.environ_len && header.environ_offset >= header.areas_offset &&
      header.environ_offset + header.environ_len <= header.areas_offset + header.tables_len) {
    handoff.environ_addr = header.tables_addr + (header.environ_offset - header.areas_offset);
    handoff.environ_len = header.environ_len;
  }
}

/* ---- stage: open_image ----
 * Runs the plan maps or reads from the image need the very file dmtcp_restart read:
 * a file put in its place since (a new checkpoint renamed over it, a copy)
 * could hold other bytes. Checked here, before any memory of ours is gone. */
static void open_image(void) {
  if (!header.image_path_offset) return;
  if (header.image_path_offset >= header.tables_len) r_fail("malformed restore plan: image path", 0, 0, 0);
  const char *path = (const char *)areas + header.image_path_offset;
  image_fd = (int)sys3(NR_open, path, O_RDONLY | O_CLOEXEC, 0);
  if (image_fd < 0) r_fail("cannot open the image:", path, 0, 0);
  struct kstat st;
  if (sys2(NR_fstat, image_fd, &st) < 0 || st.st_dev != header.image_dev || st.st_ino != header.image_ino)
    r_fail("the image was replaced while dmtcp_restart read it:", path, 0, 0);
  uint64_t size = (uint64_t)st.st_size;
  for (uint64_t i = 0; i < header.nruns; i++) {
    const struct plan_run *r = &runs[i];
    if ((r->flags & (RUN_MAP_IMAGE | RUN_READ_IMAGE)) && r->data_offset + r->len > size)
      r_fail("the image is shorter than its plan says:", path, 0, 0);
    if ((r->flags & RUN_MAP_IMAGE) && r->data_offset % PAGE_SIZE)
      r_fail("malformed restore plan: a mapped run's image offset", 0, r->data_offset, 1);
  }
}

/* ---- stage: clear_space ---- */

/* Reads /proc/self/maps and calls fn for each line's range and name. */
static void for_each_mapping(void (*fn)(uint64_t start, uint64_t end, const char *name)) {
  int fd = (int)sys3(NR_open, "/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) r_fail("cannot open /proc/self/maps", 0, 0, 0);
  uint64_t used = 0;
  for (;;) {
    long n = sys3(NR_read, fd, maps_buf + used, MAPS_BUF_SIZE - 1 - used);
    if (n < 0) r_fail("cannot read /proc/self/maps", 0, 0, 0);
    if (n == 0) break;
    used += (uint64_t)n;
    if (used >= MAPS_BUF_SIZE - 1) r_fail("too many mappings in the restorer", 0, 0, 0);
  }
  sys1(NR_close, fd);
  maps_buf[used] = 0;
  char *line = maps_buf;
  while (*line) {
    char *eol = line;
    while (*eol && *eol != '\n') eol++;
    char saved = *eol;
    *eol = 0;
    const char *p;
    uint64_t start = r_parse_num(line, 16, &p);
    uint64_t end = r_parse_num(p + 1, 16, &p);
    /* The name is the sixth field: skip five space-separated fields. */
    int fields = 1;
    while (*p && fields < 6) {
      while (*p == ' ') p++;
      if (fields == 5) break;
      while (*p && *p != ' ') p++;
      fields++;
    }
    fn(start, end, p);
    *eol = saved;
    line = saved ? eol + 1 : eol;
  }
}

static int is_special_name(const char *name) {
  return r_streq(name, "[vdso]") || r_startswith(name, "[vvar") || r_streq(name, "[vsyscall]");
}

static void note_or_unmap(uint64_t start, uint64_t end, const char *name) {
  uint64_t self_start = page_down((uint64_t)__executable_start), self_end = page_up((uint64_t)_end);
  if (overlaps(start, end, self_start, self_end)) return;
  if (overlaps(start, end, handoff.tables_addr, handoff.tables_addr + handoff.tables_len)) return;
  if (overlaps(start, end, tree_map_start(), tree_map_end())) return;
  if (is_special_name(name)) {
    if (r_streq(name, "[vsyscall]")) return;
    if (n_live_specials == MAX_SPECIALS) r_fail("too many vdso/vvar areas", 0, 0, 0);
    struct special *s = &live_specials[n_live_specials++];
    s->start = start; s->end = end;
    size_t n = r_strlen(name);
    if (n >= sizeof s->name) n = sizeof s->name - 1;
    r_memcpy(s->name, name, n);
    s->name[n] = 0;
    return;
  }
  sys2(NR_munmap, start, end - start);
}

static void clear_space(void) {
  handoff.restorer_start = page_down((uint64_t)__executable_start);
  handoff.restorer_end = page_up((uint64_t)_end);
  for (uint32_t i = 0; i < header.nareas; i++) {
    const struct plan_area *a = &areas[i];
    if (overlaps(a->start, a->end, handoff.restorer_start, handoff.restorer_end))
      r_fail("the image needs the restorer's own addresses; area at", 0, a->start, 1);
    if (overlaps(a->start, a->end, tree_map_start(), tree_map_end()))
      r_fail("the restart tree map overlaps the image's area at", 0, a->start, 1);
  }
  for_each_mapping(note_or_unmap);
}

/* ---- stage: move_vdso ----
 * glibc caches pointers into the vdso, and the vdso code finds its data pages
 * (vvar) at a fixed distance. The kernel lets us move both with mremap, so we put
 * this kernel's vdso and vvar exactly where the image had them. */

#define VDSO_PARKING 0x8000000UL /* inside the restorer's reserved low region */

static const char *image_special_name(const struct plan_area *a) {
  if (!a->path_offset) return a->flags & AREA_VDSO ? "[vdso]" : "[vvar]";
  return (const char *)areas + a->path_offset;
}

static void move_vdso(void) {
  uint64_t parked = VDSO_PARKING;
  /* Park every live special first, so a target never overlaps a live one. */
  for (int i = 0; i < n_live_specials; i++) {
    struct special *s = &live_specials[i];
    uint64_t len = s->end - s->start;
    long r = sys5(NR_mremap, s->start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, parked);
    if (r != (long)parked) r_fail("cannot move", s->name, (uint64_t)-r, 1);
    s->start = parked; s->end = parked + len;
    parked += len + PAGE_SIZE;
  }
  for (uint32_t i = 0; i < header.nareas; i++) {
    const struct plan_area *a = &areas[i];
    if (!(a->flags & (AREA_VDSO | AREA_VVAR))) continue;
    const char *name = image_special_name(a);
    struct special *match = 0;
    for (int k = 0; k < n_live_specials; k++)
      if (r_streq(live_specials[k].name, name)) match = &live_specials[k];
    if (!match || match->end - match->start != a->end - a->start)
      r_fail("this kernel's vdso differs from the image's:", name, a->start, 1);
    uint64_t len = a->end - a->start;
    long r = sys5(NR_mremap, match->start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, a->start);
    if (r != (long)a->start) r_fail("cannot move", name, (uint64_t)-r, 1);
    match->start = match->end = 0;
    match->name[0] = 0;
  }
}

/* ---- stage: set_brk ---- */

static void set_brk(void) {
  if (!header.brk) return;
  uint64_t cur = (uint64_t)sys1(NR_brk, 0);
  if (cur != header.start_brk && cur != header.brk)
    r_fail("the kernel's brk is not the image's start_brk; brk is", 0, cur, 1);
  if (header.brk == cur) return;
  uint64_t got = (uint64_t)sys1(NR_brk, header.brk);
  if (got != header.brk) {
    /* the kernel refuses when a mapping lies in the way or RLIMIT_DATA is hit;
     * where it started and stopped tells which */
    r_say("brk could not grow from", 0, cur, 1);
    r_fail("cannot restore brk to", 0, header.brk, 1);
  }
}

/* ---- stage: map_areas ---- */

#define NR_fcntl_dup 72
#define F_DUPFD_CLOEXEC_CMD 1030

static int open_backing_file(const struct plan_area *a, int writable, uint64_t needed) {
  if (!a->path_offset || (a->flags & (AREA_ANON | AREA_DELETED))) return -1;
  const char *path = (const char *)areas + a->path_offset;
  if (r_startswith(path, TREE_OBJECT_PATH)) {
    /* Memory shared in the tree: the root made it; ours is a dup of its slot. */
    const struct tree_header *h = (const struct tree_header *)tree_map_start();
    int slot = h ? shared_fds_object_fd(h, (uint32_t)r_parse_num(path + sizeof TREE_OBJECT_PATH - 1, 10, 0)) : -1;
    if (slot < 0) r_fail("the plan names shared memory the tree does not have:", path, 0, 0);
    return (int)sys3(NR_fcntl_dup, slot, F_DUPFD_CLOEXEC_CMD, 0);
  }
  if (path[0] != '/') return -1;
  int fd = (int)sys3(NR_open, path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct kstat st;
  /* A file that shrank would fault (SIGBUS) on the missing pages: map it anonymous. */
  if (sys2(NR_fstat, fd, &st) < 0 || (uint64_t)st.st_size < needed) {
    sys1(NR_close, fd);
    return -1;
  }
  return fd;
}

/* A mapped run replaces the area's anonymous pages with the image's, private
 * and copy-on-write: nothing is read now; a page comes from the page cache
 * when the program first touches it, and a write copies it. */
static void map_run(const struct plan_run *r) {
  if (image_fd < 0) r_fail("the plan maps a run but names no image, at", 0, r->addr, 1);
  long addr = sys6(NR_mmap, r->addr, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
                   image_fd, r->data_offset);
  if (addr != (long)r->addr) r_fail("cannot map the image's pages at", 0, r->addr, 1);
}

/* The protections each area was mapped with (writable while its runs are
 * filled), set to the area's own once every run is in (stage protect). */
#define MAX_AREAS 65536   /* the kernel's vm.max_map_count is 65530 */
static uint8_t mapped_prot[MAX_AREAS];

/* An area is mapped: its runs from the image are mapped now; the copied
 * ones are read by stage fill, for all areas at once. */
static void place_runs(const struct plan_area *a, int prot) {
  for (uint32_t i = 0; i < a->nruns; i++) {
    const struct plan_run *r = &runs[a->first_run + i];
    if (r->addr < a->start || r->addr + r->len > a->end) r_fail("plan run outside its area at", 0, r->addr, 1);
    if (r->flags & RUN_MAP_IMAGE) map_run(r);
  }
  mapped_prot[a - areas] = (uint8_t)prot;
}

/* A System V segment shared in the tree: attached where it was; the holder
 * that fills it copies its image's bytes in. Returns 0 when `a` is not one. */
static int attach_segment(const struct plan_area *a) {
  const char *path = a->path_offset ? (const char *)areas + a->path_offset : "";
  const struct tree_header *h = (const struct tree_header *)tree_map_start();
  if (!h || !r_startswith(path, TREE_OBJECT_PATH)) return 0;
  const struct tree_object *seg = shared_fds_segment(h, (uint32_t)r_parse_num(path + sizeof TREE_OBJECT_PATH - 1, 10, 0));
  if (!seg) return 0;
  long addr = sysv_attach(seg, a->start, (a->prot & PROT_WRITE) || a->nruns);
  if (addr != (long)a->start) r_fail("cannot attach a System V segment at", 0, a->start, 1);
  place_runs(a, (a->prot & PROT_WRITE) || !a->nruns ? (int)a->prot : PROT_READ | PROT_WRITE);
  return 1;
}

static void map_area(const struct plan_area *a) {
  uint64_t len = a->end - a->start;
  if (attach_segment(a)) return;
  int shared_file = (a->flags & AREA_SHARED) && !(a->flags & AREA_ANON);
  int file_fd = open_backing_file(a, shared_file && (a->prot & PROT_WRITE),
                                  a->file_offset + (shared_file ? len : PAGE_SIZE));
  long addr;
  if (shared_file && file_fd >= 0) {
    /* The file holds the truth for a shared file mapping: map it, copy nothing;
     * but memory shared in the tree is filled by one holder, from its image. */
    int prot = a->nruns ? PROT_READ | PROT_WRITE : (int)a->prot;
    addr = sys6(NR_mmap, a->start, len, prot, MAP_SHARED | MAP_FIXED, file_fd, a->file_offset);
    sys1(NR_close, file_fd);
    if (addr != (long)a->start) r_fail("cannot map shared file area at", 0, a->start, 1);
    place_runs(a, prot);
    return;
  }
  int flags = MAP_FIXED | ((a->flags & AREA_SHARED) ? MAP_SHARED : MAP_PRIVATE);
  /* The kernel does not tell us which areas the program reserved with
   * MAP_NORESERVE (a 64 GiB sanitizer shadow, a JVM heap): without it such an area
   * would fail overcommit checks. Pages are still allocated only when touched. */
  flags |= MAP_NORESERVE;
  if (a->flags & AREA_STACK) flags |= MAP_GROWSDOWN;
  int prot = a->nruns ? PROT_READ | PROT_WRITE : a->prot;
  if (file_fd >= 0 && !(a->flags & AREA_SHARED)) {
    /* Private file mapping (a library, the program): map the file so the area keeps
     * its name, then lay the saved bytes over it (copy-on-write). If the file is now
     * shorter than the area, map anonymous instead (the saved bytes are complete). */
    struct kstat st;
    if (sys2(NR_fstat, file_fd, &st) == 0 && (uint64_t)st.st_size >= a->file_offset + len)
      addr = sys6(NR_mmap, a->start, len, prot, flags, file_fd, a->file_offset);
    else
      addr = sys6(NR_mmap, a->start, len, prot, flags | MAP_ANONYMOUS, -1, 0);
    sys1(NR_close, file_fd);
  } else {
    addr = sys6(NR_mmap, a->start, len, prot, flags | MAP_ANONYMOUS, -1, 0);
  }
  if (addr != (long)a->start) r_fail("cannot map area at", 0, a->start, 1);
  place_runs(a, prot);
}

static void map_areas(void) {
  if (header.nareas > MAX_AREAS) r_fail("more areas than the kernel maps:", 0, header.nareas, 1);
  for (uint32_t i = 0; i < header.nareas; i++) {
    const struct plan_area *a = &areas[i];
    if (a->flags & (AREA_VDSO | AREA_VVAR)) continue;
    if (overlaps(a->start, a->end, handoff.tables_addr, handoff.tables_addr + handoff.tables_len))
      r_fail("plan tables overlap area at", 0, a->start, 1);
    map_area(a);
  }
}

/* ---- stage: fill (fill.c) ---- */

/* ---- stage: protect ---- */

static void protect(void) {
  for (uint32_t i = 0; i < header.nareas; i++) {
    const struct plan_area *a = &areas[i];
    if (a->flags & (AREA_VDSO | AREA_VVAR) || mapped_prot[i] == a->prot) continue;
    if (sys3(NR_mprotect, a->start, a->end - a->start, a->prot) < 0)
      r_fail("cannot set protections of area at", 0, a->start, 1);
  }
}

/* ---- the script ---- */

__attribute__((noreturn)) void restorer_main(uint64_t *kernel_sp) {
  char **argv = (char **)(kernel_sp + 1);
  /* take_stack: done in start.S. Children of the program must get normal ASLR. */
  long persona = sys1(NR_personality, 0xffffffffL);
  if (persona >= 0) sys1(NR_personality, persona & ~ADDR_NO_RANDOMIZE);
  /* Block every signal until the agent's threads restore their own masks. */
  uint64_t all = ~0ULL;
  sys4(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, &all, 0, 8);

  struct restorer_args args = parse_args(argv);
  int plan_fd = args.plan_fd;
  if (args.tree_fd >= 0) {
    char **envp = argv;
    while (*envp) envp++;
    plan_fd = tree_start(args.tree_fd, args.index, envp + 1);
    read_plan(plan_fd);
    open_image();
    tree_planned();
    tree_handoff(&handoff.tree_addr, &handoff.tree_len, &handoff.tree_index);
  } else {
    read_plan(plan_fd);
    open_image();
  }
  clear_space();
  move_vdso();
  set_brk();
  map_areas();
  fill_runs(runs, header.nruns, plan_fd, image_fd);
  protect();
  if (tree_map_start()) shared_fds_after_memory((const struct tree_header *)tree_map_start());
  sys1(NR_close, plan_fd);
  if (image_fd >= 0) sys1(NR_close, image_fd);   /* the mappings keep the file */
  jump_to_entry(header.entry, header.entry_arg, &handoff);
}
