/* Paths as the Node launcher computes them: path.resolve, resolveProgram
 * (src/launch/program-path.ts), programKind (src/launch/elf-kind.ts), and
 * the `node` that `#!/usr/bin/env node` would run. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "launch.h"

char *path_join2(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s) return NULL;
  memcpy(s, a, la);
  s[la] = '/';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

/* Node's posix path.resolve of one path: made absolute from the cwd, then
 * normalized by its words alone ("." dropped, ".." takes one back, never above
 * "/"; no trailing slash), symlinks untouched. */
char *path_resolve(const char *p) {
  char cwd[PATH_MAX];
  char *whole;
  if (p[0] == '/') whole = strdup(p);
  else {
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    whole = path_join2(cwd, p);
  }
  if (!whole) return NULL;
  char *out = malloc(strlen(whole) + 2);
  if (!out) { free(whole); return NULL; }
  size_t len = 0;
  for (char *w = whole; *w;) {
    while (*w == '/') w++;
    char *end = w;
    while (*end && *end != '/') end++;
    size_t n = (size_t)(end - w);
    if (n == 0 || (n == 1 && w[0] == '.')) { /* nothing */ }
    else if (n == 2 && w[0] == '.' && w[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;   /* the last word off */
      if (len > 0) len--;                                /* and its slash */
    } else {
      out[len++] = '/';
      memcpy(out + len, w, n);
      len += n;
    }
    w = end;
  }
  if (len == 0) out[len++] = '/';
  out[len] = 0;
  free(whole);
  return out;
}

int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_executable_file(const char *p) {
  return is_file(p) && access(p, X_OK) == 0;
}

/* resolveProgram(name, PATH ?? '/usr/bin:/bin') */
char *find_program(const char *name) {
  if (strchr(name, '/')) return is_executable_file(name) ? path_resolve(name) : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  for (const char *d = path;;) {
    const char *end = strchr(d, ':');
    size_t n = end ? (size_t)(end - d) : strlen(d);
    char *dir = n ? strndup(d, n) : strdup(".");
    char *rel = dir ? path_join2(dir, name) : NULL;
    char *cand = rel ? path_resolve(rel) : NULL;
    free(dir);
    free(rel);
    if (cand && is_executable_file(cand)) return cand;
    free(cand);
    if (!end) return NULL;
    d = end + 1;
  }
}

#define HEADER_BYTES 4096
#define ELF_MAGIC 0x464c457fu
#define PT_INTERP_TYPE 3u

static uint32_t u32(const unsigned char *b) { return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24; }
static uint16_t u16(const unsigned char *b) { return (uint16_t)(b[0] | b[1] << 8); }

/* programKind: only a 64-bit ELF without PT_INTERP is 'static'. */
enum program_kind program_kind(const char *file) {
  unsigned char buf[HEADER_BYTES];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return KIND_UNREADABLE;
  ssize_t n = 0, r;
  while (n < HEADER_BYTES && (r = read(fd, buf + n, HEADER_BYTES - n)) > 0) n += r;
  close(fd);
  if (n >= 2 && buf[0] == '#' && buf[1] == '!') return KIND_SCRIPT;
  if (n < 64 || u32(buf) != ELF_MAGIC || buf[4] != 2) return KIND_OTHER;
  uint64_t phoff = (uint64_t)u32(buf + 32) | (uint64_t)u32(buf + 36) << 32;
  uint16_t phentsize = u16(buf + 54), phnum = u16(buf + 56);
  for (uint32_t i = 0; i < phnum; i++) {
    uint64_t ph = phoff + (uint64_t)i * phentsize;
    if (ph + 4 > (uint64_t)n) return KIND_OTHER;
    if (u32(buf + ph) == PT_INTERP_TYPE) return KIND_DYNAMIC;
  }
  return KIND_STATIC;
}

/* execvp's search for a bare name, as /usr/bin/env does; the real path, as
 * Node's process.execPath is. */
char *find_in_path(const char *name) {
  const char *path = getenv("PATH");
  if (!path) path = "/bin:/usr/bin";
  for (const char *d = path;;) {
    const char *end = strchr(d, ':');
    size_t n = end ? (size_t)(end - d) : strlen(d);
    char *dir = n ? strndup(d, n) : strdup(".");
    char *cand = dir ? path_join2(dir, name) : NULL;
    free(dir);
    if (cand && is_executable_file(cand)) {
      char *real = realpath(cand, NULL);
      free(cand);
      return real;
    }
    free(cand);
    if (!end) return NULL;
    d = end + 1;
  }
}

/* fs.mkdirSync(dir, { recursive: true }) */
int mkdir_p(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -1;
  char *copy = strdup(dir);
  if (!copy) return -1;
  for (char *s = copy + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(copy, 0777) < 0 && errno != EEXIST) { free(copy); return -1; }
    *s = '/';
  }
  int rc = mkdir(copy, 0777) < 0 && errno != EEXIST ? -1 : 0;
  free(copy);
  return rc;
}
