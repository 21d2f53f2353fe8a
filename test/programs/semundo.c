/* SEM_UNDO across restarts: the parent makes a semaphore of value 5; its
 * child takes 2 with SEM_UNDO (value 3) and ticks "C i"; the parent ticks
 * "P i", checking the value is 3 while the child lives. When the child ends
 * the kernel gives the 2 back: the parent must then read 5 ("UNDONE 5"),
 * after restarts too (the child's adjustment came back with it). Anything
 * else: "CORRUPT <why>", exit 3. Usage: semundo N */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap_ms(long ms) {
  struct timespec s = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&s, &s)) {}
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  setvbuf(stdout, 0, _IOLBF, 0);
  int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0 || semctl(id, 0, SETVAL, 5) != 0) { printf("CORRUPT semget\n"); return 3; }
  pid_t child = fork();
  if (child == 0) {
    struct sembuf take = { 0, -2, SEM_UNDO };
    if (semop(id, &take, 1) != 0) { printf("CORRUPT child semop\n"); _exit(3); }
    for (int i = 1; i <= n; i++) { printf("C %d\n", i); nap_ms(100); }
    exit(0);
  }
  int taken = 0;
  for (int i = 1; i <= n + 100; i++) {
    int status;
    pid_t w = waitpid(child, &status, WNOHANG);
    int v = semctl(id, 0, GETVAL);
    if (w == child) {
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { printf("CORRUPT child ended with %d\n", status); return 3; }
      semctl(id, 0, IPC_RMID);
      if (!taken) { printf("CORRUPT the parent never saw the child's 2 taken\n"); return 3; }
      if (v != 5) { printf("CORRUPT value %d after the child ended, not 5\n", v); return 3; }
      printf("UNDONE %d\n", v);
      printf("DONE %d\n", n);
      return 0;
    }
    if (v == 3) taken = 1;   /* the child took its 2 (it may start late on a loaded machine) */
    if (taken && v != 3) { printf("CORRUPT value %d while the child holds 2\n", v); return 3; }
    printf("P %d\n", i);
    nap_ms(100);
  }
  printf("CORRUPT the child did not end\n");
  return 3;
}
