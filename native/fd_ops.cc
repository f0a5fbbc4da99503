// File-descriptor syscalls: TUN attach, sockets, options and batch I/O.
// No packet logic here: bytes move between fds and memory that JavaScript
// owns, and every failure becomes a Node-style error (errors.h).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "fd_ops.h"

namespace tdn {
namespace {

// sendmmsg/recvmmsg take at most UIO_MAXIOV messages per call; larger
// batches are handled in chunks of this size.
constexpr unsigned kChunk = 1024;
// At most this many segments in one UDP GSO send (the kernel's UDP_MAX_SEGMENTS).
constexpr unsigned kMaxSegments = 64;
thread_local mmsghdr g_msgs[kChunk];
thread_local iovec g_iovs[kChunk];
thread_local sockaddr_in g_addrs[kChunk];
// One UDP_GRO control message per received message (an int: the segment size).
thread_local char g_controls[kChunk][CMSG_SPACE(sizeof(int))];

// open("/dev/net/tun") + TUNSETIFF. flags: IFF_TUN|IFF_NO_PI, with
// IFF_VNET_HDR for offloads. Returns {fd, name} (the kernel may pick
// the name when the requested one holds a %d pattern).
Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t flags;
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowArg(env, "tunOpen(name, flags): name must be a string");
    return env.Undefined();
  }
  if (!ArgInt(info, 1, &flags)) return env.Undefined();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ) {
    ThrowArg(env, "tunOpen: interface name longer than 15 bytes");
    return env.Undefined();
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ThrowErrno(env, errno, "open");
    return env.Undefined();
  }
  ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = static_cast<short>(flags);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "ioctl(TUNSETIFF)");
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("name", Napi::String::New(env, ifr.ifr_name));
  return result;
}

// TUNSETPERSIST: a persistent device outlives the fd that made it.
Napi::Value TunSetPersist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  unsigned long on = info.Length() > 1 && info[1].ToBoolean().Value() ? 1 : 0;
  if (ioctl(fd, TUNSETPERSIST, on) < 0) ThrowErrno(env, errno, "ioctl(TUNSETPERSIST)");
  return env.Undefined();
}

// TUNSETOFFLOAD: which offloads (TUN_F_CSUM, _TSO4, _USO4, ...) this
// reader can take in the virtio_net_hdr of packets it reads. The kernel
// refuses flags it does not know with EINVAL; the caller retries with less.
Napi::Value TunSetOffload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t flags;
  if (!ArgInt(info, 0, &fd) || !ArgU32(info, 1, &flags)) return env.Undefined();
  if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) < 0)
    ThrowErrno(env, errno, "ioctl(TUNSETOFFLOAD)");
  return env.Undefined();
}

// waitReadable(fds: Int32Array, timeoutMs) -> bitmask of the fds that are
// readable (bit i for fds[i], at most 31), 0 on timeout. A blocking
// poll(): for a thread that waits on its own instead of through libuv.
Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t timeout;
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowArg(env, "waitReadable(fds, timeoutMs): fds must be an Int32Array");
    return env.Undefined();
  }
  if (!ArgInt(info, 1, &timeout)) return env.Undefined();
  Napi::Int32Array fds = info[0].As<Napi::Int32Array>();
  size_t n = fds.ElementLength();
  if (n == 0 || n > 31) {
    ThrowArg(env, "waitReadable: give 1 to 31 fds");
    return env.Undefined();
  }
  pollfd pfds[31];
  for (size_t i = 0; i < n; i++) pfds[i] = {fds[i], POLLIN, 0};
  int rc;
  do rc = poll(pfds, n, timeout);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    ThrowErrno(env, errno, "poll");
    return env.Undefined();
  }
  uint32_t mask = 0;
  for (size_t i = 0; i < n; i++)
    if (pfds[i].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) mask |= 1u << i;
  return Napi::Number::New(env, mask);
}

// schedYield(): sched_yield(2). A thread that polls without sleeping calls
// it between polls, so that a task woken on its CPU (the process a packet
// was for) runs at once instead of waiting for the poller's time slice.
Napi::Value SchedYield(const Napi::CallbackInfo& info) {
  sched_yield();
  return info.Env().Undefined();
}

// socket(domain, type | SOCK_CLOEXEC, protocol). The caller adds
// SOCK_NONBLOCK to `type` for fds driven by a Poller.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t domain, type, protocol;
  if (!ArgInt(info, 0, &domain) || !ArgInt(info, 1, &type) || !ArgInt(info, 2, &protocol))
    return env.Undefined();
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    ThrowErrno(env, errno, "socket");
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(env, errno, "close");
  return env.Undefined();
}

sockaddr_in MakeInet(uint32_t addr, uint32_t port) {
  sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(addr);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

// bindInet(fd, addr, port): addr is the IPv4 address as a host-order u32.
Napi::Value BindInet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t addr, port;
  if (!ArgInt(info, 0, &fd) || !ArgU32(info, 1, &addr) || !ArgU32(info, 2, &port))
    return env.Undefined();
  sockaddr_in sa = MakeInet(addr, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) ThrowErrno(env, errno, "bind");
  return env.Undefined();
}

// sockPort(fd) -> the local port of an IPv4 socket (getsockname): the one the
// kernel picked after a bind to port 0.
Napi::Value SockPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  sockaddr_in sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    ThrowErrno(env, errno, "getsockname");
    return env.Undefined();
  }
  return Napi::Number::New(env, ntohs(sa.sin_port));
}

// bindNetlink(fd, groups) -> the port id the kernel assigned.
Napi::Value BindNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t groups;
  if (!ArgInt(info, 0, &fd) || !ArgU32(info, 1, &groups)) return env.Undefined();
  sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    ThrowErrno(env, errno, "bind");
    return env.Undefined();
  }
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) {
    ThrowErrno(env, errno, "getsockname");
    return env.Undefined();
  }
  return Napi::Number::New(env, sa.nl_pid);
}

Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, level, name, value;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name) ||
      !ArgInt(info, 3, &value))
    return env.Undefined();
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

// For options whose value is a byte string (SO_BINDTODEVICE) or a struct.
Napi::Value SetsockoptBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, level, name;
  uint8_t* data;
  size_t len;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name) ||
      !ArgBytes(info, 3, &data, &len))
    return env.Undefined();
  if (setsockopt(fd, level, name, data, static_cast<socklen_t>(len)) < 0)
    ThrowErrno(env, errno, "setsockopt");
  return env.Undefined();
}

}  // namespace

// Shared batch-layout check: `max` slots of `slot` bytes, packet data at
// `headroom` inside each slot, sizes[] (and addrs[] pairs) per slot.
bool CheckSlots(Napi::Env env, size_t buf_len, uint32_t slot, uint32_t headroom, uint32_t max,
                size_t sizes_len) {
  if (slot == 0 || headroom >= slot || static_cast<uint64_t>(slot) * max > buf_len ||
      sizes_len < max) {
    ThrowArg(env, "batch layout does not fit the buffers (slot, headroom, count, sizes)");
    return false;
  }
  return true;
}

bool CheckSpans(Napi::Env env, size_t buf_len, const uint32_t* offsets, const uint32_t* lengths,
                uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(offsets[i]) + lengths[i] > buf_len) {
      ThrowArg(env, "batch span outside the buffer");
      return false;
    }
  }
  return true;
}

namespace {

// readBatch(fd, buf, slot, headroom, max, sizes) -> n. Repeats read()
// until the fd has nothing more (EAGAIN) or `max` packets were read; packet
// i lands at buf[i*slot + headroom], its length in sizes[i]. On a blocking
// fd, call it with max = 1.
Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint32_t slot, headroom, max;
  uint8_t* buf;
  size_t buf_len, sizes_len;
  uint32_t* sizes;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) || !ArgU32(info, 2, &slot) ||
      !ArgU32(info, 3, &headroom) || !ArgU32(info, 4, &max) ||
      !ArgU32Array(info, 5, &sizes, &sizes_len))
    return env.Undefined();
  if (!CheckSlots(env, buf_len, slot, headroom, max, sizes_len)) return env.Undefined();
  uint32_t n = 0;
  while (n < max) {
    ssize_t got = read(fd, buf + static_cast<size_t>(n) * slot + headroom, slot - headroom);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;
      ThrowErrno(env, errno, "read");
      return env.Undefined();
    }
    if (got == 0) break;
    sizes[n++] = static_cast<uint32_t>(got);
  }
  return Napi::Number::New(env, n);
}

// writeBatch(fd, buf, offsets, lengths, count, first = 0) -> n written,
// for spans first .. first+count-1 (so callers resume without slicing). Stops at
// EAGAIN (returns what went out). Any other error on the first packet
// throws; after the first it returns early so the caller can retry from
// the failed packet and see that packet's own error.
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t* buf;
  size_t buf_len, off_len, len_len;
  uint32_t *offsets, *lengths, count;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) ||
      !ArgU32Array(info, 2, &offsets, &off_len) || !ArgU32Array(info, 3, &lengths, &len_len) ||
      !ArgU32(info, 4, &count))
    return env.Undefined();
  uint32_t first = 0;
  if (info.Length() > 5 && !ArgU32(info, 5, &first)) return env.Undefined();
  if (off_len < static_cast<size_t>(first) + count || len_len < static_cast<size_t>(first) + count) {
    ThrowArg(env, "writeBatch: offsets/lengths shorter than first + count");
    return env.Undefined();
  }
  offsets += first;
  lengths += first;
  if (!CheckSpans(env, buf_len, offsets, lengths, count)) return env.Undefined();
  uint32_t n = 0;
  while (n < count) {
    ssize_t put = write(fd, buf + offsets[n], lengths[n]);
    if (put < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;
      ThrowErrno(env, errno, "write");
      return env.Undefined();
    }
    n++;
  }
  return Napi::Number::New(env, n);
}

}  // namespace

// The UDP_GRO control message's segment size, or 0 when there is none.
uint32_t GroSegmentSize(msghdr* msg) {
  for (cmsghdr* cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
    if (cm->cmsg_level == IPPROTO_UDP && cm->cmsg_type == UDP_GRO) {
      int size;
      memcpy(&size, CMSG_DATA(cm), sizeof size);
      return size > 0 ? static_cast<uint32_t>(size) : 0;
    }
  }
  return 0;
}

namespace {

// recvBatch(fd, buf, slot, headroom, max, sizes, addrs|null, flags,
// segs|null) -> n. recvmmsg with MSG_DONTWAIT; addrs receives [addr, port]
// per packet (IPv4 sockets; pass null for netlink or when the source is not
// needed). With segs, each message's UDP_GRO control message (a socket with
// UDP_GRO on may hand over several datagrams of one size joined in one
// buffer) lands in segs[i]: the datagram size, or 0 for a single datagram.
Napi::Value RecvBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, flags;
  uint32_t slot, headroom, max;
  uint8_t* buf;
  size_t buf_len, sizes_len, addrs_len = 0;
  uint32_t *sizes, *addrs = nullptr;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) || !ArgU32(info, 2, &slot) ||
      !ArgU32(info, 3, &headroom) || !ArgU32(info, 4, &max) ||
      !ArgU32Array(info, 5, &sizes, &sizes_len))
    return env.Undefined();
  if (info.Length() > 6 && !info[6].IsNull() && !info[6].IsUndefined() &&
      !ArgU32Array(info, 6, &addrs, &addrs_len))
    return env.Undefined();
  if (!ArgInt(info, 7, &flags)) return env.Undefined();
  uint32_t* segs = nullptr;
  size_t segs_len = 0;
  if (info.Length() > 8 && !info[8].IsNull() && !info[8].IsUndefined() &&
      !ArgU32Array(info, 8, &segs, &segs_len))
    return env.Undefined();
  if (!CheckSlots(env, buf_len, slot, headroom, max, sizes_len)) return env.Undefined();
  if (addrs && addrs_len < 2 * static_cast<size_t>(max)) {
    ThrowArg(env, "recvBatch: addrs needs two entries per packet");
    return env.Undefined();
  }
  if (segs && segs_len < max) {
    ThrowArg(env, "recvBatch: segs needs one entry per packet");
    return env.Undefined();
  }
  uint32_t n = 0;
  while (n < max) {
    unsigned want = std::min<unsigned>(kChunk, max - n);
    for (unsigned i = 0; i < want; i++) {
      g_iovs[i].iov_base = buf + static_cast<size_t>(n + i) * slot + headroom;
      g_iovs[i].iov_len = slot - headroom;
      memset(&g_msgs[i], 0, sizeof g_msgs[i]);
      g_msgs[i].msg_hdr.msg_iov = &g_iovs[i];
      g_msgs[i].msg_hdr.msg_iovlen = 1;
      if (addrs) {
        g_msgs[i].msg_hdr.msg_name = &g_addrs[i];
        g_msgs[i].msg_hdr.msg_namelen = sizeof g_addrs[i];
      }
      if (segs) {
        g_msgs[i].msg_hdr.msg_control = g_controls[i];
        g_msgs[i].msg_hdr.msg_controllen = sizeof g_controls[i];
      }
    }
    int got = recvmmsg(fd, g_msgs, want, flags | MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || n > 0) break;
      ThrowErrno(env, errno, "recvmmsg");
      return env.Undefined();
    }
    for (int i = 0; i < got; i++) {
      sizes[n + i] = g_msgs[i].msg_len;
      if (addrs) {
        addrs[2 * (n + i)] = ntohl(g_addrs[i].sin_addr.s_addr);
        addrs[2 * (n + i) + 1] = ntohs(g_addrs[i].sin_port);
      }
      if (segs) segs[n + i] = GroSegmentSize(&g_msgs[i].msg_hdr);
    }
    n += got;
    if (static_cast<unsigned>(got) < want) break;
  }
  return Napi::Number::New(env, n);
}

// sendBatch(fd, buf, offsets, lengths, addrs|null, count, first = 0) -> n
// sent, for spans first .. first+count-1.
// sendmmsg; addrs gives [addr, port] per packet, or null on a connected
// socket. Same partial/early-return contract as writeBatch.
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t* buf;
  size_t buf_len, off_len, len_len, addrs_len = 0;
  uint32_t *offsets, *lengths, *addrs = nullptr, count;
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) ||
      !ArgU32Array(info, 2, &offsets, &off_len) || !ArgU32Array(info, 3, &lengths, &len_len))
    return env.Undefined();
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined() &&
      !ArgU32Array(info, 4, &addrs, &addrs_len))
    return env.Undefined();
  if (!ArgU32(info, 5, &count)) return env.Undefined();
  uint32_t first = 0;
  if (info.Length() > 6 && !ArgU32(info, 6, &first)) return env.Undefined();
  size_t end = static_cast<size_t>(first) + count;
  if (off_len < end || len_len < end || (addrs && addrs_len < 2 * end)) {
    ThrowArg(env, "sendBatch: offsets/lengths/addrs shorter than first + count");
    return env.Undefined();
  }
  offsets += first;
  lengths += first;
  if (addrs) addrs += 2 * static_cast<size_t>(first);
  if (!CheckSpans(env, buf_len, offsets, lengths, count)) return env.Undefined();
  uint32_t n = 0;
  while (n < count) {
    unsigned want = std::min<unsigned>(kChunk, count - n);
    for (unsigned i = 0; i < want; i++) {
      g_iovs[i].iov_base = buf + offsets[n + i];
      g_iovs[i].iov_len = lengths[n + i];
      memset(&g_msgs[i], 0, sizeof g_msgs[i]);
      g_msgs[i].msg_hdr.msg_iov = &g_iovs[i];
      g_msgs[i].msg_hdr.msg_iovlen = 1;
      if (addrs) {
        g_addrs[i] = MakeInet(addrs[2 * (n + i)], addrs[2 * (n + i) + 1]);
        g_msgs[i].msg_hdr.msg_name = &g_addrs[i];
        g_msgs[i].msg_hdr.msg_namelen = sizeof g_addrs[i];
      }
    }
    int sent = sendmmsg(fd, g_msgs, want, MSG_DONTWAIT);
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

// sendSegments(fd, buf, offsets, lengths, first, count, addr, port,
// segment) -> packets sent (0 on EAGAIN). UDP GSO: one sendmsg whose
// iovecs are the spans (each `segment` bytes, the last one no longer) and
// a UDP_SEGMENT control message, so the kernel builds one large datagram
// and splits it into `count` datagrams of `segment` bytes as late as it
// can. Throws EINVAL/EIO where the kernel or route cannot do UDP GSO.
Napi::Value SendSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  uint8_t* buf;
  size_t buf_len, off_len, len_len;
  uint32_t *offsets, *lengths, first, count, addr = 0, port, segment;
  // The address: an IPv4 one as a number, or 16 bytes of an IPv6 one (an AF_INET6 socket).
  uint8_t* addr6 = nullptr;
  size_t addr6_len = 0;
  bool v6 = info.Length() > 6 && info[6].IsTypedArray();
  if (!ArgInt(info, 0, &fd) || !ArgBytes(info, 1, &buf, &buf_len) ||
      !ArgU32Array(info, 2, &offsets, &off_len) || !ArgU32Array(info, 3, &lengths, &len_len) ||
      !ArgU32(info, 4, &first) || !ArgU32(info, 5, &count) ||
      !(v6 ? ArgBytes(info, 6, &addr6, &addr6_len) : ArgU32(info, 6, &addr)) ||
      !ArgU32(info, 7, &port) || !ArgU32(info, 8, &segment))
    return env.Undefined();
  if (v6 && addr6_len != 16) {
    ThrowArg(env, "sendSegments: an IPv6 address is 16 bytes");
    return env.Undefined();
  }
  size_t end = static_cast<size_t>(first) + count;
  if (count == 0 || count > kMaxSegments || off_len < end || len_len < end || segment == 0 ||
      segment > 0xffff) {
    ThrowArg(env, "sendSegments: bad span range or segment size");
    return env.Undefined();
  }
  offsets += first;
  lengths += first;
  if (!CheckSpans(env, buf_len, offsets, lengths, count)) return env.Undefined();
  for (uint32_t i = 0; i < count; i++) {
    if (lengths[i] > segment || (i + 1 < count && lengths[i] != segment)) {
      ThrowArg(env, "sendSegments: every span but the last must be exactly one segment");
      return env.Undefined();
    }
    g_iovs[i].iov_base = buf + offsets[i];
    g_iovs[i].iov_len = lengths[i];
  }
  sockaddr_in sa = MakeInet(addr, port);
  sockaddr_in6 sa6;
  memset(&sa6, 0, sizeof sa6);
  if (v6) {
    sa6.sin6_family = AF_INET6;
    sa6.sin6_port = htons(static_cast<uint16_t>(port));
    memcpy(&sa6.sin6_addr, addr6, 16);
  }
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))];
  memset(control, 0, sizeof control);
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = v6 ? static_cast<void*>(&sa6) : static_cast<void*>(&sa);
  msg.msg_namelen = v6 ? sizeof sa6 : sizeof sa;
  msg.msg_iov = g_iovs;
  msg.msg_iovlen = count;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = IPPROTO_UDP;  // SOL_UDP
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t gso = static_cast<uint16_t>(segment);
  memcpy(CMSG_DATA(cm), &gso, sizeof gso);
  for (;;) {
    ssize_t sent = sendmsg(fd, &msg, MSG_DONTWAIT);
    if (sent >= 0) return Napi::Number::New(env, count);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return Napi::Number::New(env, 0);
    ThrowErrno(env, errno, "sendmsg(UDP_SEGMENT)");
    return env.Undefined();
  }
}

}  // namespace

void InitFdOps(Napi::Env env, Napi::Object exports) {
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen));
  exports.Set("tunSetPersist", Napi::Function::New(env, TunSetPersist));
  exports.Set("tunSetOffload", Napi::Function::New(env, TunSetOffload));
  exports.Set("socket", Napi::Function::New(env, Socket));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable));
  exports.Set("schedYield", Napi::Function::New(env, SchedYield));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("bindInet", Napi::Function::New(env, BindInet));
  exports.Set("sockPort", Napi::Function::New(env, SockPort));
  exports.Set("bindNetlink", Napi::Function::New(env, BindNetlink));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetsockoptInt));
  exports.Set("setsockoptBytes", Napi::Function::New(env, SetsockoptBytes));
  exports.Set("readBatch", Napi::Function::New(env, ReadBatch));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch));
  exports.Set("recvBatch", Napi::Function::New(env, RecvBatch));
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch));
  exports.Set("sendSegments", Napi::Function::New(env, SendSegments));
}

}  // namespace tdn
