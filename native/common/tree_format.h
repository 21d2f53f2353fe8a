/* The restart tree, shared by dmtcp_restart (writer: src/restart/tree.ts), the
 * restorers of every process of it (native/restorer/tree.c) and the agent
 * (restore_entry.c reads the pid table from it). docs/restart-tree.md is the
 * spec; keep the three in step. Little-endian, fixed layout.
 *
 * The file is a memfd. Each restorer maps it shared at the same address
 * (map_addr, chosen free in every image), so the processes of the tree see one
 * table: each writes its new real pid and its progress there, and waits on the
 * others with futexes on these words. */
#ifndef DMTCP_TREE_FORMAT_H
#define DMTCP_TREE_FORMAT_H
#include <stdint.h>

#define TREE_MAGIC "DMTCPTRE"
#define TREE_VERSION 1
#define TREE_HEADER_SIZE 128
#define TREE_ENTRY_SIZE 32
#define TREE_OBJECT_SIZE 32
#define TREE_PLACEMENT_SIZE 16
#define TREE_MAX_PROCS 4096

struct tree_header {
  char magic[8];
  uint32_t version;
  uint32_t nprocs;
  uint64_t map_addr;            /* where every restorer maps this file */
  uint64_t map_len;             /* page-aligned length of the file */
  uint32_t tree_fd;             /* this file's descriptor in every restorer */
  /* written during the restart (futex words) */
  volatile uint32_t forked;     /* processes that exist and wrote real_pid */
  volatile uint32_t planned;    /* processes whose plan and groups are ready */
  volatile uint32_t failed;     /* a process failed before touching memory */
  int32_t root_pgid;            /* the restart's own group, where the root's group goes */
  int32_t root_sid;
  volatile uint32_t refilled;   /* processes whose agent refilled its pipes: then all run */
  /* Shared fds (docs/restart-tree.md): descriptions the root makes before it
   * forks anyone, so that every holder inherits the same one. Object k lives
   * at fds slot_base + 2k (a pipe's read end, or the file) and
   * slot_base + 2k + 1 (a pipe's write end) until each process has put its
   * own at their numbers (placements). */
  uint32_t nobjects;
  uint32_t nplacements;
  int32_t slot_base;            /* above every fd the restart placed or inherited */
  uint64_t objects_offset;      /* from the start of the file */
  uint64_t placements_offset;
  uint64_t strings_offset;      /* NUL-terminated paths */
  int32_t restart_foreground;   /* written by the root: its terminal's foreground was the
                                 * restart's group (1), so the tree may take the terminal */
  uint8_t reserved[28];
};

#define TREE_FD_CTTY -1          /* a placement that makes a session leader's controlling terminal */

/* Object kinds. */
#define TREE_OBJ_PIPE 1         /* pipe2(); flags/flags2: F_SETFL of the read/write end */
#define TREE_OBJ_FIFO 2         /* a named FIFO: its read end, then its write end, by path */
#define TREE_OBJ_FILE 3         /* open(path, flags) at pos (-1: leave the offset) */
#define TREE_OBJ_STDIO 4        /* the restart's own fd number flags2 (0, 1 or 2) */
#define TREE_OBJ_PTY 5          /* a new pty pair: master (end 0), slave (end 1); flags/flags2:
                                 * their F_SETFL flags; path_offset: the pty's settings
                                 * (TREE_TERMIOS_SIZE bytes of termios, then 4 u16 of winsize),
                                 * then, when pos > 0, pos bytes of data in flight: u32 length
                                 * and the slave's unread output, u32 length and its unread input */
#define TREE_TERMIOS_SIZE 36
#define TREE_OBJ_SOCKETPAIR 6   /* a Unix socketpair: end 0 and end 1; flags/flags2: their
                                 * F_SETFL flags; pipe_size: the socket type; path_offset: the
                                 * bytes waiting at each end (u32 length, bytes, for end 0
                                 * then end 1), sent from the other end before anyone runs */

#define TREE_OBJ_SOCKET 7       /* an IP socket, or a Unix socket with a name: path_offset holds a
                                 * struct tree_socket (mode, both ends), then for TREE_SOCKET_PAIR
                                 * the bytes waiting at each end as for SOCKETPAIR; flags/flags2:
                                 * the ends' F_SETFL flags */
#define TREE_OBJ_SHM 8          /* a memfd of pos bytes: memory that processes of the tree shared
                                 * (src/restart/shared-memory.ts). Kept at its slot until every
                                 * area is mapped; a plan names it by TREE_OBJECT_PATH + k */
#define TREE_OBJECT_PATH "@tree-object:"
#define TREE_OBJ_MQUEUE 9       /* a POSIX message queue made again by name (no slot): path_offset:
                                 * u32 maxmsg, u32 msgsize, u32 mode, u32 name length, the name
                                 * (no leading '/'), u32 count, then per message u32 length,
                                 * u32 priority and its bytes */
#define TREE_OBJ_EVENTFD 11     /* an eventfd several fds (or processes) held: pos: its counter;
                                 * flags: F_SETFL flags, flags2: EFD_SEMAPHORE or 0 */
#define TREE_OBJ_ANON 12        /* an epoll set, signalfd or timerfd several fds (or processes) held,
                                 * made empty for its holders' agents to give it its state:
                                 * flags2: which (TREE_ANON_*), flags: F_SETFL flags, pos: a timerfd's clock */
#define TREE_ANON_EPOLL 1
#define TREE_ANON_SIGNALFD 2
#define TREE_ANON_TIMERFD 3
#define TREE_OBJ_SYSV 10        /* a System V object (src/restart/sysv.ts): flags: its kind (1 shm,
                                 * 2 sem, 3 msg), flags2: the id the program knows, pos: its kernel
                                 * id at the checkpoint (removed when it lingers); the root
                                 * restorer makes it and writes the kernel's new id into pos;
                                 * path_offset: u32 key, u32 mode, u64 size (bytes, semaphores or
                                 * the queue's byte limit), then sem: u16 values; msg: per
                                 * message i64 type, u32 length, bytes; until the end (pipe_size:
                                 * that data's length) */
struct tree_object {
  uint32_t kind;
  int32_t flags;
  int32_t flags2;
  uint32_t path_offset;         /* from strings_offset */
  int64_t pos;
  int32_t pipe_size;            /* F_SETPIPE_SZ; 0: the default */
  uint32_t sock_opts;           /* SOCKETPAIR: TREE_SOCK_PASSCRED << end, per end */
};

#define TREE_SOCK_PASSCRED 0x1  /* SO_PASSCRED was on */

struct tree_placement {
  int32_t entry;                /* the process */
  int32_t fd;                   /* its fd number; TREE_FD_CTTY: its controlling terminal */
  int32_t object;
  uint8_t end;                  /* 0: slot_base + 2k, 1: slot_base + 2k + 1 */
  uint8_t cloexec;
  uint16_t reserved;
};

/* TREE_OBJ_SOCKET: what the root restorer makes (native/restorer/sockets.c). */
#define TREE_SOCKET_LISTEN 1    /* end 0 bound and listening */
#define TREE_SOCKET_PAIR 2      /* a connection with both ends in the computation: end 0
                                 * connects from its name to end 1's name */
#define TREE_SOCKET_DROPPED 3   /* connected to a peer outside the computation: end 0 reads
                                 * ECONNRESET (EOF for Unix sockets), as after a dropped network */
#define TREE_SOCKET_PLAIN 4     /* end 0 bound if it had a name, connected if a datagram
                                 * socket had a peer */
#define TREE_SOCKET_PENDING 5   /* end 0 had connected to a listener of the computation that
                                 * had not accepted it yet: connects again from its name to its
                                 * peer (end 0's peer), after that listener is made */
#define TREE_SOCKADDR_MAX 112
/* Options set again on each end. */
#define SOCK_OPT_REUSEADDR 0x1
#define SOCK_OPT_KEEPALIVE 0x2
#define SOCK_OPT_NODELAY 0x4
#define SOCK_OPT_V6ONLY 0x8
#define SOCK_OPT_REUSEPORT 0x10
#define SOCK_OPT_PASSCRED 0x20
struct tree_sock_end {
  uint32_t addr_len;            /* its own name; 0 or a bare family: none */
  uint8_t addr[TREE_SOCKADDR_MAX];
  uint32_t peer_len;            /* PLAIN datagram sockets: the peer it was connected to */
  uint8_t peer[TREE_SOCKADDR_MAX];
  uint32_t opts;                /* SOCK_OPT_* */
  int32_t rcvbuf, sndbuf;       /* SO_RCVBUF/SO_SNDBUF to ask for; 0: the default */
  int32_t backlog;              /* LISTEN: listen()'s backlog, set once the connections no one
                                 * had accepted are in its queue again; <0: SOMAXCONN */
};
struct tree_socket {
  uint32_t mode;                /* TREE_SOCKET_* */
  int32_t domain, type, protocol;
  struct tree_sock_end end[2];
};
_Static_assert(sizeof(struct tree_sock_end) == 248, "tree socket end layout");
_Static_assert(sizeof(struct tree_socket) == 512, "tree socket layout");
/* Entry flags. */
#define TREE_SETSID 0x1         /* a session leader: setsid() before its children exist */
#define TREE_GROUP_LEADER 0x2   /* setpgid(0, 0) */
#define TREE_JOIN_GROUP 0x4     /* setpgid(0, real pid of entry `group`) */
#define TREE_ROOT_GROUP 0x8     /* setpgid(0, root_pgid): the root's old group */
#define TREE_GHOST 0x20         /* not a process of the images: a helper the root forks, which
                                 * forks its child entries and exits. It stands for a parent
                                 * that had exited (its children stay orphans) and, with
                                 * TREE_SETSID, for a session leader that had exited (its
                                 * virt_pid is that session's id; 0 when none) */
#define TREE_ZOMBIE 0x40        /* a child that had exited, not yet reaped: forked by its
                                 * parent, it exits at once with the wait status in `group`
                                 * (with TREE_GROUP_LEADER: once it made its group and every
                                 * process joined, as below) */
#define TREE_GROUP_GHOST 0x80   /* not a process of the images: it stands for a group leader
                                 * that had exited (virt_pid: that group's id). Forked by entry
                                 * `parent`, a member, it makes the group, exits once every
                                 * process read its plan (all joined), and its parent reaps it */

/* Entry state bits (written by the process). */
#define TREE_STATE_GROUPED 0x1  /* its group exists: members may join */

struct tree_entry {
  int32_t virt_pid;
  int32_t parent;               /* index of the parent entry; -1 for the root and orphans */
  uint32_t flags;
  int32_t group;                /* TREE_JOIN_GROUP: index of the group leader's entry;
                                 * TREE_ZOMBIE: its wait status (as waitpid reports it) */
  int32_t plan_fd;              /* its restore plan (docs/restore-plan.md); -1: none */
  int32_t restorer_fd;          /* the restorer patched for its image's heap; -1: none */
  volatile int32_t real_pid;    /* written by the process itself */
  volatile uint32_t state;
};

_Static_assert(sizeof(struct tree_header) == TREE_HEADER_SIZE, "tree header layout");
_Static_assert(sizeof(struct tree_entry) == TREE_ENTRY_SIZE, "tree entry layout");
_Static_assert(sizeof(struct tree_object) == TREE_OBJECT_SIZE, "tree object layout");
_Static_assert(sizeof(struct tree_placement) == TREE_PLACEMENT_SIZE, "tree placement layout");
_Static_assert(__builtin_offsetof(struct tree_header, objects_offset) == 72, "tree header offsets");

#endif
