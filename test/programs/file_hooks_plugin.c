/* A test plugin (built -shared) that defines the file hooks of DMTCP 5's
 * dmtcp.h and nothing else: must.txt travels in the image whoever owns it;
 * kept.txt is not cut back at a restart; moved-from.txt, if gone at a
 * restart, is looked for as moved-to.txt beside it. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dmtcp.h"

static int ends_with(const char *s, const char *tail) {
  size_t n = strlen(s), t = strlen(tail);
  return n >= t && !strcmp(s + n - t, tail);
}

int dmtcp_must_ckpt_file(const char *path) { return ends_with(path, "/must.txt"); }
int dmtcp_skip_truncate_file_at_restart(const char *path) { return ends_with(path, "/kept.txt"); }

void dmtcp_get_new_file_path(const char *abspath, const char *cwd, char *newpath) {
  (void)cwd;
  if (!ends_with(abspath, "/moved-from.txt") || access(abspath, F_OK) == 0) return;
  size_t dir = strlen(abspath) - strlen("moved-from.txt");
  snprintf(newpath, PATH_MAX, "%.*smoved-to.txt", (int)dir, abspath);
}
