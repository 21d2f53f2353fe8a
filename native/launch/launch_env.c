/* The program's environment built as agentEnvironment (src/cli/dmtcp_launch.ts)
 * builds it from `{ ...process.env }`: a key set again keeps its place, a new
 * one goes at the end, a deleted one is gone; so the list comes out in the
 * same order, byte for byte. */
#include <stdlib.h>
#include <string.h>
#include "launch.h"

static size_t key_len(const char *entry) {
  const char *eq = strchr(entry, '=');
  return eq ? (size_t)(eq - entry) : strlen(entry);
}

static long find(const struct env_list *e, const char *key) {
  size_t n = strlen(key);
  for (size_t i = 0; i < e->n; i++)
    if (key_len(e->v[i]) == n && !memcmp(e->v[i], key, n)) return (long)i;
  return -1;
}

static void push(struct env_list *e, char *entry) {
  if (e->n + 2 > e->cap) {
    e->cap = e->cap ? e->cap * 2 : 64;
    e->v = realloc(e->v, e->cap * sizeof *e->v);
    if (!e->v) abort();
  }
  e->v[e->n++] = entry;
  e->v[e->n] = NULL;
}

/* Node's process.env drops entries without '=' and keeps one of a repeated
 * name, and a JavaScript object lists integer-like keys first: an environment
 * with any of these is left to Node rather than imitated. */
int env_from(struct env_list *e, char *const *base) {
  memset(e, 0, sizeof *e);
  push(e, NULL);
  e->n = 0;
  for (size_t i = 0; base[i]; i++) {
    const char *s = base[i];
    size_t k = key_len(s);
    if (!s[k] || k == 0 || strspn(s, "0123456789") >= k) return -1;
    char *key = strndup(s, k);
    long dup = find(e, key);
    free(key);
    if (dup >= 0) return -1;
    push(e, (char *)s);
  }
  return 0;
}

const char *env_get(const struct env_list *e, const char *key) {
  long i = find(e, key);
  return i < 0 ? NULL : e->v[i] + strlen(key) + 1;
}

void env_set(struct env_list *e, const char *key, const char *value) {
  size_t kn = strlen(key), vn = strlen(value);
  char *entry = malloc(kn + vn + 2);
  if (!entry) abort();
  memcpy(entry, key, kn);
  entry[kn] = '=';
  memcpy(entry + kn + 1, value, vn + 1);
  long i = find(e, key);
  if (i >= 0) e->v[i] = entry;
  else push(e, entry);
}

void env_del(struct env_list *e, const char *key) {
  long i = find(e, key);
  if (i < 0) return;
  memmove(e->v + i, e->v + i + 1, (e->n - (size_t)i) * sizeof *e->v);   /* the NULL too */
  e->n--;
}
