#include "errors.h"

#include <string.h>

#include <string>

namespace tdn {

void ThrowErrno(Napi::Env env, int err, const char* syscall) {
  const char* name = strerrorname_np(err);
  std::string message = std::string(syscall) + ": " + strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
}

void ThrowArg(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, int32_t* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    ThrowArg(info.Env(), "expected a number argument");
    return false;
  }
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

bool ArgU32(const Napi::CallbackInfo& info, size_t i, uint32_t* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    ThrowArg(info.Env(), "expected a number argument");
    return false;
  }
  *out = info[i].As<Napi::Number>().Uint32Value();
  return true;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArg(info.Env(), "expected a Uint8Array argument");
    return false;
  }
  Napi::Uint8Array array = info[i].As<Napi::Uint8Array>();
  *data = array.Data();
  *len = array.ElementLength();
  return true;
}

bool ArgU32Array(const Napi::CallbackInfo& info, size_t i, uint32_t** data, size_t* len) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowArg(info.Env(), "expected a Uint32Array argument");
    return false;
  }
  Napi::Uint32Array array = info[i].As<Napi::Uint32Array>();
  *data = array.Data();
  *len = array.ElementLength();
  return true;
}

}  // namespace tdn
