// Error helpers shared by every native entry point.
#pragma once
#include <napi.h>

namespace tdn {

// Throws a JS Error shaped like Node's own system errors:
// message "syscall: strerror", and properties code ('EPERM'), errno
// (negative, as libuv reports it) and syscall. The caller must return
// right after (C++ exceptions are disabled).
void ThrowErrno(Napi::Env env, int err, const char* syscall);

// Throws a TypeError with `message` for an argument of the wrong shape.
void ThrowArg(Napi::Env env, const char* message);

// Argument readers: return false (with a TypeError pending) on bad input.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int32_t* out);
bool ArgU32(const Napi::CallbackInfo& info, size_t i, uint32_t* out);
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len);
bool ArgU32Array(const Napi::CallbackInfo& info, size_t i, uint32_t** data, size_t* len);

}  // namespace tdn
