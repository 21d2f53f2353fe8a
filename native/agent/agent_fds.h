/* The agent's descriptor side: the fd table and each kind of descriptor
 * (native/agent/fds/). Included by agent.h, after the records it names;
 * include agent.h, not this. */
#ifndef DMTCP_AGENT_FDS_H
#define DMTCP_AGENT_FDS_H

/* fds.c: the fd table */
/* file_policy.c: the plugin hooks and options that decide a regular file's lot */
struct stat;
void file_policy_at_checkpoint(struct fd_record *r, const struct stat *st);
const char *file_policy_path(const struct fd_record *r, char *buf);   /* buf: PATH_MAX */
int file_policy_restore_bq(const struct fd_record *r);                /* the fd, or -1: not one */
void file_policy_truncate(const struct fd_record *r, const char *path);
int file_policy_backup(int fd, const char *path, char *made, size_t size);   /* before writing over it */
void fds_save(void);
void fds_restore(void);                   /* the descriptions the restorers did not place */
void fds_release(void);                   /* saved file and pipe bytes, once used */
struct fd_record *fds_find(int fd);

/* fd_share.c: which descriptions are shared, elected at checkpoint */
void fd_share_elect(void);                /* ELECT: mark every description as ours */
void fd_share_read(void);                 /* DRAIN: read who won each one */
void fd_share_undo(void);                 /* CHECKPOINT: offsets and owners as they were */

/* terminal.c: terminal settings, controlling terminal, foreground group */
void terminal_save_fd(struct fd_record *r);   /* at fds_save */
void terminal_save(void);                     /* at checkpoint: our controlling terminal */
void terminal_restore(void);                  /* restart: before the threads run */
void terminal_after_resume(void);             /* restart: tell full-screen programs to redraw */
void terminal_drain(void);                    /* DRAIN: a pty's bytes in flight, as its master's owner */
void terminal_refill(void);                   /* after the image: put them back */

/* fd_kinds.c: the table of descriptor kinds with a file of their own, each
 * with its capture and its restore side by side. */
struct jbuf;
struct fd_kind_ops {
  int kind;                                   /* enum fd_kind */
  const char *name;                           /* in images and readdmtcp */
  const char *link;                           /* what /proc/self/fd shows for it: "anon_inode:[eventfd]"; or 0 */
  int (*claims)(int fd);                      /* for kinds with a path: is fd one? (may be 0) */
  void (*save)(struct fd_record *r);          /* SUSPEND: sets ev_saved when it could read the state */
  int (*restore)(const struct fd_record *r);  /* restart: a new fd holding the state, or -errno */
  void (*link_up)(const struct fd_record *r); /* restart, once every fd is in place (epoll's watches); may be 0 */
  void (*describe)(struct jbuf *b, const struct fd_record *r);   /* its state as JSON members */
  void (*drain)(struct fd_record *r);         /* DRAIN: what it holds, copied (may be 0) */
  /* restart: the restorers made this description once for all its holders
   * and placed it at r->fd: give it its state there (every holder does; the
   * same state twice changes nothing). 0: a kind they never share. */
  int (*adopt)(const struct fd_record *r);
};
const struct fd_kind_ops *fd_kind_ops(int kind);   /* 0 for kinds fds.c handles itself */
int fd_kind_of(int fd, const char *link);          /* an enum fd_kind of the table, or 0 */
void fd_kinds_drain(void);                         /* DRAIN: each kind's drain, where it has one */
const char *fd_kind_name(int kind);
/* One line on stderr: "dmtcp: fd N (kind) of process P: what" */
void fd_say(const struct fd_record *r, const char *what);
/* A kernel object several processes hold, drained by one of them: whether
 * we are the first at this checkpoint to take `name`'s lock file (in /tmp,
 * marked with the coordinator's port and the checkpoint's generation). */
int first_this_checkpoint(const char *name);
void first_this_checkpoint_done(void);             /* CHECKPOINT barrier: our lock files go */
/* /proc/self/fdinfo/<fd> into buf; bytes read or -errno */
int fdinfo_read(int fd, char *buf, size_t size);
/* The number after "key" in an fdinfo text (spaces and tabs skipped); `dflt` if absent. */
uint64_t fdinfo_u64(const char *info, const char *key, int base, uint64_t dflt);

/* sockets.c: Unix socketpairs inside the computation */
void sockets_save_fd(struct fd_record *r);    /* at fds_save */
void sockets_peek(void);                      /* DRAIN: the bytes waiting, copied */
void sockets_push(void);                      /* ELECT: TCP sends what Nagle or a cork holds back, full windows opened */
void sockets_count_unsent(void);              /* CHECKPOINT: bytes TCP still holds back, after every DRAIN */
/* tcp_window.c: full windows opened at ELECT, waited for at DRAIN, narrowed after */
int sockets_queued_bytes(int fd);             /* what waits to be read in a socket (SIOCINQ); 0 on error */
void tcp_window_open(struct fd_record *r);
void tcp_windows_settle(int (*ours)(const struct fd_record *r));   /* DRAIN: before the copies of the ends `ours` says */
void tcp_windows_narrow(void);                /* CHECKPOINT: receive buffers widened at ELECT as they were */
void sockets_reset_before_exit(void);         /* KILL: connections end without TIME_WAIT */
void sockets_release_unsent(void);            /* after the image: the send queues' copies */

/* pipes.c: bytes in flight */
void pipes_drain(void);                   /* DRAIN, as each pipe's elected reader */
void pipes_refill(void);                  /* after the image (checkpoint) or before resume (restart) */

#endif
