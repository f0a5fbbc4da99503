#pragma once
#include <napi.h>
namespace tdn {
void InitInet6(Napi::Env env, Napi::Object exports);
}
