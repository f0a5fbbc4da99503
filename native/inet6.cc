// IPv6 datagram syscalls: bind, and batch receive/send with the ancillary
// data an IPv6 raw socket needs. A raw ICMPv6 socket hands over the ICMPv6
// message without the IPv6 header, so a receive also returns what the
// header held: source (the sockaddr), destination (IPV6_PKTINFO) and hop
// limit (IPV6_HOPLIMIT). A send sets the hop limit per message
// (IPV6_HOPLIMIT control message), so runs of different hop limits
// (traceroute -6) need no setsockopt between them. No packet logic here.
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>

#include "errors.h"
#include "fd_ops.h"
#include "inet6.h"

namespace tdn {
namespace {

constexpr unsigned kChunk6 = 256;
// Per received packet in `meta`: source (16), destination (16), hop limit
// (1), source port (2, network order).
constexpr unsigned kMetaBytes = 35;
// Room for IPV6_PKTINFO, IPV6_HOPLIMIT and (a UDP socket with UDP_GRO on) UDP_GRO.
constexpr size_t kControl6 = CMSG_SPACE(sizeof(in6_pktinfo)) + 2 * CMSG_SPACE(sizeof(int));

thread_local mmsghdr g_msgs6[kChunk6];
thread_local iovec g_iovs6[kChunk6];
thread_local sockaddr_in6 g_addrs6[kChunk6];
thread_local char g_controls6[kChunk6][kControl6];

bool ArgAddr6(const Napi::CallbackInfo& info, size_t i, in6_addr* out) {
  uint8_t* data;
  size_t len;
  if (!ArgBytes(info, i, &data, &len)) return false;
  if (len != 16) {
    ThrowArg(info.Env(), "an IPv6 address is 16 bytes");
    return false;
  }
  memcpy(out, data, 16);
  return true;
}

// bindInet6(fd, addr16, port)
Napi::Value BindInet6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t port;
  sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  if (!ArgInt(info, 0, &fd) || !ArgAddr6(info, 1, &sa.sin6_addr) || !ArgU32(info, 2, &port)) return env.Undefined();
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) ThrowErrno(env, errno, "bind");
  return env.Undefined();
}

// recvBatch6(fd, buf, slot, headroom, max, sizes, meta, segs?) -> n. recvmmsg
// (MSG_DONTWAIT); packet i at buf[i*slot + headroom], and in meta[35*i]:
// source, destination and hop limit (zeros when the kernel sent none: the
// socket needs IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT on for them), and
// the source port (a UDP socket's peer; 0 on a raw socket). With segs, a
// UDP_GRO socket's segment size per message (0: one datagram), as recvBatch.
Napi::Value RecvBatch6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t slot, headroom, max;
  uint8_t *buf, *meta;
  size_t buf_len, sizes_len, meta_len;
  uint32_t* sizes;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) || !ArgU32(info, 2, &slot) ||
      !ArgU32(info, 3, &headroom) || !ArgU32(info, 4, &max) || !ArgU32Array(info, 5, &sizes, &sizes_len) ||
      !ArgBytes(info, 6, &meta, &meta_len))
    return env.Undefined();
  uint32_t* segs = nullptr;
  size_t segs_len = 0;
  if (info.Length() > 7 && !info[7].IsNull() && !info[7].IsUndefined() && !ArgU32Array(info, 7, &segs, &segs_len))
    return env.Undefined();
  if (segs && segs_len < max) {
    ThrowArg(env, "recvBatch6: segs needs one entry per packet");
    return env.Undefined();
  }
  if (!CheckSlots(env, buf_len, slot, headroom, max, sizes_len)) return env.Undefined();
  if (meta_len < static_cast<size_t>(max) * kMetaBytes) {
    ThrowArg(env, "recvBatch6: meta needs 35 bytes per packet");
    return env.Undefined();
  }
  uint32_t n = 0;
  while (n < max) {
    unsigned want = std::min<unsigned>(kChunk6, max - n);
    for (unsigned i = 0; i < want; i++) {
      g_iovs6[i].iov_base = buf + static_cast<size_t>(n + i) * slot + headroom;
      g_iovs6[i].iov_len = slot - headroom;
      memset(&g_msgs6[i], 0, sizeof g_msgs6[i]);
      g_msgs6[i].msg_hdr.msg_iov = &g_iovs6[i];
      g_msgs6[i].msg_hdr.msg_iovlen = 1;
      g_msgs6[i].msg_hdr.msg_name = &g_addrs6[i];
      g_msgs6[i].msg_hdr.msg_namelen = sizeof g_addrs6[i];
      g_msgs6[i].msg_hdr.msg_control = g_controls6[i];
      g_msgs6[i].msg_hdr.msg_controllen = kControl6;
    }
    int got = recvmmsg(fd, g_msgs6, want, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;
      ThrowErrno(env, errno, "recvmmsg");
      return env.Undefined();
    }
    for (int i = 0; i < got; i++) {
      uint8_t* m = meta + static_cast<size_t>(n + i) * kMetaBytes;
      memset(m, 0, kMetaBytes);
      sizes[n + i] = g_msgs6[i].msg_len;
      memcpy(m, &g_addrs6[i].sin6_addr, 16);
      memcpy(m + 33, &g_addrs6[i].sin6_port, 2);
      msghdr* h = &g_msgs6[i].msg_hdr;
      if (segs) segs[n + i] = GroSegmentSize(h);
      for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(h, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo pi;
          memcpy(&pi, CMSG_DATA(c), sizeof pi);
          memcpy(m + 16, &pi.ipi6_addr, 16);
        } else if (c->cmsg_type == IPV6_HOPLIMIT) {
          int hops;
          memcpy(&hops, CMSG_DATA(c), sizeof hops);
          m[32] = static_cast<uint8_t>(hops);
        }
      }
    }
    n += got;
    if (static_cast<unsigned>(got) < want) break;
  }
  return Napi::Number::New(env, n);
}

// sendBatch6(fd, buf, offsets, lengths, dsts, hops, count, first, ports?)
// -> n sent of spans first..first+count-1: span i to dsts[16*i] (port
// ports[i] when given: a UDP socket) with hop limit hops[i] (0: the
// socket's default). Stops at EAGAIN or at the first
// refusal when something was sent; throws when the first message fails,
// so the caller can name the errno for that one packet.
Napi::Value SendBatch6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t *buf, *dsts, *hops;
  size_t buf_len, off_len, len_len, dsts_len, hops_len;
  uint32_t *offsets, *lengths, count, first, *ports = nullptr;
  size_t ports_len = 0;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) || !ArgU32Array(info, 2, &offsets, &off_len) ||
      !ArgU32Array(info, 3, &lengths, &len_len) || !ArgBytes(info, 4, &dsts, &dsts_len) ||
      !ArgBytes(info, 5, &hops, &hops_len) || !ArgU32(info, 6, &count) || !ArgU32(info, 7, &first))
    return env.Undefined();
  if (info.Length() > 8 && !info[8].IsNull() && !info[8].IsUndefined() && !ArgU32Array(info, 8, &ports, &ports_len))
    return env.Undefined();
  size_t end = static_cast<size_t>(first) + count;
  if (off_len < end || len_len < end || dsts_len < 16 * end || hops_len < end || (ports && ports_len < end)) {
    ThrowArg(env, "sendBatch6: offsets/lengths/dsts/hops/ports shorter than first + count");
    return env.Undefined();
  }
  if (!CheckSpans(env, buf_len, offsets + first, lengths + first, count)) return env.Undefined();
  uint32_t n = 0;
  while (n < count) {
    unsigned want = std::min<unsigned>(kChunk6, count - n);
    for (unsigned i = 0; i < want; i++) {
      size_t k = first + n + i;
      g_iovs6[i].iov_base = buf + offsets[k];
      g_iovs6[i].iov_len = lengths[k];
      memset(&g_msgs6[i], 0, sizeof g_msgs6[i]);
      memset(&g_addrs6[i], 0, sizeof g_addrs6[i]);
      g_addrs6[i].sin6_family = AF_INET6;
      memcpy(&g_addrs6[i].sin6_addr, dsts + 16 * k, 16);
      if (ports) g_addrs6[i].sin6_port = htons(static_cast<uint16_t>(ports[k]));
      msghdr* h = &g_msgs6[i].msg_hdr;
      h->msg_iov = &g_iovs6[i];
      h->msg_iovlen = 1;
      h->msg_name = &g_addrs6[i];
      h->msg_namelen = sizeof g_addrs6[i];
      if (hops[k] != 0) {
        memset(g_controls6[i], 0, kControl6);
        h->msg_control = g_controls6[i];
        h->msg_controllen = CMSG_SPACE(sizeof(int));
        cmsghdr* c = CMSG_FIRSTHDR(h);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_HOPLIMIT;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int value = hops[k];
        memcpy(CMSG_DATA(c), &value, sizeof value);
      }
    }
    int sent = sendmmsg(fd, g_msgs6, want, MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;
      ThrowErrno(env, errno, "sendmmsg");
      return env.Undefined();
    }
    n += sent;
    if (static_cast<unsigned>(sent) < want) break;
  }
  return Napi::Number::New(env, n);
}

}  // namespace

void InitInet6(Napi::Env env, Napi::Object exports) {
  exports.Set("bindInet6", Napi::Function::New(env, BindInet6));
  exports.Set("recvBatch6", Napi::Function::New(env, RecvBatch6));
  exports.Set("sendBatch6", Napi::Function::New(env, SendBatch6));
}

}  // namespace tdn
