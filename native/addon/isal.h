// ISA-L's igzip, loaded with dlopen when first asked for, never linked: the
// addon builds and loads on a machine without it, and callers then take their
// node:zlib path (src/image/engine.ts, src/image/plan.ts). Its header is needed
// at build time only for the streams' layout (DMTCP_HAVE_ISAL, set by
// binding.gyp when it is there).
#ifndef DMTCP_ADDON_ISAL_H
#define DMTCP_ADDON_ISAL_H
#include <stdint.h>
#ifdef DMTCP_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

typedef uint32_t (*IsalCrc32Fn)(uint32_t, const unsigned char*, uint64_t);
#ifdef DMTCP_HAVE_ISAL
typedef void (*IsalDeflateInitFn)(struct isal_zstream*);
typedef int (*IsalDeflateFn)(struct isal_zstream*);
typedef void (*IsalInflateInitFn)(struct inflate_state*);
typedef int (*IsalInflateFn)(struct inflate_state*);
#endif

struct Isal {
  bool ok = false;  // every function below was found
  IsalCrc32Fn crc32 = nullptr;
#ifdef DMTCP_HAVE_ISAL
  IsalDeflateInitFn deflateInit = nullptr;
  IsalDeflateFn deflate = nullptr;   // isal_deflate_stateless
  IsalInflateInitFn inflateInit = nullptr;
  IsalInflateFn inflate = nullptr;   // isal_inflate_stateless
#endif
};

// Loads the library once (thread-safe); ok is false when it is not there.
const Isal& LoadIsal();

#endif
