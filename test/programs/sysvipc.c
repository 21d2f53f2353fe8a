/* System V IPC between a parent and its child across restarts: a shared
 * memory segment, a set of three semaphores and a message queue (with a key),
 * all made before fork. Each step the parent writes k into the segment and
 * raises semaphore 0; the child waits on it, checks k, writes 2k, sends
 * message "k" (type 1) and "extra k" (type 2), raises semaphore 1; the parent
 * waits on that, checks 2k and message k. Type 2 messages are read only every
 * five steps (they wait in the queue, at checkpoints too) and must come in
 * order. Semaphore 2 holds the step number (GETVAL must give the last one).
 * The ids the program got stay valid (IPC_STAT). "S k" per step; anything
 * else: CORRUPT. Usage: sysvipc N */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct msg { long type; char text[32]; };

/* Removed on every way out, so that a failing run leaves no object behind
 * (a parent waiting on a removed semaphore fails with EIDRM and ends too). */
static int shm = -1, sem = -1, q = -1;
static void remove_objects(void) {
  if (shm >= 0) shmctl(shm, IPC_RMID, 0);
  if (sem >= 0) semctl(sem, 0, IPC_RMID);
  if (q >= 0) msgctl(q, IPC_RMID, 0);
}
#define FAIL(...) do { printf(__VA_ARGS__); remove_objects(); return 3; } while (0)
#define CHILD_FAIL(...) do { printf(__VA_ARGS__); remove_objects(); _exit(3); } while (0)
union semun { int val; struct semid_ds *buf; unsigned short *array; };

static void nap(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int op(int sem, int num, int delta) {
  struct sembuf b = { (unsigned short)num, (short)delta, 0 };
  while (semop(sem, &b, 1) < 0) if (errno != EINTR) return -1;
  return 0;
}

static ssize_t get(int q, struct msg *m, long type, int flags) {
  ssize_t n;
  while ((n = msgrcv(q, m, sizeof m->text, type, flags)) < 0 && errno == EINTR) {}
  if (n >= 0) m->text[n < (ssize_t)sizeof m->text ? n : (ssize_t)sizeof m->text - 1] = 0;
  return n;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  shm = shmget(IPC_PRIVATE, 65536, IPC_CREAT | 0600);
  sem = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  /* a key of our own: one another run left behind is passed over */
  for (int k = getpid() & 0xffff, tries = 0; q < 0 && tries < 64; k++, tries++)
    if ((q = msgget(0x5d000000 + (k & 0xffff), IPC_CREAT | IPC_EXCL | 0600)) < 0 && errno != EEXIST) break;
  if (shm < 0 || sem < 0 || q < 0) FAIL("CORRUPT get errno %d\n", errno);
  volatile long *mem = shmat(shm, 0, 0);
  if (mem == (void *)-1) FAIL("CORRUPT shmat errno %d\n", errno);
  pid_t pid = fork();
  if (pid == 0) {
    for (long k = 1; k <= n; k++) {
      if (op(sem, 0, -1) < 0) CHILD_FAIL("CORRUPT child semop errno %d\n", errno);
      if (mem[0] != k) CHILD_FAIL("CORRUPT child read %ld, expected %ld\n", mem[0], k);
      mem[1] = 2 * k;
      struct msg m = { 1, "" };
      snprintf(m.text, sizeof m.text, "%ld", k);
      msgsnd(q, &m, strlen(m.text), 0);
      m.type = 2;
      snprintf(m.text, sizeof m.text, "extra %ld", k);
      msgsnd(q, &m, strlen(m.text), 0);
      op(sem, 1, 1);
    }
    _exit(0);
  }
  long extra = 0;
  for (long k = 1; k <= n; k++) {
    mem[0] = k;
    op(sem, 0, 1);
    if (op(sem, 1, -1) < 0) FAIL("CORRUPT semop errno %d\n", errno);
    struct msg m;
    if (mem[1] != 2 * k) FAIL("CORRUPT read %ld, expected %ld\n", mem[1], 2 * k);
    if (get(q, &m, 1, 0) < 0 || atol(m.text) != k) FAIL("CORRUPT message '%s', expected %ld\n", m.text, k);
    if (k % 5 == 0) {
      while (get(q, &m, 2, IPC_NOWAIT) >= 0) {
        char want[32];
        snprintf(want, sizeof want, "extra %ld", ++extra);
        if (strcmp(m.text, want)) FAIL("CORRUPT '%s', expected '%s'\n", m.text, want);
      }
      if (extra != k) FAIL("CORRUPT %ld extra messages by step %ld\n", extra, k);
    }
    int before = semctl(sem, 2, GETVAL);
    if (before != k - 1) FAIL("CORRUPT semaphore 2 holds %d, expected %ld\n", before, k - 1);
    union semun v = { .val = (int)k };
    semctl(sem, 2, SETVAL, v);
    struct shmid_ds sd;
    struct msqid_ds md;
    if (shmctl(shm, IPC_STAT, &sd) < 0 || sd.shm_segsz != 65536 || msgctl(q, IPC_STAT, &md) < 0) FAIL("CORRUPT an id no longer works: errno %d\n", errno);
    printf("S %ld\n", k);
    nap(40);
  }
  int status;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status)) FAIL("CORRUPT child ended with status %d\n", status);
  remove_objects();
  printf("DONE %d\n", n);
  return 0;
}
