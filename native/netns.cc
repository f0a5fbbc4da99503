// Namespace syscalls for the lab: the JS side composes these the way
// iproute2's `ip netns add/del/exec` does. They act on the calling thread
// only (the JS main thread), which is what lets the lab open a socket or a
// TUN inside a namespace and switch straight back.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "errors.h"
#include "netns.h"

namespace tdn {
namespace {

bool ArgString(const Napi::CallbackInfo& info, size_t i, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) {
    ThrowArg(info.Env(), "expected a string argument");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

// openPath(path, flags) -> fd; O_CLOEXEC is always added. Used for
// namespace handles (/run/netns/NAME, /proc/thread-self/ns/net) and for
// creating the empty mount-point file of a new namespace.
Napi::Value OpenPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  int32_t flags, mode = 0;
  if (!ArgString(info, 0, &path) || !ArgInt(info, 1, &flags)) return env.Undefined();
  if (info.Length() > 2 && !ArgInt(info, 2, &mode)) return env.Undefined();
  int fd = open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) {
    ThrowErrno(env, errno, "open");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Setns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, nstype;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &nstype)) return env.Undefined();
  if (setns(fd, nstype) < 0) ThrowErrno(env, errno, "setns");
  return env.Undefined();
}

Napi::Value Unshare(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t flags;
  if (!ArgInt(info, 0, &flags)) return env.Undefined();
  if (unshare(flags) < 0) ThrowErrno(env, errno, "unshare");
  return env.Undefined();
}

// mount(source, target, fstype, flags): data is always NULL.
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source, target, fstype;
  uint32_t flags;
  if (!ArgString(info, 0, &source) || !ArgString(info, 1, &target) ||
      !ArgString(info, 2, &fstype) || !ArgU32(info, 3, &flags))
    return env.Undefined();
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), flags, nullptr) < 0)
    ThrowErrno(env, errno, "mount");
  return env.Undefined();
}

Napi::Value Umount2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string target;
  int32_t flags;
  if (!ArgString(info, 0, &target) || !ArgInt(info, 1, &flags)) return env.Undefined();
  if (umount2(target.c_str(), flags) < 0) ThrowErrno(env, errno, "umount2");
  return env.Undefined();
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("openPath", Napi::Function::New(env, OpenPath));
  exports.Set("setns", Napi::Function::New(env, Setns));
  exports.Set("unshare", Napi::Function::New(env, Unshare));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount2", Napi::Function::New(env, Umount2));
}

}  // namespace tdn
