// Entry point of the tun-driver native addon. Its whole surface is
// declared for TypeScript in src/native/addon.ts; nothing else loads it.
#include <napi.h>

#include "aead.h"
#include "checksum.h"
#include "fd_ops.h"
#include "gso_split.h"
#include "inet6.h"
#include "netns.h"
#include "poller.h"

namespace tdn {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitFdOps(env, exports);
  InitInet6(env, exports);
  InitChecksum(env, exports);
  InitGsoSplit(env, exports);
  InitAead(env, exports);
  InitPoller(env, exports);
  InitNetns(env, exports);
  return exports;
}

NODE_API_MODULE(tun_driver_native, Init)

}  // namespace tdn
