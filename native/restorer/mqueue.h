/* POSIX message queues at restart (mqueue.c). */
#ifndef RESTORER_MQUEUE_H
#define RESTORER_MQUEUE_H
/* blob: a TREE_OBJ_MQUEUE object's bytes (tree_format.h). */
void mqueue_make(const char *blob);
#endif
