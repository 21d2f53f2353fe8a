/* Tiny freestanding helpers for the restorer: messages, numbers, memory. */
#ifndef RESTORER_UTIL_H
#define RESTORER_UTIL_H
#include "sys.h"

#define FAIL_RC 99

size_t r_strlen(const char *s);
int r_streq(const char *a, const char *b);
int r_startswith(const char *s, const char *prefix);
void r_memcpy(void *dst, const void *src, size_t n);
void r_memset(void *dst, int c, size_t n);
/* Parse a decimal or 0x-hex number; returns the index after it in *end. */
uint64_t r_parse_num(const char *s, int base, const char **end);
/* One line on stderr: "mtcp_restart: <what>[ <hex>]\n". */
void r_say(const char *what, const char *detail, uint64_t hex, int with_hex);
/* pread all of [off, off+len) into buf, or fail with `what` and the offset. */
void r_read_full(int fd, void *buf, uint64_t len, uint64_t off, const char *what);
/* Called by r_fail before it exits (the tree tells the other processes). */
extern void (*r_before_fail)(void);
__attribute__((noreturn)) void r_fail(const char *what, const char *detail, uint64_t hex, int with_hex);
#endif
