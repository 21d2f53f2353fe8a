/* A Unix socketpair kept as full as the kernel lets it be: one thread sends
 * 1 MiB at a time with blocking send()s of a byte pattern (i % 251), the
 * other reads 40000 bytes every 12 ms and checks every byte, so a checkpoint
 * finds the sender blocked and as many bytes in flight as a socket holds
 * (more than a new socket's buffer takes at once: the restart must make
 * room for them). When more is in flight than a new socket takes at once
 * without blocking, it prints "FULL <queued> > <fits>" and stops reading for
 * 1.5 s, for the test to checkpoint then. A lost, repeated or changed byte is
 * CORRUPT, as is a send that returns less than it was given.
 * Prints "R k" after the k-th MiB read, then "DONE N". Usage: bigsend N */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG (1 << 20)
#define PATTERN 251
#define PIECE 40000                 /* read at a time, */
#define PIECE_PAUSE_NS 12000000L    /* every 12 ms: 1 MiB in about 0.3 s */
#define MAX_FULLS 3                 /* holds: one per checkpoint of the test, and one more */

static int fd[2], rounds;
static unsigned char out[BIG];
static volatile int corrupt;

static void *sender(void *unused) {
  (void)unused;
  uint64_t at = 0;
  for (int k = 1; k <= rounds && !corrupt; k++) {
    for (int i = 0; i < BIG; i++) out[i] = (unsigned char)((at + (uint64_t)i) % PATTERN);
    ssize_t n = send(fd[1], out, BIG, 0);
    if (n != BIG) { printf("CORRUPT send %d returned %zd (%s)\n", k, n, strerror(errno)); corrupt = 1; return 0; }
    at += BIG;
  }
  return 0;
}

/* What a new socketpair takes at once without blocking: what a restart can
 * send again into a socket of the default size. */
static int fits_at_once(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
  int n = 0;
  ssize_t r;
  while ((r = send(sv[1], out, BIG, MSG_DONTWAIT)) > 0) n += (int)r;
  close(sv[0]);
  close(sv[1]);
  return n;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atoi(argv[1]) : 20;
  setvbuf(stdout, 0, _IOLBF, 0);
  int fits = fits_at_once();
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) < 0) return 3;
  pthread_t t;
  pthread_create(&t, 0, sender, 0);
  static unsigned char in[PIECE];
  uint64_t total = 0;
  int fulls = 0;
  for (int k = 1; k <= rounds && !corrupt; k++) {
    for (size_t got = 0; got < BIG;) {
      /* a little at a time, so that the sender adds a piece whenever there is room */
      struct timespec pause = { 0, PIECE_PAUSE_NS };
      while (nanosleep(&pause, &pause) != 0) {}
      int queued = 0;
      if (fulls < MAX_FULLS && ioctl(fd[0], FIONREAD, &queued) == 0 && queued > fits) {
        /* more in flight than a new socket takes at once: hold it a while
         * (the test checkpoints now), then check it is all still there */
        printf("FULL %d > %d\n", queued, fits);
        fulls++;
        struct timespec hold = { 1, 500000000 };
        while (nanosleep(&hold, &hold) != 0) {}
        int after = 0;
        ioctl(fd[0], FIONREAD, &after);
        if (after < queued) { printf("CORRUPT %d bytes in flight, %d after the hold\n", queued, after); return 3; }
      }
      size_t want = BIG - got < PIECE ? BIG - got : PIECE;
      ssize_t n = read(fd[0], in, want);
      if (n <= 0) { printf("CORRUPT read returned %zd (%s)\n", n, strerror(errno)); return 3; }
      for (ssize_t i = 0; i < n; i++) {
        if (in[i] != (total + (uint64_t)i) % PATTERN) { printf("CORRUPT byte %llu\n", (unsigned long long)(total + (uint64_t)i)); return 3; }
      }
      got += (size_t)n;
      total += (uint64_t)n;
    }
    printf("R %d\n", k);
  }
  pthread_join(t, 0);
  if (corrupt) return 3;
  printf("DONE %d\n", rounds);
  return 0;
}
