#pragma once
#include <napi.h>

namespace tdn {
void InitAead(Napi::Env env, Napi::Object exports);
}  // namespace tdn
