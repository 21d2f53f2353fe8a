/* A process group whose leader is gone, across restarts. As a shell does for
 * `a | b | c` when `a` ends first: the parent forks a leader that makes its
 * own group and ends at once, then two members it puts in that group. Every
 * tick each member checks that getpgid(0) and getpgrp() still name the
 * leader's pid and prints "M<k> n pgid=X got=K"; the parent checks getpgid
 * of each member, and every fifth tick signals the group by the leader's pid
 * (killpg, and kill of the negative id), which the members count. A member
 * has no child: a SIGCHLD it gets is a stand-in's the restart left behind.
 * Usage: leaderless N reaped|zombie
 *   reaped: the parent reaps the leader at once (the group has no leader
 *           process at all);
 *   zombie: the leader stays a zombie until the end, when the parent reaps it
 *           and checks its exit status (5). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEADER_STATUS 5
#define MEMBERS 2

static volatile sig_atomic_t got, chld;
static void on_usr1(int s) { (void)s; got++; }
static void on_chld(int s) { (void)s; chld++; }

static void tick(void) {
  struct timespec ts = { 0, 100 * 1000 * 1000 };
  while (nanosleep(&ts, &ts) != 0) {}
}

static int member(int k, int n, pid_t group) {
  struct sigaction sa = { 0 };
  sa.sa_handler = on_chld;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGCHLD, &sa, 0);   /* a member has no child: a SIGCHLD here is not ours */
  for (int i = 1; i <= n; i++) {
    if (chld) { printf("CORRUPT M%d got a SIGCHLD without a child\n", k); return 3; }
    if (getpgid(0) != group || getpgrp() != group) {
      printf("CORRUPT M%d pgid %d want %d (pid %d ppid %d sid %d real pgid %ld)\n", k, getpgid(0), group, getpid(), getppid(), getsid(0), syscall(SYS_getpgid, 0));
      return 3;
    }
    printf("M%d %d pgid=%d got=%d\n", k, i, getpgid(0), (int)got);
    tick();
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 40;
  int zombie = argc > 2 && !strcmp(argv[2], "zombie");
  setvbuf(stdout, 0, _IOLBF, 0);
  struct sigaction sa = { 0 };
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, 0);

  int ready[2];
  if (pipe(ready) != 0) return 2;
  pid_t leader = fork();
  if (leader < 0) return 2;
  if (leader == 0) {
    setpgid(0, 0);
    char c;
    close(ready[1]);
    while (read(ready[0], &c, 1) < 0) {}   /* until both members are in the group */
    _exit(LEADER_STATUS);
  }
  setpgid(leader, leader);
  pid_t members[MEMBERS];
  for (int k = 0; k < MEMBERS; k++) {
    members[k] = fork();
    if (members[k] < 0) return 2;
    if (members[k] == 0) {
      close(ready[0]); close(ready[1]);
      if (setpgid(0, leader) != 0) { printf("CORRUPT M%d setpgid: %s\n", k + 1, strerror(errno)); return 3; }
      return member(k + 1, n, leader);
    }
    if (setpgid(members[k], leader) != 0 && errno != EACCES) { printf("CORRUPT setpgid(M%d): %s\n", k + 1, strerror(errno)); return 3; }
  }
  close(ready[0]); close(ready[1]);   /* the leader ends now */
  if (!zombie) {
    int status = 0;
    if (waitpid(leader, &status, 0) != leader || !WIFEXITED(status) || WEXITSTATUS(status) != LEADER_STATUS) {
      printf("CORRUPT leader status %x\n", status);
      return 3;
    }
  } else {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PID, leader, &si, WEXITED | WNOWAIT) != 0) {}   /* ended, not reaped */
  }
  printf("LEADER %d gone\n", (int)leader);
  for (int i = 1; i <= n; i++) {
    for (int k = 0; k < MEMBERS; k++)
      if (getpgid(members[k]) != leader) { printf("CORRUPT getpgid(M%d) %d want %d\n", k + 1, getpgid(members[k]), leader); return 3; }
    if (kill(-leader, 0) != 0) { printf("CORRUPT kill(-%d, 0) failed\n", leader); return 3; }
    if (i % 5 == 0 && (i % 10 == 0 ? killpg(leader, SIGUSR1) : kill(-leader, SIGUSR1)) != 0) { printf("CORRUPT signal to the group\n"); return 3; }
    printf("P %d\n", i);
    tick();
  }
  for (int k = 0; k < MEMBERS; k++) {
    int status = 0;
    if (waitpid(members[k], &status, 0) != members[k] || status != 0) { printf("CORRUPT member %d status %x\n", k + 1, status); return 3; }
  }
  if (zombie) {
    int status = 0;
    if (waitpid(leader, &status, 0) != leader || !WIFEXITED(status) || WEXITSTATUS(status) != LEADER_STATUS) {
      printf("CORRUPT zombie leader status %x\n", status);
      return 3;
    }
  }
  printf("DONE %d\n", n);
  return 0;
}
