/* A file the program keeps open and appends to: each step k appends
 * "line k" and reads the whole file back, which must be lines 1..k exactly
 * ("F k"); anything else is CORRUPT (exit 3). With --checkpoint-open-files a
 * restart puts the file back as it was at the checkpoint when it is gone or
 * (--allow-file-overwrite) changed. Usage: openfiles N PATH */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 30;
  const char *path = argv[2];
  setvbuf(stdout, 0, _IOLBF, 0);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) { printf("CORRUPT open\n"); return 3; }
  static char want[1 << 16], got[1 << 16];
  size_t wlen = 0;
  for (int k = 1; k <= n; k++) {
    char line[32];
    int len = snprintf(line, sizeof line, "line %d\n", k);
    if (write(fd, line, (size_t)len) != len) { printf("CORRUPT write at %d\n", k); return 3; }
    memcpy(want + wlen, line, (size_t)len);
    wlen += (size_t)len;
    ssize_t r = pread(fd, got, sizeof got, 0);
    if (r != (ssize_t)wlen || memcmp(got, want, wlen)) { printf("CORRUPT the file holds %zd bytes, not lines 1..%d\n", r, k); return 3; }
    printf("F %d\n", k);
    struct timespec t = { 0, 100000000 };
    while (nanosleep(&t, &t) != 0) {}
  }
  printf("DONE %d\n", n);
  return 0;
}
