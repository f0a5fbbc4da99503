#pragma once
#include <napi.h>

namespace tdn {
// The Internet checksum's partial sum of `len` bytes as 16-bit big-endian
// words onto `initial`, folded to 16 bits, not complemented.
uint32_t SumBigEndianWords(const uint8_t* p, size_t len, uint64_t initial);
// The TCP/UDP pseudo-header's partial sum for the IP header at `ip` (IPv6
// without extension headers when v6), for an L4 segment of l4Len bytes.
uint32_t PseudoHeaderSum(const uint8_t* ip, bool v6, uint8_t protocol, uint32_t l4Len);
void InitChecksum(Napi::Env env, Napi::Object exports);
}  // namespace tdn
