// A restore plan's page data, filled by threads of the addon's own (plan_fill.cc).
#ifndef DMTCP_ADDON_PLAN_FILL_H
#define DMTCP_ADDON_PLAN_FILL_H
#include <napi.h>

void InitPlanFill(Napi::Env env, Napi::Object exports);

#endif
