/* The restore plan, shared by the restorer (writer side is TypeScript: src/image/plan.ts).
 * docs/restore-plan.md is the spec; keep both in step. Little-endian, fixed layout. */
#ifndef DMTCP_PLAN_FORMAT_H
#define DMTCP_PLAN_FORMAT_H
#include <stdint.h>

#define PLAN_MAGIC "DMTCPPLN"
#define PLAN_VERSION 2
#define PLAN_HEADER_SIZE 4096
#define PLAN_INFO_OFFSET 256
#define PLAN_INFO_MAX (PLAN_HEADER_SIZE - PLAN_INFO_OFFSET)

struct plan_header {
  char magic[8];
  uint32_t version;
  uint32_t nareas;
  uint64_t entry;
  uint64_t entry_arg;
  uint64_t brk;
  uint64_t start_brk;
  uint64_t areas_offset;
  uint64_t runs_offset;
  uint64_t nruns;
  uint64_t tables_len;
  uint64_t tables_addr;
  uint64_t environ_offset;   /* dmtcp_restart's environment, inside the tables; 0: none */
  uint64_t environ_len;
  /* The image that runs flagged RUN_MAP_IMAGE are mapped from (a raw one:
   * private, copy-on-write) or RUN_READ_IMAGE read from (a gzip one's stored
   * blocks): its path inside the tables, and the identity dmtcp_restart read
   * it under, which the restorer checks before it maps or reads anything. */
  uint32_t image_path_offset;   /* from areas_offset, like an area's path; 0: none */
  uint32_t reserved;
  uint64_t image_dev;           /* st_dev as stat(2) gives it */
  uint64_t image_ino;
  uint32_t info_len;
};

struct plan_area {
  uint64_t start;
  uint64_t end;
  uint32_t prot;
  uint32_t flags;
  uint32_t first_run;
  uint32_t nruns;
  uint64_t file_offset;
  uint32_t path_offset;
  uint32_t reserved;
};

struct plan_run {
  uint64_t addr;
  uint64_t len;
  uint64_t data_offset;   /* in the plan file; with RUN_MAP_IMAGE or RUN_READ_IMAGE, in the image file */
  uint32_t flags;
  uint32_t reserved;
};

/* Run flags. RUN_MAP_IMAGE: map the run's bytes from the raw image file
 * (MAP_PRIVATE) instead of copying them from the plan; pages are read from
 * the page cache when the program first touches them. */
#define RUN_MAP_IMAGE 0x1
/* RUN_READ_IMAGE: copy the run's bytes from the image file at data_offset (any
 * offset: the payload of a gzip image's stored deflate block, whose checksum
 * dmtcp_restart verified) instead of from the plan. */
#define RUN_READ_IMAGE 0x2

/* Area flags: the same bits as the raw capture stream (docs/raw-stream.md). */
#define AREA_SHARED 0x1
#define AREA_ANON 0x2
#define AREA_STACK 0x4
#define AREA_HEAP 0x8
#define AREA_VDSO 0x10
#define AREA_VVAR 0x20
#define AREA_NODATA 0x40
#define AREA_DELETED 0x80
#define AREA_FILE_SHARED_WRITABLE 0x100

/* What the restorer hands to the agent's restore entry (rdi). It lives in the
 * restorer's memory, which the agent unmaps once it has copied what it needs. */
struct restore_handoff {
  uint64_t restorer_start;   /* the restorer's own image, to unmap */
  uint64_t restorer_end;
  uint64_t tables_addr;      /* the plan tables, to unmap */
  uint64_t tables_len;
  uint32_t info_len;
  char info[PLAN_INFO_MAX];  /* key=value\n lines from dmtcp_restart */
  /* The restart tree (tree_format.h), shared by the tree's processes; the
   * agent reads the pid table from it and unmaps it. Last, so that an older
   * agent reads the fields it knows where they always were. */
  uint64_t tree_addr;
  uint64_t tree_len;
  int32_t tree_index;
  int32_t reserved;
  /* dmtcp_restart's environment (NAME=value\0 ...), in the plan tables: the
   * agent copies it before it unmaps them (dmtcp_get_restart_env). */
  uint64_t environ_addr;
  uint64_t environ_len;
};

#endif
