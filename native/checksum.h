#pragma once
#include <napi.h>

namespace tdn {
void InitChecksum(Napi::Env env, Napi::Object exports);
}  // namespace tdn
