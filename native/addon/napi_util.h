// Small helpers shared by the addon's files: errors that carry errno, and
// string arrays for exec.
#ifndef DMTCP_NAPI_UTIL_H
#define DMTCP_NAPI_UTIL_H
#include <napi.h>
#include <string.h>
#include <string>
#include <vector>

inline Napi::Error SysError(Napi::Env env, const char* what, int err) {
  std::string msg = std::string(what) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

inline std::vector<std::string> StringArray(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToString().Utf8Value());
  return out;
}

// NULL-terminated pointers into `strings` (which must outlive the result).
inline std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

#endif
