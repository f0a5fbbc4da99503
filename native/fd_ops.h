#pragma once
#include <napi.h>
namespace tdn {
void InitFdOps(Napi::Env env, Napi::Object exports);
}
