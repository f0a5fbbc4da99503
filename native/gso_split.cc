// The per-segment work of splitting a TUN super-packet (src/tun/gso-split.ts
// checks the headers and drives this): each segment's headers and payload
// copied into its slot, its IP id and length, TCP sequence number and
// flags, IPv4 header checksum and full TCP/UDP checksum. In TypeScript a
// segment cost ~365 ns, a third of it the call into the addon for its
// checksum; here one call does every segment that fits (bench/split.ts).
#include <string.h>

#include "checksum.h"
#include "errors.h"
#include "gso_split.h"

namespace tdn {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get32(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v);
}

// The segment at `ip` (its length, ids, sequence and flags already set):
// IPv4 header checksum, and the L4 checksum over pseudo-header and segment.
void FinishSegment(uint8_t* ip, uint32_t ihl, uint32_t segLen, bool v6, bool tcp) {
  const uint32_t l4Len = segLen - ihl;
  uint8_t* l4 = ip + ihl;
  if (!v6) {
    Put16(ip + 10, 0);
    Put16(ip + 10, ~SumBigEndianWords(ip, ihl, 0) & 0xffff);
  }
  const uint32_t pseudo = PseudoHeaderSum(ip, v6, tcp ? kProtoTcp : kProtoUdp, l4Len);
  uint8_t* field = l4 + (tcp ? 16 : 6);
  if (!tcp) Put16(l4 + 4, l4Len);
  Put16(field, 0);
  uint32_t sum = ~SumBigEndianWords(l4, l4Len, pseudo) & 0xffff;
  if (!tcp && sum == 0) sum = 0xffff;  // UDP: zero means "no checksum"
  Put16(field, sum);
}

// gsoSplitSegments(raw, pkt, hdrLen, ihl, payload, gsoSize, kind, firstSegment,
//                  out, slotSize, headroom, firstSlot, slots, offsets, sizes)
//   -> segments written.
// The super-packet's IP header is at raw[pkt], headers hdrLen bytes long
// (IP ihl + L4), followed by `payload` bytes cut every gsoSize. kind: bit 0
// IPv6, bit 1 TCP (else UDP). Segments firstSegment.. go into out's slots
// firstSlot..slots-1 (slot s at s*slotSize + headroom; offsets[s] and
// sizes[s] set) until either runs out. The caller has checked the headers;
// this checks only that every byte it touches lies inside its buffer.
Napi::Value GsoSplitSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *raw, *out;
  size_t rawLen, outLen, nOffsets, nSizes;
  uint32_t *offsets, *sizes;
  uint32_t pkt, hdrLen, ihl, payload, gsoSize, kind, firstSegment, slotSize, headroom, firstSlot, slots;
  if (!ArgBytes(info, 0, &raw, &rawLen) || !ArgU32(info, 1, &pkt) || !ArgU32(info, 2, &hdrLen) || !ArgU32(info, 3, &ihl) ||
      !ArgU32(info, 4, &payload) || !ArgU32(info, 5, &gsoSize) || !ArgU32(info, 6, &kind) || !ArgU32(info, 7, &firstSegment) ||
      !ArgBytes(info, 8, &out, &outLen) || !ArgU32(info, 9, &slotSize) || !ArgU32(info, 10, &headroom) ||
      !ArgU32(info, 11, &firstSlot) || !ArgU32(info, 12, &slots) || !ArgU32Array(info, 13, &offsets, &nOffsets) ||
      !ArgU32Array(info, 14, &sizes, &nSizes))
    return env.Undefined();
  const bool v6 = kind & 1, tcp = kind & 2;
  // A packet with no payload is still one segment (its headers).
  const uint64_t segments = gsoSize == 0 ? 0 : payload == 0 ? 1 : (static_cast<uint64_t>(payload) + gsoSize - 1) / gsoSize;
  const uint32_t longest = payload < gsoSize ? payload : gsoSize;
  if (gsoSize == 0 || ihl < 20 || hdrLen < ihl + (tcp ? 20u : 8u) || static_cast<uint64_t>(pkt) + hdrLen + payload > rawLen ||
      static_cast<uint64_t>(headroom) + hdrLen + longest > slotSize || slots > nOffsets || slots > nSizes ||
      static_cast<uint64_t>(slots) * slotSize > outLen || firstSegment > segments) {
    ThrowArg(env, "gsoSplitSegments: headers, segments or slots outside their buffers");
    return env.Undefined();
  }
  const uint8_t* head = raw + pkt;
  const uint16_t id0 = v6 ? 0 : Get16(head + 4);
  const uint32_t seq0 = tcp ? Get32(head + ihl + 4) : 0;
  const uint8_t flags0 = tcp ? head[ihl + 13] : 0;
  uint32_t k = firstSegment, slot = firstSlot;
  for (; k < segments && slot < slots; k++, slot++) {
    const uint32_t chunk = payload - k * gsoSize < gsoSize ? payload - k * gsoSize : gsoSize;
    const uint32_t segLen = hdrLen + chunk;
    const uint32_t d = slot * slotSize + headroom;
    uint8_t* ip = out + d;
    memcpy(ip, head, hdrLen);
    memcpy(ip + hdrLen, head + hdrLen + static_cast<size_t>(k) * gsoSize, chunk);
    if (v6) {
      Put16(ip + 4, segLen - 40);
    } else {
      Put16(ip + 2, segLen);
      Put16(ip + 4, (id0 + k) & 0xffff);
    }
    if (tcp) {
      Put32(ip + ihl + 4, seq0 + k * gsoSize);
      uint8_t flags = flags0;
      if (k + 1 < segments) flags &= ~(kTcpFin | kTcpPsh);
      if (k > 0) flags &= ~kTcpCwr;
      ip[ihl + 13] = flags;
    }
    FinishSegment(ip, ihl, segLen, v6, tcp);
    offsets[slot] = d;
    sizes[slot] = segLen;
  }
  return Napi::Number::New(env, k - firstSegment);
}

}  // namespace

void InitGsoSplit(Napi::Env env, Napi::Object exports) {
  exports.Set("gsoSplitSegments", Napi::Function::New(env, GsoSplitSegments));
}

}  // namespace tdn
