/* System V IPC at restart (planned by src/restart/sysv.ts): every object of
 * the computation made again by the root before it forks anyone, an object
 * of the same key left by the killed computation removed first, and its new
 * kernel id written into the tree for the agents (native/agent/kernel/sysv.c)
 * and for the holders of a segment, which attach it where it was. */
#include "sysv.h"
#include "util.h"

#define NR_shmget 29
#define NR_shmat 30
#define NR_shmctl 31
#define NR_semget 64
#define NR_semctl 66
#define NR_msgget 68
#define NR_msgsnd 69
#define NR_msgctl 71
#define IPC_PRIVATE 0
#define IPC_CREAT 01000
#define IPC_EXCL 02000
#define IPC_NOWAIT 04000
#define IPC_RMID 0
#define SETALL 17
#define EEXIST 17
#define SHM_RDONLY 010000
#define SHM_REMAP 040000
#define MODE_BITS 0777
#define MSG_MAX_BYTES 65536

enum { KIND_SHM = 1, KIND_SEM = 2, KIND_MSG = 3 };

static long get(int kind, int key, uint64_t size, int flags) {
  if (kind == KIND_SHM) return sys3(NR_shmget, key, size, flags);
  if (kind == KIND_SEM) return sys3(NR_semget, key, size, flags);
  return sys2(NR_msgget, key, flags);
}

static void remove(int kind, long id) {
  if (kind == KIND_SHM) sys3(NR_shmctl, id, IPC_RMID, 0);
  else if (kind == KIND_SEM) sys4(NR_semctl, id, 0, IPC_RMID, 0);
  else sys3(NR_msgctl, id, IPC_RMID, 0);
}

#define IPC_STAT 2
#define IPC_STAT_SIZE 128      /* above shmid_ds (112), msqid_ds (120), semid_ds (104) */
#define SHM_NATTCH_AT 88

/* The killed computation's object itself (by its old id), when it is still
 * there with the same key and, for a segment, nobody attached: it would only
 * linger (IPC_PRIVATE objects outlive their processes). */
static void remove_stale(int kind, long old, int32_t key) {
  if (old < 0) return;
  unsigned char ds[IPC_STAT_SIZE];
  long r = kind == KIND_SHM ? sys3(NR_shmctl, old, IPC_STAT, ds)
         : kind == KIND_SEM ? sys4(NR_semctl, old, 0, IPC_STAT, ds) : sys3(NR_msgctl, old, IPC_STAT, ds);
  int32_t now;
  r_memcpy(&now, ds, 4);
  if (r < 0 || now != key) return;
  if (kind == KIND_SHM) {
    uint64_t nattch;
    r_memcpy(&nattch, ds + SHM_NATTCH_AT, 8);
    if (nattch) return;
  }
  remove(kind, old);
}

void sysv_make(struct tree_object *o, const char *blob) {
  int32_t key;
  uint32_t mode;
  uint64_t size;
  r_memcpy(&key, blob, 4);
  r_memcpy(&mode, blob + 4, 4);
  r_memcpy(&size, blob + 8, 8);
  const char *data = blob + 16;
  int kind = o->flags, flags = IPC_CREAT | IPC_EXCL | (int)(mode & MODE_BITS);
  remove_stale(kind, o->pos, key);   /* pos: the object's kernel id at the checkpoint */
  long id = get(kind, key, size, flags);
  if (id == -EEXIST && key != IPC_PRIVATE) {
    /* the killed computation's object of that key */
    long old = get(kind, key, 0, 0);
    if (old >= 0) remove(kind, old);
    id = get(kind, key, size, flags);
  }
  if (id < 0) { r_say("cannot make a System V object again; errno", 0, (uint64_t)-id, 1); return; }
  if (kind == KIND_SEM && o->pipe_size >= (int32_t)(2 * size)) {
    uint16_t values[512];
    uint64_t n = size < 512 ? size : 512;
    r_memcpy(values, data, 2 * n);
    sys4(NR_semctl, id, 0, SETALL, values);
  } else if (kind == KIND_MSG) {
    static char buf[8 + MSG_MAX_BYTES];
    for (const char *m = data; m < data + o->pipe_size;) {
      uint32_t len;
      r_memcpy(buf, m, 8);
      r_memcpy(&len, m + 8, 4);
      if (len > MSG_MAX_BYTES) break;
      r_memcpy(buf + 8, m + 12, len);
      if (sys4(NR_msgsnd, id, buf, len, IPC_NOWAIT) < 0) r_say("a System V message did not fit back in its queue", 0, 0, 0);
      m += 12 + len;
    }
  }
  o->pos = id;
}

long sysv_attach(const struct tree_object *segment, uint64_t addr, int writable) {
  if (segment->kind != TREE_OBJ_SYSV || segment->pos < 0) return -1;
  return sys3(NR_shmat, segment->pos, addr, SHM_REMAP | (writable ? 0 : SHM_RDONLY));
}
