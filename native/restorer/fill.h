/* Stage fill: the bytes of every copied run, read by several threads. */
#ifndef RESTORER_FILL_H
#define RESTORER_FILL_H
#include "../common/plan_format.h"

/* Reads every run of `runs` that is copied (not RUN_MAP_IMAGE) into its
 * address: from image_fd when RUN_READ_IMAGE, else from plan_fd, at its
 * data_offset. The areas are mapped and writable. */
void fill_runs(const struct plan_run *runs, uint64_t nruns, int plan_fd, int image_fd);

#endif
