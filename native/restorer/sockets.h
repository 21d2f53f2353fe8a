/* Sockets at restart, made by the root with the other shared fds (sockets.c). */
#ifndef RESTORER_SOCKETS_H
#define RESTORER_SOCKETS_H
#include "../common/tree_format.h"

/* A Unix socketpair: end 0 at slot0, end 1 at slot1. */
void sockets_make_pair(const struct tree_object *o, const char *blob, int slot0, int slot1);
/* A TREE_OBJ_SOCKET object; blob: its struct tree_socket and waiting bytes. */
void sockets_make(const struct tree_object *o, const char *blob, int slot0, int slot1);
/* Last, once every socket exists: each datagram socket's queued records sent
 * again to it from their senders. */
void sockets_refill_datagrams(const struct tree_header *h, const struct tree_object *objs);
/* Then each listener's backlog as its program gave it (after the connections
 * no one had accepted are in its queue again, which a small backlog would
 * not have let in) and every socket's own SO_REUSEADDR (after every bind). */
void sockets_finish(const struct tree_header *h, const struct tree_object *objs);
#endif
