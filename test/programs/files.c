/* Open files across a restart: a log written at its offset, an O_APPEND file, a
 * read-only data file read sequentially, a close-on-exec flag, and a scratch file
 * that was deleted while open (its contents must come back from the image).
 * At the end the files must hold every line exactly once. Prints "DONE ok" or
 * "FAIL <why>". Run in its own directory: it creates its files there. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DATA_SIZE 65536
#define READ_STEP 100
#define SCRATCH_SIZE 10000

static char failure[256];
static void fail(const char *why, long a, long b) {
  if (!failure[0]) snprintf(failure, sizeof failure, "%s (%ld vs %ld)", why, a, b);
}

static unsigned char data_byte(long off) { return (unsigned char)(off * 31 + off / 251); }
static unsigned char scratch_byte(long off) { return (unsigned char)(off ^ 0x5a); }

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void expect_lines(const char *path, const char *fmt, int n) {
  char *want = malloc((size_t)n * 32 + 1), *got = malloc((size_t)n * 32 + 64);
  size_t w = 0;
  for (int i = 1; i <= n; i++) w += (size_t)sprintf(want + w, fmt, i);
  int fd = open(path, O_RDONLY);
  ssize_t g = fd < 0 ? -1 : read(fd, got, (size_t)n * 32 + 63);
  if (fd >= 0) close(fd);
  if (g != (ssize_t)w || memcmp(want, got, w) != 0) fail(path, (long)g, (long)w);
  free(want);
  free(got);
}

int main(int argc, char **argv) {
  int ticks = argc > 1 ? atoi(argv[1]) : 30;
  unsigned char buf[DATA_SIZE];
  for (long i = 0; i < DATA_SIZE; i++) buf[i] = data_byte(i);
  int d = open("data.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (d < 0 || write(d, buf, DATA_SIZE) != DATA_SIZE) { printf("FAIL setup\n"); return 1; }
  close(d);
  int log = open("log.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int app = open("append.txt", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  int data = open("data.bin", O_RDONLY | O_CLOEXEC);
  int scratch = open("scratch.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
  for (long i = 0; i < SCRATCH_SIZE; i++) buf[i] = scratch_byte(i);
  if (write(scratch, buf, SCRATCH_SIZE) != SCRATCH_SIZE || unlink("scratch.bin") != 0) {
    printf("FAIL scratch setup\n");
    return 1;
  }
  lseek(scratch, 1234, SEEK_SET);
  long data_off = 0;
  for (int t = 1; t <= ticks; t++) {
    char line[32];
    int n = sprintf(line, "line %d\n", t);
    if (write(log, line, (size_t)n) != n) fail("write log", t, 0);
    n = sprintf(line, "a %d\n", t);
    if (write(app, line, (size_t)n) != n) fail("write append", t, 0);
    if (!(fcntl(app, F_GETFL) & O_APPEND)) fail("O_APPEND lost", t, 0);
    if (!(fcntl(data, F_GETFD) & FD_CLOEXEC)) fail("FD_CLOEXEC lost", t, 0);
    if (lseek(data, 0, SEEK_CUR) != data_off) fail("data offset", lseek(data, 0, SEEK_CUR), data_off);
    unsigned char chunk[READ_STEP];
    if (read(data, chunk, READ_STEP) != READ_STEP) fail("read data", t, 0);
    for (int i = 0; i < READ_STEP; i++)
      if (chunk[i] != data_byte(data_off + i)) { fail("data content", data_off + i, 0); break; }
    data_off += READ_STEP;
    if (lseek(scratch, 0, SEEK_CUR) != 1234) fail("scratch offset", lseek(scratch, 0, SEEK_CUR), 1234);
    unsigned char s[SCRATCH_SIZE];
    if (pread(scratch, s, SCRATCH_SIZE, 0) != SCRATCH_SIZE) fail("deleted file size", t, 0);
    for (long i = 0; i < SCRATCH_SIZE; i++)
      if (s[i] != scratch_byte(i)) { fail("deleted file content", i, s[i]); break; }
    printf("tick %d\n", t);
    fflush(stdout);
    sleep_ms(50);
  }
  expect_lines("log.txt", "line %d\n", ticks);
  expect_lines("append.txt", "a %d\n", ticks);
  if (failure[0]) { printf("FAIL %s\n", failure); return 1; }
  printf("DONE ok\n");
  return 0;
}
