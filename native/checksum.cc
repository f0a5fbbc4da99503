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

uint32_t PseudoHeaderSum(const uint8_t* ip, bool v6, uint8_t protocol, uint32_t l4Len) {
  // Addresses, then protocol and length: as 32-bit words for IPv6 (RFC 8200
  // section 8.1) and 16-bit ones for IPv4 sum to the same folded value.
  return v6 ? SumBigEndianWords(ip + 8, 32, protocol + static_cast<uint64_t>(l4Len)) : SumBigEndianWords(ip + 12, 8, protocol + static_cast<uint64_t>(l4Len));
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

// Whether the packet p[0, len) is TCP (bit 0 of `protocols` set) or UDP
// (bit 1) whose checksum verifies, pseudo-header included. IPv4 with its
// header length; IPv6 with TCP or UDP as the first next header. Anything
// else: no, without summing its payload.
bool L4ChecksumVerifies(const uint8_t* p, size_t len, uint32_t protocols) {
  if (len < 28) return false;
  const int version = p[0] >> 4;
  if (version != 4 && version != 6) return false;
  const bool v6 = version == 6;
  const size_t ihl = v6 ? 40 : (p[0] & 0x0f) * 4u;
  const uint8_t protocol = v6 ? p[6] : p[9];
  const bool tcp = protocol == 6 && (protocols & 1), udp = protocol == 17 && (protocols & 2);
  if (!(tcp || udp) || ihl < 20 || len < ihl + (tcp ? 20 : 8)) return false;
  return SumBigEndianWords(p + ihl, len - ihl, PseudoHeaderSum(p, v6, protocol, static_cast<uint32_t>(len - ihl))) == 0xffff;
}

// l4ChecksumsVerify(buf, offsets, lengths, first, count, results,
// protocols): for packets i in [first, first+count), each
// buf[offsets[i], +lengths[i]), results[i] = 1 when it is TCP (protocols
// bit 0) or UDP (bit 1) and its checksum verifies, else 0. One call per
// batch that the TUN write side may merge: a call per packet cost about
// as much as the sum itself.
Napi::Value L4ChecksumsVerify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *buf, *results;
  size_t size, nOff, nLen, nResults;
  uint32_t *offsets, *lengths;
  uint32_t first, count;
  uint32_t protocols;
  if (!ArgBytes(info, 0, &buf, &size) || !ArgU32Array(info, 1, &offsets, &nOff) || !ArgU32Array(info, 2, &lengths, &nLen) ||
      !ArgU32(info, 3, &first) || !ArgU32(info, 4, &count) || !ArgBytes(info, 5, &results, &nResults) || !ArgU32(info, 6, &protocols))
    return env.Undefined();
  const uint64_t end = static_cast<uint64_t>(first) + count;
  if (end > nOff || end > nLen || end > nResults) {
    ThrowArg(env, "l4ChecksumsVerify: first + count exceeds the arrays");
    return env.Undefined();
  }
  for (uint32_t i = first; i < end; i++) {
    const uint64_t off = offsets[i], len = lengths[i];
    results[i] = off + len <= size && L4ChecksumVerifies(buf + off, len, protocols) ? 1 : 0;
  }
  return env.Undefined();
}

}  // namespace

void InitChecksum(Napi::Env env, Napi::Object exports) {
  exports.Set("checksumSum", Napi::Function::New(env, ChecksumSum));
  exports.Set("l4ChecksumsVerify", Napi::Function::New(env, L4ChecksumsVerify));
}

}  // namespace tdn
