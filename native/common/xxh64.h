/* XXH64 (seed 0 or any), as the image format checksums page data
 * (docs/image-format.md); the same function as assembly/xxh64.ts, for native
 * readers that verify chunks without a round trip through wasm. Written from
 * the algorithm's public description: 32-byte stripes into four lanes, then
 * the tail in 8-, 4- and 1-byte steps, then the avalanche. */
#ifndef DMTCP_XXH64_H
#define DMTCP_XXH64_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define XXH64_P1 0x9E3779B185EBCA87ULL
#define XXH64_P2 0xC2B2AE3D27D4EB4FULL
#define XXH64_P3 0x165667B19E3779F9ULL
#define XXH64_P4 0x85EBCA77C2B2AE63ULL
#define XXH64_P5 0x27D4EB2F165667C5ULL

static inline uint64_t xxh64_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
/* little-endian loads (x86-64 and aarch64 Linux): unaligned through memcpy */
static inline uint64_t xxh64_read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t xxh64_read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static inline uint64_t xxh64_round(uint64_t acc, uint64_t in) {
  acc += in * XXH64_P2;
  return xxh64_rotl(acc, 31) * XXH64_P1;
}

static inline uint64_t xxh64_merge(uint64_t h, uint64_t lane) {
  h ^= xxh64_round(0, lane);
  return h * XXH64_P1 + XXH64_P4;
}

static inline uint64_t xxh64(const void *data, size_t len, uint64_t seed) {
  const uint8_t *p = (const uint8_t *)data, *end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + XXH64_P1 + XXH64_P2, v2 = seed + XXH64_P2, v3 = seed, v4 = seed - XXH64_P1;
    const uint8_t *last = end - 32;
    do {
      v1 = xxh64_round(v1, xxh64_read64(p));
      v2 = xxh64_round(v2, xxh64_read64(p + 8));
      v3 = xxh64_round(v3, xxh64_read64(p + 16));
      v4 = xxh64_round(v4, xxh64_read64(p + 24));
      p += 32;
    } while (p <= last);
    h = xxh64_rotl(v1, 1) + xxh64_rotl(v2, 7) + xxh64_rotl(v3, 12) + xxh64_rotl(v4, 18);
    h = xxh64_merge(h, v1);
    h = xxh64_merge(h, v2);
    h = xxh64_merge(h, v3);
    h = xxh64_merge(h, v4);
  } else {
    h = seed + XXH64_P5;
  }
  h += (uint64_t)len;
  for (; p + 8 <= end; p += 8) h = xxh64_rotl(h ^ xxh64_round(0, xxh64_read64(p)), 27) * XXH64_P1 + XXH64_P4;
  if (p + 4 <= end) { h = xxh64_rotl(h ^ ((uint64_t)xxh64_read32(p) * XXH64_P1), 23) * XXH64_P2 + XXH64_P3; p += 4; }
  for (; p < end; p++) h = xxh64_rotl(h ^ (*p * XXH64_P5), 11) * XXH64_P1;
  h ^= h >> 33;
  h *= XXH64_P2;
  h ^= h >> 29;
  h *= XXH64_P3;
  h ^= h >> 32;
  return h;
}

#endif
