// The addon's first compute function (DESIGN.md: syscalls, plus a compute
// kernel only where bench/checksum.ts shows it wins): the Internet checksum
// (RFC 1071) partial sum over a whole TCP/UDP payload, up to 64 KiB, which
// the TUN offload path computes for every segment it splits or merges.
#include <string.h>

#include "checksum.h"
#include "errors.h"

namespace tdn {

// Sums buf[start, end) as 16-bit big-endian words onto `initial` and folds
// the result to 16 bits (not complemented): the same value as
// foldPartial(sumWords(...)) in src/packet/checksum.ts. The sum of
// little-endian words is the byte swap of the big-endian one (RFC 1071
// section 2(B)), so the loop reads native 32-bit words and swaps once.
uint32_t SumBigEndianWords(const uint8_t* p, size_t len, uint64_t initial) {
  uint64_t sum = 0;
  while (len >= 32) {
    uint64_t w[4];
    memcpy(w, p, 32);
    for (uint64_t v : w) sum += (v & 0xffffffffu) + (v >> 32);
    p += 32;
    len -= 32;
  }
  while (len >= 4) {
    uint32_t v;
    memcpy(&v, p, 4);
    sum += v;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t v;
    memcpy(&v, p, 2);
    sum += v;
    p += 2;
    len -= 2;
  }
  if (len == 1) sum += *p;  // the low byte of a little-endian word: pads with zero
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint32_t swapped = ((sum & 0xff) << 8) | (sum >> 8);
  uint64_t total = swapped + initial;
  while (total >> 16) total = (total & 0xffff) + (total >> 16);
  return static_cast<uint32_t>(total);
}

namespace {

// checksumSum(buf, start, end, initial) -> the folded 16-bit partial sum.
Napi::Value ChecksumSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* buf;
  size_t len;
  uint32_t start, end, initial;
  if (!ArgBytes(info, 0, &buf, &len) || !ArgU32(info, 1, &start) || !ArgU32(info, 2, &end) ||
      !ArgU32(info, 3, &initial))
    return env.Undefined();
  if (start > end || end > len) {
    ThrowArg(env, "checksumSum: range outside the buffer");
    return env.Undefined();
  }
  return Napi::Number::New(env, SumBigEndianWords(buf + start, end - start, initial));
}

}  // namespace

void InitChecksum(Napi::Env env, Napi::Object exports) {
  exports.Set("checksumSum", Napi::Function::New(env, ChecksumSum));
}

}  // namespace tdn
