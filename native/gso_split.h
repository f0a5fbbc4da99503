#pragma once
#include <napi.h>

namespace tdn {
void InitGsoSplit(Napi::Env env, Napi::Object exports);
}  // namespace tdn
