/* The raw capture stream the agent writes to the encoder: docs/raw-stream.md. */
#ifndef DMTCP_RAW_STREAM_FORMAT_H
#define DMTCP_RAW_STREAM_FORMAT_H
#include <stdint.h>

#define RAW_MAGIC "DMTCPRAW"
#define RAW_VERSION 1

struct raw_stream_header {
  char magic[8];
  uint32_t version;
  uint32_t meta_len;
  uint8_t reserved[16];
};

struct raw_area_record {
  char tag[8];            /* "AREA\0\0\0\0" */
  uint64_t start;
  uint64_t end;
  uint64_t file_offset;
  uint32_t prot;
  uint32_t flags;
  uint32_t name_len;
  uint32_t nruns;
  uint64_t data_len;
  uint64_t reserved;
};

struct raw_run {
  uint64_t offset;        /* from the area's start */
  uint64_t len;
};

struct raw_end_record {
  char tag[8];            /* "END\0\0\0\0\0" */
  uint8_t zero[56];
};

#endif
