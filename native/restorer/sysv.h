/* System V IPC at restart (sysv.c). */
#ifndef RESTORER_SYSV_H
#define RESTORER_SYSV_H
#include "../common/tree_format.h"
/* Makes a TREE_OBJ_SYSV object again; its new id goes into o->pos. */
void sysv_make(struct tree_object *o, const char *blob);
/* Attaches a segment made by sysv_make at addr; the address or -errno. */
long sysv_attach(const struct tree_object *segment, uint64_t addr, int writable);
#endif
