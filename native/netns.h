#pragma once
#include <napi.h>
namespace tdn {
void InitNetns(Napi::Env env, Napi::Object exports);
}
