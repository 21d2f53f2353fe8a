#ifndef DMTCP_META_JSON_H
#define DMTCP_META_JSON_H
#include <stddef.h>
/* The image's process metadata (docs/raw-stream.md) as JSON, in a reserved buffer.
 * Built by the checkpoint thread without malloc. */
const char *meta_json_build(size_t *len);

/* For the fd kinds (fd_kinds.c) that describe their own state. */
#include <stdint.h>
struct jbuf { char *p; size_t used, cap; };
void json_member(struct jbuf *b, const char *k);   /* ,"k": */
void json_num(struct jbuf *b, int64_t v);
void json_hex(struct jbuf *b, uint64_t v);         /* "0x..." */
void json_bool(struct jbuf *b, int v);
void json_raw(struct jbuf *b, const char *s);
void json_str(struct jbuf *b, const char *s);      /* a JSON string, escaped */
#endif
