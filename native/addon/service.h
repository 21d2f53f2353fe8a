// The resident encoder's part of the addon (service.cc).
#ifndef DMTCP_ADDON_SERVICE_H
#define DMTCP_ADDON_SERVICE_H
#include <napi.h>

void InitService(Napi::Env env, Napi::Object exports);

#endif
