// The Node addon: the few system calls Node cannot make itself. Policy (what to
// exec, with which environment) is decided in TypeScript; this file only does it.
// The whole surface is typed in src/native/native.d.ts.
#include <napi.h>
#include "deflate.h"
#include "napi_util.h"
#include "plan_fill.h"
#include "service.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string>
#include <vector>

namespace {

// Undo what Node did to the process that the new program would otherwise inherit:
// close-on-exec and non-blocking stdio (Node and libuv set both), an ignored
// SIGPIPE, blocked signals.
void ResetInheritedState() {
  for (int fd = 0; fd <= 2; fd++) {
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags >= 0 && (fdflags & FD_CLOEXEC)) fcntl(fd, F_SETFD, fdflags & ~FD_CLOEXEC);
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// exec({ path?, fd?, argv, env, noRandomize? }): replaces this process; returns
// only by throwing.
Napi::Value Exec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "exec(options) needs an options object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  std::vector<std::string> argv = StringArray(o.Get("argv"));
  std::vector<std::string> envv = StringArray(o.Get("env"));
  if (argv.empty()) {
    Napi::TypeError::New(env, "exec: argv must not be empty").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<char*> cargv = CStrings(argv), cenv = CStrings(envv);
  bool noRandomize = o.Get("noRandomize").ToBoolean().Value();
  int oldPersona = personality(0xffffffff);
  if (noRandomize) personality(oldPersona | ADDR_NO_RANDOMIZE);
  ResetInheritedState();
  if (o.Has("fd") && o.Get("fd").IsNumber()) {
    int fd = o.Get("fd").As<Napi::Number>().Int32Value();
    syscall(SYS_execveat, fd, "", cargv.data(), cenv.data(), AT_EMPTY_PATH);
  } else {
    std::string path = o.Get("path").ToString().Utf8Value();
    execve(path.c_str(), cargv.data(), cenv.data());
  }
  int err = errno;
  if (noRandomize) personality(oldPersona);
  SysError(env, "exec failed", err).ThrowAsJavaScriptException();
  return env.Undefined();
}

// memfdCreate(name): an anonymous file to hold a patched restorer.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].ToString().Utf8Value();
  int fd = (int)syscall(SYS_memfd_create, name.c_str(), MFD_CLOEXEC);
  if (fd < 0) {
    SysError(env, "memfd_create", errno).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// setInheritable(fd, yes): clear or set FD_CLOEXEC.
Napi::Value SetInheritable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool yes = info[1].ToBoolean().Value();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, yes ? (flags & ~FD_CLOEXEC) : (flags | FD_CLOEXEC)) < 0) {
    SysError(env, "fcntl", errno).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("exec", Napi::Function::New(env, Exec));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  exports.Set("setInheritable", Napi::Function::New(env, SetInheritable));
  InitService(env, exports);
  InitDeflate(env, exports);
  InitPlanFill(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dmtcp_native, Init)
