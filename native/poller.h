#pragma once
#include <napi.h>
namespace tdn {
void InitPoller(Napi::Env env, Napi::Object exports);
}
