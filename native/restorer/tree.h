/* The restart of a process tree: stages before memory (tree.c). */
#ifndef RESTORER_TREE_H
#define RESTORER_TREE_H
#include <stdint.h>

/* join_tree, fork_children, wait_forked, groups; returns our plan's fd. */
int tree_start(int tree_fd, int index, char **envp);
/* wait_planned: every process has read its plan. */
void tree_planned(void);
/* What the agent gets: the shared tree map and our entry in it. */
void tree_handoff(uint64_t *addr, uint64_t *len, int32_t *index);
uint64_t tree_map_start(void);
uint64_t tree_map_end(void);
#endif
