#pragma once
#include <napi.h>

namespace tdn {
// The Internet checksum's partial sum of `len` bytes as 16-bit big-endian
// words onto `initial`, folded to 16 bits, not complemented.
uint32_t SumBigEndianWords(const uint8_t* p, size_t len, uint64_t initial);
void InitChecksum(Napi::Env env, Napi::Object exports);
}  // namespace tdn
