/* dmtcp_launch's fast path (build/Release/dmtcp_launch_fast): the common
 * invocations done without starting Node. Every decision it is not sure to make
 * exactly as src/cli/dmtcp_launch.ts would is handed over to that launcher with
 * the same argv (launch_hand_over), before anything was started; so behaviour
 * never differs, only the time to the program's main(). docs/architecture.md. */
#ifndef DMTCP_LAUNCH_H
#define DMTCP_LAUNCH_H
#include <stddef.h>

#define LAUNCH_CMD "dmtcp_launch"

enum coord_mode { MODE_ANY, MODE_JOIN, MODE_NEW, MODE_NONE };

/* LaunchOptions of src/options/launch.ts, for the cases the fast path takes. */
struct launch_opts {
  const char *host;
  int port;
  enum coord_mode mode;
  char *port_file;          /* absolute, or NULL */
  char *ckpt_dir;           /* absolute */
  int gzip, hbict, ckpt_open_files, allow_file_overwrite, encoder_service;
  int forked;               /* 1, 0, or -1: not asked (the agent forks when safe) */
  int has_interval;
  long long interval;
  int ckpt_signal;
  char *tmp_dir;            /* absolute */
  int quiet;
  char **program;           /* NULL-terminated, points into argv */
};

/* Where this package and Node are (launch_main.c). */
struct launch_where {
  char *root;               /* the package root, real path */
  char *node;               /* Node's real path: process.execPath of the Node launcher */
};

/* Exec the Node launcher with our own argv; never returns. */
_Noreturn void launch_hand_over(void);

/* launch_opts.c: 0, or -1 to hand over. */
int launch_parse(int argc, char **argv, struct launch_opts *o);

/* launch_paths.c */
char *path_resolve(const char *p);                  /* Node's path.resolve(p): malloc'd */
char *path_join2(const char *a, const char *b);     /* a + "/" + b, malloc'd */
char *find_program(const char *name);               /* resolveProgram; NULL if none */
enum program_kind { KIND_DYNAMIC, KIND_STATIC, KIND_SCRIPT, KIND_OTHER, KIND_UNREADABLE };
enum program_kind program_kind(const char *file);
char *find_in_path(const char *name);               /* execvp's search, real path; NULL if none */
int is_file(const char *p);
int mkdir_p(const char *dir);

/* launch_coord.c */
enum probe_result { PROBE_NONE, PROBE_RUNNING, PROBE_UNSURE };
enum probe_result coord_probe(const char *address, int port);
int coord_listen(int port, int *bound_port);        /* listening fd (close-on-exec) or -1 */
int write_file_atomic(const char *file, const char *data, int mode);
int coord_spawn_daemon(const struct launch_where *w, const struct launch_opts *o, int listen_fd);
void coord_quit(const char *address, int port);

/* launch_spawn.c: a detached process (double fork, own session); its pid or -1. */
struct fd_move { int from, to; };
int spawn_detached(const char *path, char *const argv[], char *const envp[],
                   const struct fd_move *moves, int nmoves, int chdir_root);

/* launch_encoder.c: its folder made first (NULL: hand over), then the
 * resident encoder's socket path, or NULL (each checkpoint starts its own). */
int encoder_fits(const char *tmp_dir);
char *encoder_folder(const char *tmp_dir);
char *encoder_start(const struct launch_where *w, const char *dir);

/* launch_env.c: an environment under construction, in Node's object-key order. */
struct env_list { char **v; size_t n, cap; };
int env_from(struct env_list *e, char *const *base);   /* -1: one Node would read differently */
const char *env_get(const struct env_list *e, const char *key);
void env_set(struct env_list *e, const char *key, const char *value);
void env_del(struct env_list *e, const char *key);

#endif
