/* System V IPC: shared memory segments, semaphore sets and message queues.
 *
 * Their ids are the kernel's, global, and new after a restart: the program
 * keeps the ids it knew through the wrappers below, which translate them
 * (the table travels in memory, and a restart fills in the kernel's new ids
 * for every object of the computation from the restart tree).
 *
 * Capture (at the checkpoint): each object the computation has used, by id:
 * key, mode, size (IPC_STAT); a semaphore set's values (GETALL); a message
 * queue's messages, taken out at DRAIN by one holder per queue and put back
 * at once in order, a copy kept in its image. A segment's memory travels as
 * the attached processes' shared areas (docs/restart-tree.md). Restore: the
 * root restorer makes every object again with its key, mode, size, values
 * and messages (native/restorer/sysv.c, planned by src/restart/sysv.ts), an
 * object of that key left by the killed computation removed first; every
 * holder attaches the new segment where its old one was.
 *
 * SEM_UNDO: the kernel keeps, per process, what to undo on each semaphore
 * when the process ends (semadj), and shows it to no one. The semop wrapper
 * adds up what each successful SEM_UNDO operation left to undo (semctl's
 * SETVAL, SETALL and IPC_RMID clear it, as the kernel does; a forked child
 * starts with none); a restart gives the kernel the same adjustments with a
 * pair of operations that leave the value as it is (sysv_undo_restore). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include "agent.h"
#include "raw_syscall.h"
#include "tree_format.h"

#define PAGE 4096UL
#define MSG_MAX_BYTES 65536   /* larger than the kernel's msgmax default: a message fits */

static long set_errno(long r) {
  if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
  return r;
}

static struct sysv_record *by_virt(int kind, int virt) {
  for (int i = 0; i < agent.nsysv; i++) if (agent.sysv[i].kind == kind && agent.sysv[i].virt == virt) return &agent.sysv[i];
  return 0;
}

static int real_of(int kind, int virt) {
  struct sysv_record *r = by_virt(kind, virt);
  return r ? r->real : virt;
}

/* The id the program gets for a kernel id: known, or new (the kernel's own,
 * unless a known object holds that number already). */
static int virt_of(int kind, int real, int key) {
  for (int i = 0; i < agent.nsysv; i++) if (agent.sysv[i].kind == kind && agent.sysv[i].real == real) return agent.sysv[i].virt;
  int virt = real;
  while (by_virt(kind, virt)) virt++;
  if (agent.nsysv < AGENT_MAX_SYSV) {
    struct sysv_record *r = &agent.sysv[agent.nsysv++];
    memset(r, 0, sizeof *r);
    r->kind = kind; r->virt = virt; r->real = real; r->key = key;
  }
  return virt;
}

static int got(int kind, long r, int key) { return r < 0 ? (int)set_errno(r) : virt_of(kind, (int)r, key); }

/* ---- the wrappers ---- */

AGENT_EXPORT int shmget(key_t key, size_t size, int flags) { return got(SYSV_SHM, rsys3(SYS_shmget, key, size, flags), key); }
AGENT_EXPORT void *shmat(int id, const void *addr, int flags) {
  long r = rsys3(SYS_shmat, real_of(SYSV_SHM, id), addr, flags);
  return r < 0 && r > -4096 ? (errno = (int)-r, (void *)-1) : (void *)r;
}
AGENT_EXPORT int shmctl(int id, int cmd, struct shmid_ds *buf) { return (int)set_errno(rsys3(SYS_shmctl, real_of(SYSV_SHM, id), cmd, buf)); }
AGENT_EXPORT int semget(key_t key, int n, int flags) { return got(SYSV_SEM, rsys3(SYS_semget, key, n, flags), key); }
/* semop, semtimedop, msgsnd and msgrcv fail with EINTR on any handler, the
 * checkpoint's too: called again when a checkpoint stopped the thread during
 * the call (see wrappers/waits.c), a timeout with what is left of it. The
 * real id is looked up again each time: a restart gives new ones. */
#define CHECKPOINT_EINTR(r, mark) ((r) == -EINTR && agent_cut_by_checkpoint(mark))

/* ---- SEM_UNDO adjustments ---- */

#define MAX_UNDO 256
static struct { int virt; unsigned short num; int adj; } undo[MAX_UNDO];
static int nundo;
static int undo_said;
/* The process the list is of: a forked child's starts empty (semadj is not
 * inherited) without fork writing here (a page the child would copy). */
static pid_t undo_owner;

static void undo_own(void) {
  if (undo_owner == agent.virt_pid) return;
  undo_owner = agent.virt_pid;
  nundo = 0;
}

static void undo_add(int virt, unsigned short num, int adj) {
  undo_own();
  for (int i = 0; i < nundo; i++)
    if (undo[i].virt == virt && undo[i].num == num) { undo[i].adj += adj; return; }
  if (nundo < MAX_UNDO) { undo[nundo].virt = virt; undo[nundo].num = num; undo[nundo].adj = adj; nundo++; }
  else if (!undo_said++) agent_say("too many SEM_UNDO semaphores to follow; a restart undoes some of them no more");
}

/* num < 0: every semaphore of the set. */
static void undo_clear(int virt, int num) {
  undo_own();
  for (int i = 0; i < nundo; i++)
    if (undo[i].virt == virt && (num < 0 || undo[i].num == num)) undo[i].adj = 0;
}

/* The kernel's semadj for each semaphore set again, the value left as it is:
 * an operation of -adj with SEM_UNDO makes the adjustment adj, and one of
 * +adj without it puts the value back; the increase goes first. */
static void sysv_undo_restore(void) {
  undo_own();
  for (int i = 0; i < nundo; i++) {
    int a = undo[i].adj;
    if (!a) continue;
    struct sembuf up = { undo[i].num, (short)(a > 0 ? a : -a), IPC_NOWAIT }, down = up;
    down.sem_op = (short)-up.sem_op;
    if (a > 0) down.sem_flg |= SEM_UNDO;   /* -a with SEM_UNDO: adj = a */
    else up.sem_flg |= SEM_UNDO;           /* +|a| with SEM_UNDO: adj = a */
    struct sembuf ops[2] = { up, down };
    if (rsys4(SYS_semtimedop, real_of(SYSV_SEM, undo[i].virt), ops, 2, 0) < 0)
      agent_say("a semaphore's SEM_UNDO adjustment could not be made again");
  }
}

AGENT_EXPORT int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *t) {
  int64_t end = t ? agent_mono_ns() + (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec : 0, lost = agent.lost_ns;
  struct timespec left;
  for (;;) {
    uint64_t mark = agent_call_mark();
    long r = rsys4(SYS_semtimedop, real_of(SYSV_SEM, id), ops, n, t);
    if (r == 0) {   /* all done at once: what each SEM_UNDO operation leaves to undo */
      for (size_t k = 0; k < n; k++) if (ops[k].sem_flg & SEM_UNDO) undo_add(id, ops[k].sem_num, -ops[k].sem_op);
    }
    if (!CHECKPOINT_EINTR(r, mark)) return (int)set_errno(r);
    if (t) {
      int64_t ns = end + (agent.lost_ns - lost) - agent_mono_ns();
      if (ns < 0) ns = 0;
      left.tv_sec = ns / 1000000000LL; left.tv_nsec = ns % 1000000000LL;
      t = &left;
    }
  }
}
AGENT_EXPORT int semop(int id, struct sembuf *ops, size_t n) { return semtimedop(id, ops, n, 0); }
AGENT_EXPORT int semctl(int id, int num, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  unsigned long arg = va_arg(ap, unsigned long);   /* union semun, passed as a word */
  va_end(ap);
  long r = rsys4(SYS_semctl, real_of(SYSV_SEM, id), num, cmd, arg);
  /* the kernel clears the adjustments these set or remove, every process's */
  if (r >= 0 && cmd == SETVAL) undo_clear(id, num);
  if (r >= 0 && (cmd == SETALL || cmd == IPC_RMID)) undo_clear(id, -1);
  return (int)set_errno(r);
}
AGENT_EXPORT int msgget(key_t key, int flags) { return got(SYSV_MSG, rsys2(SYS_msgget, key, flags), key); }
AGENT_EXPORT int msgsnd(int id, const void *msg, size_t len, int flags) {
  for (;;) {
    uint64_t mark = agent_call_mark();
    long r = rsys4(SYS_msgsnd, real_of(SYSV_MSG, id), msg, len, flags);
    if (!CHECKPOINT_EINTR(r, mark)) return (int)set_errno(r);
  }
}
AGENT_EXPORT ssize_t msgrcv(int id, void *msg, size_t len, long type, int flags) {
  for (;;) {
    uint64_t mark = agent_call_mark();
    long r = rsys5(SYS_msgrcv, real_of(SYSV_MSG, id), msg, len, type, flags);
    if (!CHECKPOINT_EINTR(r, mark)) return set_errno(r);
  }
}
AGENT_EXPORT int msgctl(int id, int cmd, struct msqid_ds *buf) { return (int)set_errno(rsys3(SYS_msgctl, real_of(SYSV_MSG, id), cmd, buf)); }

/* ---- capture ---- */

static void *blob(uint64_t len) {
  long mem = rsys6(SYS_mmap, 0, (len + PAGE - 1) & ~(PAGE - 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return mem < 0 && mem > -4096 ? 0 : (void *)mem;
}

void sysv_save(void) {
  for (int i = 0; i < agent.nsysv; i++) {
    struct sysv_record *r = &agent.sysv[i];
    r->alive = 0;
    if (r->kind == SYSV_SHM) {
      struct shmid_ds ds;
      if (rsys3(SYS_shmctl, r->real, IPC_STAT, &ds) < 0) continue;
      r->key = ds.shm_perm.__key; r->mode = ds.shm_perm.mode; r->size = ds.shm_segsz;
    } else if (r->kind == SYSV_SEM) {
      struct semid_ds ds;
      if (rsys4(SYS_semctl, r->real, 0, IPC_STAT, &ds) < 0) continue;
      r->key = ds.sem_perm.__key; r->mode = ds.sem_perm.mode; r->size = ds.sem_nsems;
      if (!r->data && (r->data = (uint64_t)blob(r->size * 2))) r->data_len = r->size * 2;
      if (r->data) rsys4(SYS_semctl, r->real, 0, GETALL, r->data);
    } else {
      struct msqid_ds ds;
      if (rsys3(SYS_msgctl, r->real, IPC_STAT, &ds) < 0) continue;
      r->key = ds.msg_perm.__key; r->mode = ds.msg_perm.mode; r->size = ds.msg_qbytes;
    }
    r->alive = 1;
  }
}

/* One holder per queue and checkpoint drains it. */
static int first_to_drain(const struct sysv_record *r) {
  char name[40];
  agent_fmt_u64(name + agent_strlcpy(name, "sysvmsg-", sizeof name), (uint64_t)r->real, 10);
  return first_this_checkpoint(name);
}

void sysv_drain(void) {
  for (int i = 0; i < agent.nsysv; i++) {
    struct sysv_record *r = &agent.sysv[i];
    r->drained = 0;
    if (r->kind != SYSV_MSG) continue;
    struct msqid_ds ds;
    if (rsys3(SYS_msgctl, r->real, IPC_STAT, &ds) < 0 || !first_to_drain(r)) continue;
    uint64_t cap = ds.__msg_cbytes + ds.msg_qnum * 16 + 16;
    char *b = blob(cap), *at = b;
    static char buf[sizeof(long) + MSG_MAX_BYTES];
    if (!b) continue;
    for (uint64_t k = 0; k < ds.msg_qnum; k++) {
      long n = rsys5(SYS_msgrcv, r->real, buf, MSG_MAX_BYTES, 0, IPC_NOWAIT | MSG_NOERROR);
      if (n == -EINTR) { k--; continue; }
      if (n < 0 || (uint64_t)(at - b) + 12 + (uint64_t)n > cap) break;
      memcpy(at, buf, 8);   /* mtype */
      uint32_t l = (uint32_t)n;
      memcpy(at + 8, &l, 4);
      memcpy(at + 12, buf + sizeof(long), l);
      at += 12 + l;
    }
    for (const char *m = b; m < at;) {   /* back at once, in order */
      uint32_t l;
      memcpy(buf, m, 8);
      memcpy(&l, m + 8, 4);
      memcpy(buf + sizeof(long), m + 12, l);
      if (rsys4(SYS_msgsnd, r->real, buf, l, IPC_NOWAIT) < 0) agent_say("a System V message could not be put back in its queue");
      m += 12 + l;
    }
    r->data = (uint64_t)b;
    r->data_len = (uint64_t)(at - b);
    r->drained = 1;
  }
}

void sysv_release(void) {
  for (int i = 0; i < agent.nsysv; i++) {
    struct sysv_record *r = &agent.sysv[i];
    if (r->kind == SYSV_MSG && r->data) {
      rsys2(SYS_munmap, r->data, (r->data_len + PAGE - 1) & ~(PAGE - 1));
      r->data = r->data_len = 0;
    }
  }
}

/* ---- restart ---- */

/* The root restorer wrote each object's new kernel id into its tree object. */
void sysv_after_restart(const void *tree) {
  const struct tree_header *h = (const struct tree_header *)tree;
  if (!h) { sysv_undo_restore(); return; }
  const struct tree_object *o = (const struct tree_object *)((const char *)h + h->objects_offset);
  for (uint32_t k = 0; k < h->nobjects; k++) {
    if (o[k].kind != TREE_OBJ_SYSV || o[k].pos < 0) continue;
    int kind = o[k].flags, virt = o[k].flags2, real = (int)o[k].pos;
    struct sysv_record *r = by_virt(kind, virt);
    if (!r && agent.nsysv < AGENT_MAX_SYSV) {
      r = &agent.sysv[agent.nsysv++];
      memset(r, 0, sizeof *r);
      r->kind = kind; r->virt = virt;
    }
    if (r) r->real = real;
  }
  sysv_undo_restore();
}

void sysv_after_barrier(void) {
  for (int i = 0; i < agent.nsysv; i++) {
    const struct sysv_record *r = &agent.sysv[i];
    if (r->kind == SYSV_SHM && (r->mode & SHM_DEST)) rsys3(SYS_shmctl, r->real, IPC_RMID, 0);
  }
}
