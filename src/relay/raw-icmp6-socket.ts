// The Linux network side of the IPv6 relay: one raw IPPROTO_ICMPV6 socket
// (raw for the reason raw-icmp-socket.ts gives for IPv4). Differences from
// IPv4 that shape this file: the kernel hands over the ICMPv6 message
// without the IPv6 header, so destination and hop limit come as control
// messages (IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT) and the header is written
// back in front of the message, in the batch slot's headroom; the kernel
// computes the ICMPv6 checksum of what is sent; the hop limit travels per
// message, not as a socket option.
import { C, isSystemError, native } from '../native/addon.js';
import { isPermissionErrno, PERMISSION_HINT, TunDriverError } from '../errors.js';
import { RxBatch } from '../io/batch.js';
import { ReadableFd } from '../io/readable-fd.js';
import { sendEachOrRefuse } from '../io/datagram-socket.js';
import { bindToDevice, setBuffers } from '../io/socket-options.js';
import { formatIPv6 } from '../packet/addr6.js';
import { IPV6, NEXT_HEADER, writeIPv6Header } from '../packet/ipv6.js';
import { ICMP6_TYPE } from '../packet/icmp6.js';
import { Icmp6Network } from './network6.js';
import { Span6List } from '../io/batch.js';

/** What recvBatch6 reports per packet: source, destination, hop limit, source port. */
const META_BYTES = 35;

/** How a {@link RawIcmp6Socket} is set up. */
export interface RawIcmp6Options {
  /** Source address for outgoing requests (bind). */
  bind?: Uint8Array;
  /** Leave through this interface only (SO_BINDTODEVICE). */
  via?: string;
  receiveBufferBytes?: number;
}

/** The ICMP6_FILTER value that passes only echo replies and the errors that can concern a request (bit set = blocked). */
function icmp6Filter(): Uint8Array {
  const words = new Uint32Array(8).fill(0xffffffff);
  for (const type of [ICMP6_TYPE.DEST_UNREACH, ICMP6_TYPE.PACKET_TOO_BIG, ICMP6_TYPE.TIME_EXCEEDED, ICMP6_TYPE.PARAM_PROBLEM, ICMP6_TYPE.ECHO_REPLY]) {
    words[type >>> 5] &= ~(1 << (type & 31));
  }
  return new Uint8Array(words.buffer);
}

/** A raw ICMPv6 socket driven in batches; see the file comment for what it does differently from IPv4. */
export class RawIcmp6Socket extends ReadableFd implements Icmp6Network {
  private meta = new Uint8Array(0);

  /**
   * Opens and sets up the socket.
   * @throws TunDriverError `TUN_ERR_PERMISSION` without CAP_NET_RAW; `TUN_ERR_USAGE` for a bad --bind or --via.
   */
  static open(options: RawIcmp6Options = {}): RawIcmp6Socket {
    let fd: number;
    try {
      fd = native.socket(C.AF_INET6, C.SOCK_RAW | C.SOCK_NONBLOCK, C.IPPROTO_ICMPV6);
    } catch (err) {
      const code = isSystemError(err) ? err.code : undefined;
      if (isPermissionErrno(code)) throw new TunDriverError('TUN_ERR_PERMISSION', `cannot open a raw ICMPv6 socket: ${PERMISSION_HINT.replace('CAP_NET_ADMIN', 'CAP_NET_ADMIN and CAP_NET_RAW')}`, { cause: err, errnoName: code });
      throw err;
    }
    try {
      setBuffers(fd, options.receiveBufferBytes ?? 4 << 20);
      native.setsockoptBytes(fd, C.IPPROTO_ICMPV6, C.ICMP6_FILTER, icmp6Filter());
      native.setsockoptInt(fd, C.IPPROTO_IPV6, C.IPV6_RECVPKTINFO, 1);
      native.setsockoptInt(fd, C.IPPROTO_IPV6, C.IPV6_RECVHOPLIMIT, 1);
      if (options.via) bindToDevice(fd, options.via);
      if (options.bind) {
        try {
          native.bindInet6(fd, options.bind, 0);
        } catch (err) {
          throw new TunDriverError('TUN_ERR_USAGE', `--bind ${formatIPv6(options.bind)}: not an address of this host (${(err as Error).message})`, { cause: err });
        }
      }
    } catch (err) {
      native.close(fd);
      throw err;
    }
    return new RawIcmp6Socket(fd);
  }

  send(spans: Span6List, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    return sendEachOrRefuse(first, count, (at, n) => native.sendBatch6(this.fd, spans.buf, spans.offsets, spans.lengths, spans.dsts, spans.hops, n, at), onRefused);
  }

  /** One recvmmsg, then the IPv6 header of each message written into its slot's headroom. */
  protected readBatch(b: RxBatch): number {
    if (b.headroom < IPV6.HEADER) throw new RangeError('an ICMPv6 batch needs 40 bytes of headroom for the IPv6 header');
    if (this.meta.length < b.slots * META_BYTES) this.meta = new Uint8Array(b.slots * META_BYTES);
    const meta = this.meta;
    const n = native.recvBatch6(this.fd, b.buf, b.slotSize, b.headroom, b.slots, b.sizes, meta);
    for (let i = 0; i < n; i++) {
      const start = b.slotOffset(i) - IPV6.HEADER;
      const m = i * META_BYTES;
      writeIPv6Header(b.buf, start, {
        src: meta.subarray(m, m + 16),
        dst: meta.subarray(m + 16, m + 32),
        nextHeader: NEXT_HEADER.ICMPV6,
        payloadLength: b.sizes[i],
        hopLimit: meta[m + 32],
      });
      b.offsets[i] = start;
      b.sizes[i] += IPV6.HEADER;
    }
    return n;
  }
}

