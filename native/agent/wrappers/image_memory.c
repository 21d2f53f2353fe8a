/* Memory a restart mapped from the raw image (docs/restore-plan.md, "Mapped
 * runs") is, to the kernel, a private file mapping. It behaves as the
 * program's anonymous memory in every way but one: madvise(MADV_DONTNEED)
 * drops a private file page back to the *file's* bytes, where anonymous
 * memory reads as zero afterwards. Allocators (jemalloc, tcmalloc, a JVM)
 * count on those zeros. So a discard that reaches such a mapping is made
 * what it would have been: the range becomes fresh anonymous zero memory
 * with the same protections. (glibc's own malloc calls its internal madvise,
 * not this one, and does not count on zeros after it.)
 * The same wrapper notes MADV_DONTFORK: a fork's copy lacks such an area, so
 * a forked image writer could not save it (forked_ckpt.c). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"

#define MAPS_TEXT_MAX (4UL << 20)
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

static int discards(int advice) {
  return advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_DONTNEED_LOCKED;
}

/* Replaces the part of [lo, hi) that lies in image mappings with anonymous
 * zero pages. Returns how many image mappings the maps showed at all. */
static int zero_image_pages(uint64_t lo, uint64_t hi) {
  char *text = (char *)rsys6(SYS_mmap, 0, MAPS_TEXT_MAX, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if ((long)text < 0 && (long)text > -4096) return 1;   /* cannot tell: assume some are left */
  int len = agent_read_file("/proc/self/maps", text, MAPS_TEXT_MAX - 1);
  int seen = 0;
  if (len <= 0) seen = 1;
  else text[len] = 0;
  for (char *line = text; len > 0 && *line;) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = 0;
    const char *p;
    uint64_t start = agent_parse_u64(line, 16, &p);
    uint64_t end = agent_parse_u64(p + 1, 16, &p);
    while (*p == ' ') p++;
    const char *perms = p;
    while (*p && *p != ' ') p++;          /* perms */
    while (*p == ' ') p++;
    while (*p && *p != ' ') p++;          /* offset */
    while (*p == ' ') p++;
    uint64_t major = agent_parse_u64(p, 16, &p);
    uint64_t minor = *p == ':' ? agent_parse_u64(p + 1, 16, &p) : 0;
    while (*p && *p != ' ') p++;
    while (*p == ' ') p++;
    uint64_t inode = agent_parse_u64(p, 10, 0);
    if (perms[3] == 'p' && inode == agent.image_map_ino && major == agent.image_map_major &&
        minor == agent.image_map_minor) {
      seen++;
      uint64_t a = start > lo ? start : lo, b = end < hi ? end : hi;
      int prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
      if (a < b) rsys6(SYS_mmap, a, b - a, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    }
    if (!eol) break;
    line = eol + 1;
  }
  rsys2(SYS_munmap, text, MAPS_TEXT_MAX);
  return seen;
}

AGENT_EXPORT int madvise(void *addr, size_t len, int advice) {
  /* an area a fork does not copy: no image writer is forked for this process */
  if (advice == MADV_DONTFORK) forked_note_dontfork();
  if (agent.image_map_ino && discards(advice) && len) {
    uint64_t lo = (uint64_t)addr, hi = lo + ((len + 4095) & ~4095UL);
    /* Once no image mapping is left, discards cost nothing extra again. */
    if (zero_image_pages(lo, hi) == 0) agent.image_map_ino = 0;
  }
  long r = rsys3(SYS_madvise, addr, len, advice);
  if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
  return 0;
}
