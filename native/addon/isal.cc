// ISA-L by dlopen (isal.h).
#include "isal.h"
#include <dlfcn.h>
#include <mutex>

namespace {
const char* kIsalLibrary = "libisal.so.2";
Isal isal;
std::once_flag isalOnce;
}  // namespace

const Isal& LoadIsal() {
  std::call_once(isalOnce, [] {
#ifdef DMTCP_HAVE_ISAL
    void* h = dlopen(kIsalLibrary, RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    isal.crc32 = reinterpret_cast<IsalCrc32Fn>(dlsym(h, "crc32_gzip_refl"));
    isal.deflateInit = reinterpret_cast<IsalDeflateInitFn>(dlsym(h, "isal_deflate_stateless_init"));
    isal.deflate = reinterpret_cast<IsalDeflateFn>(dlsym(h, "isal_deflate_stateless"));
    isal.inflateInit = reinterpret_cast<IsalInflateInitFn>(dlsym(h, "isal_inflate_init"));
    isal.inflate = reinterpret_cast<IsalInflateFn>(dlsym(h, "isal_inflate_stateless"));
    isal.ok = isal.crc32 && isal.deflateInit && isal.deflate && isal.inflateInit && isal.inflate;
#endif
  });
  return isal;
}
