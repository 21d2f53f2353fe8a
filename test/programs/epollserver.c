/* An epoll server and 32 clients across checkpoints. The parent serves on
 * 127.0.0.1 with one epoll set (the listener level-triggered, connections
 * edge-triggered, non-blocking, read until EAGAIN); four child processes
 * each hold 8 connections, two waiting in poll() and two in select() (both
 * blocked across every checkpoint). Every connection sends "c r" for rounds
 * r = 1..N and must get "c 2r" back before the next. The parent prints "E r"
 * once all 32 finished round r. A wrong, lost or repeated answer: CORRUPT.
 * Usage: epollserver N */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCS 4
#define PER 8
#define CONNS (PROCS * PER)

struct conn { int fd, id; char in[256]; size_t have; };

static int client(int port, int id, int n) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd[PER], round[PER];
  for (int i = 0; i < PER; i++) {
    fd[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd[i], (struct sockaddr *)&a, sizeof a) < 0) { printf("CORRUPT connect errno %d\n", errno); return 3; }
    round[i] = 1;
    dprintf(fd[i], "%d %d\n", id * PER + i, 1);
  }
  int use_select = id % 2;   /* two processes wait in poll(), two in select() */
  for (int done = 0; done < PER;) {
    int ready[PER] = { 0 };
    if (use_select) {
      fd_set r;
      FD_ZERO(&r);
      int top = 0;
      for (int i = 0; i < PER; i++) if (round[i] <= n) { FD_SET(fd[i], &r); if (fd[i] > top) top = fd[i]; }
      if (select(top + 1, &r, 0, 0, 0) < 0) { if (errno == EINTR) continue; printf("CORRUPT select errno %d\n", errno); return 3; }
      for (int i = 0; i < PER; i++) ready[i] = round[i] <= n && FD_ISSET(fd[i], &r);
    } else {
      struct pollfd p[PER];
      for (int i = 0; i < PER; i++) { p[i].fd = round[i] <= n ? fd[i] : -1; p[i].events = POLLIN; p[i].revents = 0; }
      if (poll(p, PER, -1) < 0) { if (errno == EINTR) continue; printf("CORRUPT poll errno %d\n", errno); return 3; }
      for (int i = 0; i < PER; i++) ready[i] = (p[i].revents & POLLIN) != 0;
    }
    for (int i = 0; i < PER; i++) {
      if (!ready[i]) continue;
      char line[64];
      size_t got = 0;
      while (got < sizeof line - 1) {   /* the answer is one short line */
        ssize_t r = read(fd[i], line + got, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { printf("CORRUPT connection %d closed\n", id * PER + i); return 3; }
        if (line[got++] == '\n') break;
      }
      line[got] = 0;
      int c, v;
      if (sscanf(line, "%d %d", &c, &v) != 2 || c != id * PER + i || v != 2 * round[i]) { printf("CORRUPT connection %d round %d got '%s'\n", id * PER + i, round[i], line); return 3; }
      if (++round[i] <= n) dprintf(fd[i], "%d %d\n", id * PER + i, round[i]);
      else done++;
    }
    struct timespec ts = { 0, 30000000 };   /* requests and answers wait meanwhile */
    nanosleep(&ts, 0);
  }
  return 0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 60;
  setvbuf(stdout, 0, _IOLBF, 0);
  int l = socket(AF_INET, SOCK_STREAM, 0), on = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 64);
  getsockname(l, (struct sockaddr *)&a, &len);
  pid_t kids[PROCS];
  for (int p = 0; p < PROCS; p++) if ((kids[p] = fork()) == 0) { close(l); _exit(client(ntohs(a.sin_port), p, n)); }
  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = 0 };
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  static struct conn conns[CONNS];
  int nconns = 0, answered[CONNS + 1] = { 0 }, finished = 0;
  int per_round[1024] = { 0 };
  while (finished < CONNS * n) {
    struct epoll_event out[16];
    int m = epoll_wait(ep, out, 16, 5000);
    if (m < 0 && errno == EINTR) continue;
    if (m <= 0) { printf("CORRUPT epoll_wait gave %d errno %d\n", m, errno); return 3; }
    for (int i = 0; i < m; i++) {
      if (!out[i].data.ptr) {
        int s = accept(l, 0, 0);
        if (s < 0 || nconns == CONNS) { printf("CORRUPT accept\n"); return 3; }
        fcntl(s, F_SETFL, O_NONBLOCK);
        conns[nconns].fd = s;
        conns[nconns].id = -1;
        struct epoll_event ce = { .events = EPOLLIN | EPOLLET, .data.ptr = &conns[nconns++] };
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ce);
        continue;
      }
      struct conn *c = out[i].data.ptr;
      for (;;) {   /* edge-triggered: until EAGAIN */
        ssize_t r = read(c->fd, c->in + c->have, sizeof c->in - 1 - c->have);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r == 0 && c->id >= 0 && answered[c->id] == n) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0); close(c->fd); break; }
        if (r <= 0) { printf("CORRUPT a client closed early\n"); return 3; }
        c->have += (size_t)r;
        c->in[c->have] = 0;
        char *nl;
        while ((nl = strchr(c->in, '\n'))) {
          *nl = 0;
          int id, round;
          if (sscanf(c->in, "%d %d", &id, &round) != 2 || id < 0 || id >= CONNS || round != answered[id] + 1) { printf("CORRUPT request '%s'\n", c->in); return 3; }
          answered[id] = round;
          c->id = id;
          dprintf(c->fd, "%d %d\n", id, 2 * round);
          finished++;
          if (round < 1024 && ++per_round[round] == CONNS) printf("E %d\n", round);
          size_t rest = c->have - (size_t)(nl + 1 - c->in);
          memmove(c->in, nl + 1, rest);
          c->have = rest;
          c->in[rest] = 0;
        }
      }
    }
  }
  for (int p = 0; p < PROCS; p++) {
    int status;
    waitpid(kids[p], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) { printf("CORRUPT client %d ended with status %d\n", p, status); return 3; }
  }
  printf("DONE %d\n", n);
  return 0;
}
