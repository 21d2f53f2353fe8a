// Gzip member bodies on the thread pool (deflate.cc).
#ifndef DMTCP_ADDON_DEFLATE_H
#define DMTCP_ADDON_DEFLATE_H
#include <napi.h>

void InitDeflate(Napi::Env env, Napi::Object exports);

#endif
