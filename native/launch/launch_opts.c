/* dmtcp_launch's options and their environment twins, resolved as
 * src/options/launch.ts and common.ts do, for the happy path only: a value
 * Node would reject, trim, or read in a way that is not plainly the same here
 * (a number with a sign, a value with spaces round it, --with-plugin, --help,
 * an unknown option) answers -1, and the Node launcher takes the command. */
#include <stdlib.h>
#include <string.h>
#include "launch.h"

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT 7779
#define MAX_PORT 65535
#define DEFAULT_CKPT_SIGNAL 12   /* SIGUSR2 */
#define MAX_SIGNAL 64
#define MAX_QUIET 2
#define MAX_SAFE_DIGITS 15       /* below Number.MAX_SAFE_INTEGER (16 digits) */

enum key { K_HOST, K_PORT, K_PORT_FILE, K_MODE, K_INTERVAL, K_CKPT_DIR, K_GZIP, K_HBICT, K_ENCODER_SERVICE,
           K_SIGNAL, K_DISABLE_PLUGINS, K_CKPT_OPEN_FILES, K_ALLOW_OVERWRITE, K_TMPDIR, K_QUIET, K_FORKED, K_COUNT };
enum kind { FLAG, STRING, INT, COUNT };

struct spec { const char *name; enum key key; enum kind kind; int value; long long min, max; };

/* The rows of LAUNCH_SPECS this path takes; all others go to Node. */
static const struct spec SPECS[] = {
  { "-h", K_HOST, STRING, 0, 0, 0 }, { "--host", K_HOST, STRING, 0, 0, 0 }, { "--coord-host", K_HOST, STRING, 0, 0, 0 },
  { "-p", K_PORT, INT, 0, 0, MAX_PORT }, { "--port", K_PORT, INT, 0, 0, MAX_PORT }, { "--coord-port", K_PORT, INT, 0, 0, MAX_PORT },
  { "--port-file", K_PORT_FILE, STRING, 0, 0, 0 },
  { "-j", K_MODE, FLAG, MODE_JOIN, 0, 0 }, { "--join-coordinator", K_MODE, FLAG, MODE_JOIN, 0, 0 }, { "--join", K_MODE, FLAG, MODE_JOIN, 0, 0 },
  { "--new-coordinator", K_MODE, FLAG, MODE_NEW, 0, 0 }, { "--new", K_MODE, FLAG, MODE_NEW, 0, 0 },
  { "--any-coordinator", K_MODE, FLAG, MODE_ANY, 0, 0 }, { "--no-coordinator", K_MODE, FLAG, MODE_NONE, 0, 0 },
  { "-i", K_INTERVAL, INT, 0, 0, 0 }, { "--interval", K_INTERVAL, INT, 0, 0, 0 },
  { "--ckptdir", K_CKPT_DIR, STRING, 0, 0, 0 },
  { "--no-gzip", K_GZIP, FLAG, 0, 0, 0 }, { "--gzip", K_GZIP, FLAG, 1, 0, 0 },
  { "--hbict", K_HBICT, FLAG, 1, 0, 0 }, { "--no-hbict", K_HBICT, FLAG, 0, 0, 0 },
  { "--forked-checkpointing", K_FORKED, FLAG, 1, 0, 0 }, { "--no-forked-checkpointing", K_FORKED, FLAG, 0, 0, 0 },
  { "--no-encoder-service", K_ENCODER_SERVICE, FLAG, 0, 0, 0 }, { "--encoder-service", K_ENCODER_SERVICE, FLAG, 1, 0, 0 },
  { "--mtcp-checkpoint-signal", K_SIGNAL, INT, 0, 1, MAX_SIGNAL }, { "--ckpt-signal", K_SIGNAL, INT, 0, 1, MAX_SIGNAL },
  { "--disable-all-plugins", K_DISABLE_PLUGINS, FLAG, 1, 0, 0 },
  { "--checkpoint-open-files", K_CKPT_OPEN_FILES, FLAG, 1, 0, 0 }, { "--ckpt-open-files", K_CKPT_OPEN_FILES, FLAG, 1, 0, 0 },
  { "--allow-file-overwrite", K_ALLOW_OVERWRITE, FLAG, 1, 0, 0 },
  { "--tmpdir", K_TMPDIR, STRING, 0, 0, 0 },
  { "-q", K_QUIET, COUNT, 0, 0, 0 }, { "--quiet", K_QUIET, COUNT, 0, 0, 0 },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

struct given { int set; const char *s; long long n; };

/* Digits only, at most 15 of them, inside [min, max] (max 0: no bound). */
static int plain_number(const char *s, long long min, long long max, long long *out) {
  size_t len = strlen(s);
  if (len == 0 || len > MAX_SAFE_DIGITS || strspn(s, "0123456789") != len) return -1;
  long long n = strtoll(s, NULL, 10);
  if (n < min || (max && n > max)) return -1;
  *out = n;
  return 0;
}

static int blank(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || c >= 0x80; }

/* envFirst: the first of the names with a non-empty value. 1 found, 0 none,
 * -1 a value Node would trim or skip as blank (not decided here). */
static int env_first(const char *const names[], const char **out) {
  for (int i = 0; names[i]; i++) {
    const char *v = getenv(names[i]);
    if (!v || !*v) continue;
    if (blank((unsigned char)v[0]) || blank((unsigned char)v[strlen(v) - 1])) return -1;
    *out = v;
    return 1;
  }
  return 0;
}

/* resolveSwitch: the option, else 0 or 1 in the environment, else the default. */
static int resolve_switch(const struct given *g, const char *env, int by_default, int *out) {
  if (g->set) { *out = (int)g->n; return 0; }
  const char *v = getenv(env);
  if (!v || !*v) { *out = by_default; return 0; }
  if (!strcmp(v, "0") || !strcmp(v, "1")) { *out = v[0] == '1'; return 0; }
  return -1;
}

static const char *const ENV_HOST[] = { "DMTCP_COORD_HOST", "DMTCP_HOST", NULL };
static const char *const ENV_PORT[] = { "DMTCP_COORD_PORT", "DMTCP_PORT", NULL };
static const char *const ENV_CKPT_DIR[] = { "DMTCP_CHECKPOINT_DIR", NULL };
static const char *const ENV_INTERVAL[] = { "DMTCP_CHECKPOINT_INTERVAL", NULL };
static const char *const ENV_SIGNAL[] = { "DMTCP_SIGCKPT", NULL };
static const char *const ENV_TMPDIR[] = { "DMTCP_TMPDIR", NULL };
static const char *const ENV_SYS_TMPDIR[] = { "TMPDIR", NULL };

static int parse_argv(int argc, char **argv, struct given g[K_COUNT], char ***program) {
  int i = 1;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--")) { i++; break; }
    if (arg[0] != '-' || !strcmp(arg, "-")) break;
    const struct spec *s = NULL;
    for (size_t k = 0; k < NSPECS && !s; k++) if (!strcmp(SPECS[k].name, arg)) s = &SPECS[k];
    if (!s) return -1;   /* unknown, --opt=value, --help, --with-plugin, ...: Node's */
    if (s->kind == FLAG) { g[s->key].set = 1; g[s->key].n = s->value; continue; }
    if (s->kind == COUNT) { g[s->key].set = 1; g[s->key].n++; continue; }
    if (i + 1 >= argc) return -1;   /* '-h' last means --help; others lack a value */
    const char *raw = argv[++i];
    if (!*raw) return -1;
    g[s->key].set = 1;
    if (s->kind == STRING) g[s->key].s = raw;
    else if (plain_number(raw, s->min, s->max, &g[s->key].n) < 0) return -1;
  }
  *program = argv + i;
  return i < argc ? 0 : -1;   /* no program: Node says so */
}

/* An integer from the option or the environment: 1 given, 0 not, -1 hand over. */
static int int_from(const struct given *g, const char *const names[], long long min, long long max, long long *out) {
  if (g->set) { *out = g->n; return 1; }
  const char *v;
  int r = env_first(names, &v);
  if (r <= 0) return r;
  return plain_number(v, min, max, out) < 0 ? -1 : 1;
}

static int str_from(const struct given *g, const char *const names[], const char **out) {
  if (g->set) { *out = g->s; return 1; }
  return env_first(names, out);
}

/* os.tmpdir() when TMPDIR is unset or empty: TMP or TEMP would be read there, which we leave to Node. */
static const char *system_tmpdir(void) {
  const char *tmp = getenv("TMP"), *temp = getenv("TEMP");
  return (tmp && *tmp) || (temp && *temp) ? NULL : "/tmp";
}

int launch_parse(int argc, char **argv, struct launch_opts *o) {
  struct given g[K_COUNT];
  memset(g, 0, sizeof g);
  memset(o, 0, sizeof *o);
  if (parse_argv(argc, argv, g, &o->program) < 0) return -1;

  const char *host = DEFAULT_HOST;
  if (str_from(&g[K_HOST], ENV_HOST, &host) < 0) return -1;
  o->host = host;
  long long port = DEFAULT_PORT;
  int port_given = int_from(&g[K_PORT], ENV_PORT, 0, MAX_PORT, &port);
  if (port_given < 0) return -1;
  if (g[K_MODE].set) o->mode = (enum coord_mode)g[K_MODE].n;
  else { const char *nc = getenv("DMTCP_NO_COORDINATOR"); o->mode = nc && !strcmp(nc, "1") ? MODE_NONE : MODE_ANY; }
  /* a new coordinator with no port asked for takes any free port */
  o->port = o->mode == MODE_NEW && !port_given ? 0 : (int)port;
  if (o->mode == MODE_JOIN && o->port == 0) return -1;
  if (g[K_PORT_FILE].set && !(o->port_file = path_resolve(g[K_PORT_FILE].s))) return -1;

  const char *dir;
  int r = str_from(&g[K_CKPT_DIR], ENV_CKPT_DIR, &dir);
  if (r < 0 || !(o->ckpt_dir = path_resolve(r ? dir : "."))) return -1;

  if (resolve_switch(&g[K_GZIP], "DMTCP_GZIP", 1, &o->gzip) < 0) return -1;
  if (resolve_switch(&g[K_HBICT], "DMTCP_HBICT", 0, &o->hbict) < 0) return -1;
  /* forked checkpointing: asked (1/0), or unset/empty: the agent decides (-1) */
  if (g[K_FORKED].set) o->forked = (int)g[K_FORKED].n;
  else {
    const char *f = getenv("DMTCP_FORKED_CHECKPOINT");
    if (!f || !*f) o->forked = -1;
    else if (!strcmp(f, "0") || !strcmp(f, "1")) o->forked = f[0] - '0';
    else return -1;   /* Node words the error */
  }
  if ((o->has_interval = int_from(&g[K_INTERVAL], ENV_INTERVAL, 0, 0, &o->interval)) < 0) return -1;
  long long sig = DEFAULT_CKPT_SIGNAL;
  if (int_from(&g[K_SIGNAL], ENV_SIGNAL, 1, MAX_SIGNAL, &sig) < 0) return -1;
  o->ckpt_signal = (int)sig;

  const char *tmp;
  r = str_from(&g[K_TMPDIR], ENV_TMPDIR, &tmp);
  if (r == 0) r = env_first(ENV_SYS_TMPDIR, &tmp);
  if (r == 0 && !(tmp = system_tmpdir())) return -1;
  if (r < 0 || !(o->tmp_dir = path_resolve(tmp))) return -1;

  if (resolve_switch(&g[K_ENCODER_SERVICE], "DMTCP_ENCODER_SERVICE", 1, &o->encoder_service) < 0) return -1;
  if (resolve_switch(&g[K_CKPT_OPEN_FILES], "DMTCP_CKPT_OPEN_FILES", 0, &o->ckpt_open_files) < 0) return -1;
  if (resolve_switch(&g[K_ALLOW_OVERWRITE], "DMTCP_ALLOW_FILE_OVERWRITE", 0, &o->allow_file_overwrite) < 0) return -1;
  int no_plugins;
  if (resolve_switch(&g[K_DISABLE_PLUGINS], "DMTCP_DISABLE_ALL_PLUGINS", 0, &no_plugins) < 0) return -1;
  /* plugins are probed by loading them (pluginProblem): Node's work */
  const char *plugins = getenv("DMTCP_PLUGIN");
  if (!no_plugins && plugins && strspn(plugins, ":") != strlen(plugins)) return -1;

  if (g[K_QUIET].set) o->quiet = g[K_QUIET].n > MAX_QUIET ? MAX_QUIET : (int)g[K_QUIET].n;
  else {
    const char *q = getenv("DMTCP_QUIET");
    if (q && *q) {
      if (!(q[0] >= '0' && q[0] <= '9' && !q[1])) return -1;
      o->quiet = q[0] - '0' > MAX_QUIET ? MAX_QUIET : q[0] - '0';
    }
  }
  return 0;
}
