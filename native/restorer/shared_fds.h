/* Shared fds at restart: made by the root, placed by each process (shared_fds.c). */
#ifndef RESTORER_SHARED_FDS_H
#define RESTORER_SHARED_FDS_H
#include "../common/tree_format.h"

void shared_fds_make(const struct tree_header *h);
/* After setsid: take back the controlling terminal this session had. */
void shared_fds_take_ctty(const struct tree_header *h, int index);
/* Places this process's fds, closes the slots; returns the plan fd's new number. */
int shared_fds_place(const struct tree_header *h, int index, int plan_fd);
/* Shared memory object k's fd (TREE_OBJ_SHM), or -1. */
int shared_fds_object_fd(const struct tree_header *h, uint32_t k);
/* Shared memory object k's System V segment (a TREE_OBJ_SYSV object), or 0. */
const struct tree_object *shared_fds_segment(const struct tree_header *h, uint32_t k);
/* Once every area is mapped: the memory objects' slots are closed. */
void shared_fds_after_memory(const struct tree_header *h);
#endif
