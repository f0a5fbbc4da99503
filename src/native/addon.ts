// The native addon's whole surface. Everything else imports this file,
// never the .node binary. The addon does syscalls only: it moves bytes
// between file descriptors and memory owned here, and reports readiness.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A Node-style system error thrown by the addon. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface NativePoller {
  /** events: POLL_READABLE. */
  start(events: number): void;
  stop(): void;
  /** Stops and frees the libuv handle; the fd stays open. */
  close(): void;
}

/** One WireGuard session key's ChaCha20-Poly1305 contexts (native/aead.cc); see src/wireguard/keypair.ts. */
export interface NativeTransportKey {
  /**
   * Writes the transport header (type 4, `receiverIndex`, counter + i - first, little-endian) into messages i in
   * [first, first+count) at buf[offsets[i]], whose lengths[i] count header, padded packet and tag, and seals into each
   * the packet src[srcOffsets[j], +srcLengths[j]) (j = srcFirst + i - first), zero-padded to lengths[i] - 32.
   * Every message is checked before any is sealed: on a throw none was written.
   * @throws TypeError when `counter` is not an integer in [0, 2^53 - count], a message or packet does not fit its buffer,
   * or the key was destroyed.
   */
  sealBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, first: number, count: number, receiverIndex: number, counter: number, src: Uint8Array, srcOffsets: Uint32Array, srcLengths: Uint32Array, srcFirst: number): void;
  /** Decrypts the message buf[off, off+total) in place; returns the padded packet's length (at off+16), or -1 when it does not authenticate. */
  open(buf: Uint8Array, off: number, total: number): number;
  /**
   * Opens messages i in [first, first+count), each buf[offsets[i], +sizes[i]), in place as open() does: results[i] gets the
   * padded packet's length, or 0xffffffff when it does not authenticate. One call per run of messages to one session.
   */
  openBatch(buf: Uint8Array, offsets: Uint32Array, sizes: Uint32Array, first: number, count: number, results: Uint32Array): void;
  /** Wipes the key now (not when collected); every later seal or open throws. Idempotent. */
  destroy(): void;
  /** How it runs the cipher: OpenSSL's ChaCha20 and Poly1305 primitives (Node's own OpenSSL exports them), or EVP. */
  readonly path: 'primitives' | 'evp';
}

export interface NativeAddon {
  /** A ChaCha20-Poly1305 key of 32 bytes for WireGuard transport messages. */
  /**
   * way: 'evp' takes OpenSSL's EVP interface even where the primitives are
   * found; 'unjoined' the primitives without the one-call seal and open
   * (native/aead.cc). For tests and bench/aead.ts; the default is the fastest.
   */
  TransportKey: new (key: Uint8Array, way?: 'evp' | 'unjoined') => NativeTransportKey;
  tunOpen(name: string, flags: number): { fd: number; name: string };
  tunSetPersist(fd: number, persist: boolean): void;
  /** TUNSETOFFLOAD with TUN_F_* flags; throws EINVAL for flags the kernel does not know. */
  tunSetOffload(fd: number, flags: number): void;
  socket(domain: number, type: number, protocol: number): number;
  close(fd: number): void;
  /** addr: IPv4 address as a host-order u32. */
  bindInet(fd: number, addr: number, port: number): void;
  /** The local port of an IPv4 socket (getsockname): the one the kernel picked after a bind to port 0. */
  sockPort(fd: number): number;
  /** Binds an AF_NETLINK socket; returns its port id. */
  bindNetlink(fd: number, groups: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array): void;
  /** read() until EAGAIN or max packets; packet i at buf[i*slot+headroom]. */
  readBatch(fd: number, buf: Uint8Array, slot: number, headroom: number, max: number, sizes: Uint32Array): number;
  /** write() spans first..first+count-1; returns how many went out (stops at EAGAIN). */
  writeBatch(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, first?: number): number;
  /**
   * recvmmsg(MSG_DONTWAIT | flags); addrs gets [addr, port] per packet;
   * segs (for a UDP_GRO socket) the datagram size of each buffer, 0 for one datagram.
   */
  recvBatch(
    fd: number, buf: Uint8Array, slot: number, headroom: number, max: number,
    sizes: Uint32Array, addrs: Uint32Array | null, flags: number, segs?: Uint32Array | null,
  ): number;
  /** sendmmsg of spans first..first+count-1; addrs gives [addr, port] per packet, null when connected. */
  sendBatch(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, addrs: Uint32Array | null, count: number, first?: number): number;
  /** addr: 16 bytes of an IPv6 address. */
  bindInet6(fd: number, addr: Uint8Array, port: number): void;
  /**
   * recvmmsg on an IPv6 socket: packet i at buf[i*slot+headroom], and in meta[35*i] its source (16 bytes),
   * destination (16, from IPV6_PKTINFO), hop limit (1, from IPV6_HOPLIMIT; 0 when absent) and source port (2, big-endian).
   */
  recvBatch6(fd: number, buf: Uint8Array, slot: number, headroom: number, max: number, sizes: Uint32Array, meta: Uint8Array, segs?: Uint32Array | null): number;
  /** sendmmsg of spans first..first+count-1, span i to dsts[16i] (port ports[i] on a UDP socket) with hop limit hops[i] (0: the socket's). */
  sendBatch6(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, dsts: Uint8Array, hops: Uint8Array, count: number, first: number, ports?: Uint32Array): number;
  /**
   * UDP GSO: spans first..first+count-1 (all `segment` bytes but the last) as `count` datagrams to addr:port in one sendmsg
   * (addr: an IPv4 address as a number, or 16 bytes of an IPv6 one on an AF_INET6 socket). Returns count, or 0 on EAGAIN.
   */
  sendSegments(fd: number, buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, first: number, count: number, addr: number | Uint8Array, port: number, segment: number): number;
  /**
   * The Internet checksum's partial sum of buf[start, end) as big-endian
   * 16-bit words, plus `initial`, folded to 16 bits (not complemented).
   * A compute function of the addon: see bench/checksum.ts.
   */
  checksumSum(buf: Uint8Array, start: number, end: number, initial: number): number;
  /**
   * For packets i in [first, first+count), each buf[offsets[i], +lengths[i]): results[i] = 1 when it is an IPv4 or
   * IPv6 packet carrying TCP (`protocols` bit 0) or UDP (bit 1), as IPv6's first next header, whose checksum verifies,
   * pseudo-header included; else 0, with nothing summed for a protocol not asked for.
   */
  l4ChecksumsVerify(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, first: number, count: number, results: Uint8Array, protocols: number): void;
  /**
   * The per-segment half of splitting a TUN super-packet (src/tun/gso-split.ts checks the headers first): segments
   * firstSegment.. of the headers at raw[pkt, +hdrLen) (IP header ihl bytes) and `payload` bytes after them, cut every
   * gsoSize, each finished as its own packet (lengths, IP id, TCP sequence and flags, checksums) into out's slots
   * firstSlot..slots-1 (slot s at s*slotSize + headroom; offsets[s], sizes[s] set). kind: bit 0 IPv6, bit 1 TCP.
   * Returns how many segments it wrote: fewer than remain when the slots ran out.
   */
  gsoSplitSegments(
    raw: Uint8Array, pkt: number, hdrLen: number, ihl: number, payload: number, gsoSize: number, kind: number, firstSegment: number,
    out: Uint8Array, slotSize: number, headroom: number, firstSlot: number, slots: number, offsets: Uint32Array, sizes: Uint32Array,
  ): number;
  /** Blocking poll() on up to 31 fds: bit i set when fds[i] is readable (or failed); 0 after timeoutMs. Blocks the calling thread. */
  waitReadable(fds: Int32Array, timeoutMs: number): number;
  /** sched_yield(2): lets a task woken on this CPU run now (between polls that do not sleep). */
  schedYield(): void;
  Poller: new (fd: number, callback: (status: number, events: number) => void) => NativePoller;
  openPath(path: string, flags: number, mode?: number): number;
  setns(fd: number, nstype: number): void;
  unshare(flags: number): void;
  mount(source: string, target: string, fstype: string, flags: number): void;
  umount2(target: string, flags: number): void;
}

/** Linux constants used with the addon (x86_64 / generic values). */
export const C = {
  AF_INET: 2,
  AF_INET6: 10,
  IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58,
  /** IPv6 socket options (<linux/in6.h>). */
  IPV6_RECVPKTINFO: 49,
  IPV6_RECVHOPLIMIT: 51,
  IPV6_UNICAST_HOPS: 16,
  IPV6_V6ONLY: 26,
  IPV6_MTU_DISCOVER: 23,
  IPV6_PMTUDISC_DONT: 0,
  ICMP6_FILTER: 1,
  AF_NETLINK: 16,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0o4000,
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_UDP: 17,
  SOL_UDP: 17,
  UDP_GRO: 104,
  NETLINK_ROUTE: 0,
  SOL_SOCKET: 1,
  SO_MARK: 36,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_RCVTIMEO: 20,
  SO_BINDTODEVICE: 25,
  SO_SNDBUFFORCE: 32,
  SO_RCVBUFFORCE: 33,
  IP_TTL: 2,
  IP_MTU_DISCOVER: 10,
  IP_PMTUDISC_DONT: 0,
  SOL_NETLINK: 270,
  NETLINK_CAP_ACK: 10,
  NETLINK_EXT_ACK: 11,
  IFF_TUN: 0x0001,
  IFF_NO_PI: 0x1000,
  IFF_VNET_HDR: 0x4000,
  TUN_F_CSUM: 0x01,
  TUN_F_TSO4: 0x02,
  TUN_F_TSO6: 0x04,
  TUN_F_USO4: 0x20,
  TUN_F_USO6: 0x40,
  POLL_READABLE: 1,
  CLONE_NEWNET: 0x40000000,
  O_RDONLY: 0,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  MS_BIND: 4096,
  MS_REC: 16384,
  MS_SHARED: 1 << 20,
  MNT_DETACH: 2,
} as const;

/**
 * The addon binary, found the ecosystem's way (node-gyp-build): a source
 * build in build/Release when there is one (a checkout), else the prebuilt
 * binary for this platform that the package ships in prebuilds/ (an
 * install without a compiler).
 */
function loadAddon(): NativeAddon {
  // dist/src/native/addon.js -> the package root
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const require = createRequire(import.meta.url);
  try {
    return (require('node-gyp-build') as (dir: string) => NativeAddon)(root);
  } catch (err) {
    throw new Error(`the tun-driver native addon is neither built nor prebuilt for ${process.platform}-${process.arch}: run \`npm rebuild tun-driver\` (needs g++ and make) (${(err as Error).message.split('\n')[0]})`);
  }
}

export const native: NativeAddon = loadAddon();

export function isSystemError(err: unknown): err is SystemError {
  return err instanceof Error && typeof (err as SystemError).code === 'string' && typeof (err as SystemError).syscall === 'string';
}
