#ifndef DMTCP_META_JSON_H
#define DMTCP_META_JSON_H
#include <stddef.h>
/* The image's process metadata (docs/raw-stream.md) as JSON, in a reserved buffer.
 * Built by the checkpoint thread without malloc. */
const char *meta_json_build(size_t *len);
#endif
