/* Bench program: holds MIB MiB of one kind of data (random, text or half:
 * even pages random, odd pages zero), writes a copy of it to COPY when given
 * (for `gzip -1` of the same bytes), prints "ready" and waits to be
 * checkpointed. Usage: hold-kind KIND MIB [COPY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static const char *words[] = {"the", "of", "and", "to", "in", "is", "was", "for", "on", "that", "with", "as",
  "checkpoint", "restart", "process", "memory", "image", "page", "thread", "signal", "coordinator", "barrier",
  "heap", "stack", "library", "file", "compress", "delta", "chain", "hash", "zero", "data", "kernel", "socket"};

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: hold-kind random|text|half MIB [COPY]\n"); return 99; }
  size_t n = (size_t)atoi(argv[2]) << 20;
  /* Page-aligned, so that "odd pages zero" are whole zero pages. */
  unsigned char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { perror("hold-kind: mmap"); return 99; }
  unsigned long x = 88172645463325252UL;
  if (!strcmp(argv[1], "text")) {
    size_t o = 0, nw = sizeof words / sizeof *words;
    while (o < n) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      const char *w = words[x % nw];
      for (; *w && o < n; w++) p[o++] = *w;
      if (o < n) p[o++] = (x >> 32) % 13 == 0 ? '\n' : ' ';
    }
  } else {
    for (size_t i = 0; i < n; i += 8) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; memcpy(p + i, &x, 8); }
    if (!strcmp(argv[1], "half")) for (size_t i = PAGE; i < n; i += 2 * PAGE) memset(p + i, 0, PAGE);
    else if (strcmp(argv[1], "random")) { fprintf(stderr, "hold-kind: unknown kind %s\n", argv[1]); return 99; }
  }
  if (argc > 3) { FILE *f = fopen(argv[3], "w"); fwrite(p, 1, n, f); fclose(f); }
  printf("ready\n"); fflush(stdout);
  for (;;) pause();
}
