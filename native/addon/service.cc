// The resident encoder's system calls (native/common/encoder_service.h has the
// protocol): start it detached, listen on its Unix socket, accept a checkpoint,
// receive the request and the pipe it carries. Which socket, which program and
// when to stop are decided in TypeScript (src/service/).
#include "service.h"
#include "napi_util.h"
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <vector>
#include "../common/encoder_service.h"
#include "../common/fd_message.h"

namespace {

constexpr int kServicePresenceFd = 3;       // where the service finds its end of the presence pipe
constexpr int kListenBacklog = 64;
constexpr int kRequestTimeoutSec = 10;      // a client that connects and says nothing

// Runs in the grandchild between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecService(int presenceRead, const char* path, char* const* argv, char* const* envp) {
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
  }
  dup2(presenceRead, kServicePresenceFd);   // dup2 clears FD_CLOEXEC on the copy
  // A daemon's cwd: the folder we started in may be removed while we run (a
  // worker thread that starts then would die on its missing cwd). Every path
  // the service gets is absolute.
  if (chdir("/") != 0) _exit(127);
  syscall(SYS_close_range, kServicePresenceFd + 1, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  execve(path, argv, envp);
  _exit(127);
}

// startService({ path, argv, env, presenceFd }) -> pid
//
// Double fork: the service must not be our child, because this process is about
// to exec the user's program, which would otherwise find an unknown child in
// wait(). The middle process makes its own session (no terminal signals reach
// the service) and exits at once; the service is adopted by init or a subreaper.
// The presence pipe's write end is left at `presenceFd` in this process, without
// FD_CLOEXEC, so the program and everything it execs keep the service alive.
Napi::Value StartService(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "startService(options) needs an options object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  std::string path = o.Get("path").ToString().Utf8Value();
  std::vector<std::string> argv = StringArray(o.Get("argv")), envv = StringArray(o.Get("env"));
  int presenceFd = o.Get("presenceFd").ToNumber().Int32Value();
  if (argv.empty() || presenceFd <= kServicePresenceFd) {
    Napi::TypeError::New(env, "startService: argv must not be empty; presenceFd must be above 3").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<char*> cargv = CStrings(argv), cenv = CStrings(envv);

  int presence[2], report[2];
  if (pipe2(presence, O_CLOEXEC) < 0) { SysError(env, "pipe", errno).ThrowAsJavaScriptException(); return env.Undefined(); }
  if (pipe2(report, O_CLOEXEC) < 0) {
    int err = errno;
    close(presence[0]); close(presence[1]);
    SysError(env, "pipe", err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  pid_t middle = fork();
  if (middle == 0) {
    setsid();
    pid_t service = fork();
    if (service == 0) ExecService(presence[0], path.c_str(), cargv.data(), cenv.data());
    ssize_t ignored = write(report[1], &service, sizeof service);
    (void)ignored;
    _exit(service < 0 ? 1 : 0);
  }
  int err = errno;
  close(presence[0]);
  close(report[1]);
  pid_t service = -1;
  if (middle > 0) {
    int status;
    while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {}
    if (read(report[0], &service, sizeof service) != sizeof service) service = -1;
  }
  close(report[0]);
  if (middle < 0 || service < 0) {
    close(presence[1]);
    SysError(env, "cannot start the encoder service", middle < 0 ? err : ECHILD).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (dup3(presence[1], presenceFd, 0) < 0) {
    err = errno;
    close(presence[1]);
    SysError(env, "dup3", err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  close(presence[1]);
  return Napi::Number::New(env, service);
}

// listenUnix(path) -> listening fd (close-on-exec). The folder's mode (0700)
// keeps other users out; receiveRequest checks the peer's uid as well.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].ToString().Utf8Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    SysError(env, "socket path too long", ENAMETOOLONG).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0 || listen(fd, kListenBacklog) < 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    SysError(env, "cannot listen on the encoder socket", err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// acceptConnection(fd) -> connection fd, or -1 once the listener is shut down.
// Blocks the calling thread: the service calls it from its worker threads.
Napi::Value AcceptConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].ToNumber().Int32Value();
  for (;;) {
    int c = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c >= 0) return Napi::Number::New(env, c);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return Napi::Number::New(env, -1);   // EINVAL after shutdown, or a closed fd
  }
}

// shutdownListener(fd): wakes every thread blocked in acceptConnection.
Napi::Value ShutdownListener(const Napi::CallbackInfo& info) {
  shutdown(info[0].ToNumber().Int32Value(), SHUT_RDWR);
  return info.Env().Undefined();
}

// receiveRequest(fd) -> { args, fd }: the request and the pipe that came with it.
Napi::Value ReceiveRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int conn = info[0].ToNumber().Int32Value();
  struct ucred cred;
  socklen_t credLen = sizeof cred;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &credLen) < 0 || cred.uid != getuid()) {
    Napi::Error::New(env, "request from another user refused").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct timeval timeout = { kRequestTimeoutSec, 0 };
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  std::vector<char> buf(ENCODER_REQUEST_MAX);
  size_t have = 0;
  int passed = -1;
  bool complete = false;
  while (!complete && have < buf.size()) {
    char control[FD_MESSAGE_CONTROL];
    struct iovec iov = { buf.data() + have, buf.size() - have };
    struct msghdr msg;
    fd_message_init(&msg, &iov, control);
    ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    int fd = fd_message_received(&msg);
    if (fd >= 0 && passed < 0) passed = fd;
    else if (fd >= 0) close(fd);
    have += (size_t)n;
    if (have >= ENCODER_REQUEST_MAGIC_LEN && memcmp(buf.data(), ENCODER_REQUEST_MAGIC, ENCODER_REQUEST_MAGIC_LEN) != 0) break;
    // Complete: the magic, then strings, ending with an empty one ("\0\0", or a
    // lone "\0" right after the magic for an empty list).
    if (have > ENCODER_REQUEST_MAGIC_LEN && buf[have - 1] == 0 &&
        (have == ENCODER_REQUEST_MAGIC_LEN + 1 || buf[have - 2] == 0)) complete = true;
  }
  const char* bad = nullptr;
  if (have >= ENCODER_REQUEST_MAGIC_LEN && memcmp(buf.data(), ENCODER_REQUEST_MAGIC, ENCODER_REQUEST_MAGIC_LEN) != 0) bad = "not an encoder request";
  else if (!complete) bad = "incomplete request";
  else if (passed < 0) bad = "request came without its pipe";
  if (bad) {
    if (passed >= 0) close(passed);
    Napi::Error::New(env, bad).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array args = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t at = ENCODER_REQUEST_MAGIC_LEN; at < have - 1;) {
    size_t len = strlen(buf.data() + at);
    args.Set(n++, Napi::String::New(env, buf.data() + at, len));
    at += len + 1;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("args", args);
  out.Set("fd", Napi::Number::New(env, passed));
  return out;
}

// sendWithFd({ conn, text, fd }): one message on the connection carrying `fd`
// as SCM_RIGHTS (the direct-write reply hands the agent its image file).
Napi::Value SendWithFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].ToObject();
  int conn = o.Get("conn").ToNumber().Int32Value();
  std::string text = o.Get("text").ToString().Utf8Value();
  int fd = o.Get("fd").ToNumber().Int32Value();
  char control[FD_MESSAGE_CONTROL];
  struct iovec iov = { const_cast<char*>(text.data()), text.size() };
  struct msghdr msg;
  fd_message_init(&msg, &iov, control);
  fd_message_attach(&msg, fd);
  ssize_t n;
  do { n = sendmsg(conn, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
  if (n != (ssize_t)text.size()) {
    SysError(env, "cannot hand the image file to the process", n < 0 ? errno : EIO).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// closeFd(fd): close a descriptor that came from this addon (a worker thread's
// fs.closeSync warns about descriptors it did not open itself).
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  close(info[0].ToNumber().Int32Value());
  return info.Env().Undefined();
}

}  // namespace

void InitService(Napi::Env env, Napi::Object exports) {
  exports.Set("startService", Napi::Function::New(env, StartService));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  exports.Set("acceptConnection", Napi::Function::New(env, AcceptConnection));
  exports.Set("shutdownListener", Napi::Function::New(env, ShutdownListener));
  exports.Set("receiveRequest", Napi::Function::New(env, ReceiveRequest));
  exports.Set("sendWithFd", Napi::Function::New(env, SendWithFd));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
}
