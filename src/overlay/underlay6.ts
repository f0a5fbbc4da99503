// The IPv6 underlay: nodes that both have an IPv6 public address talk over
// it (both inner families), everyone else over IPv4. The data plane keys
// peers by (IPv4 address, port) numbers everywhere (route table, WireGuard
// endpoints, batch address slots), so a peer reached over IPv6 gets a
// stand-in IPv4 address from 240.0.0.0/4, a block reserved by RFC 1112
// that no underlay uses, and the socket layer maps stand-ins to and from
// the 16-byte addresses at the edge. Nothing above the socket changes.
import { C, isSystemError, native } from '../native/addon.js';
import { RxBatch, Spans } from '../io/batch.js';
import { DatagramSocket } from '../io/datagram-socket.js';
import { ReadableFd } from '../io/readable-fd.js';
import { PollLoop } from '../io/poll-loop.js';
import { bindToDevice, setBuffers } from '../io/socket-options.js';
import { TunDriverError } from '../errors.js';
import { formatIPv6 } from '../packet/addr6.js';
import { Span6List } from '../relay/network6.js';
import { OVERLAY_SOCKET_BUFFER } from './udp-socket.js';
import type { UdpNetwork } from './overlay.js';

const STAND_IN_BASE = 0xf0000000;
const STAND_IN_COUNT = 0x0fffffff;
/** What a datagram from an IPv6 address that is no known node's is given: no peer has it. */
export const UNKNOWN_V6_SENDER = 0xffffffff;

/** Whether an address is a stand-in for a peer reached over IPv6. */
export const isStandIn = (addr: number): boolean => addr >= STAND_IN_BASE;

/** Stand-in IPv4 addresses for IPv6 underlay addresses: one per address, for the life of the daemon. */
export class Underlay6Endpoints {
  private readonly byText = new Map<string, number>();
  private readonly addresses: Uint8Array[] = [];

  /** The stand-in for `address` (16 bytes), made on first use. */
  standIn(address: Uint8Array): number {
    const text = formatIPv6(address);
    let id = this.byText.get(text);
    if (id === undefined) {
      if (this.addresses.length >= STAND_IN_COUNT) throw new TunDriverError('TUN_ERR_USAGE', 'too many IPv6 underlay addresses');
      id = STAND_IN_BASE + this.addresses.length;
      this.addresses.push(Uint8Array.from(address));
      this.byText.set(text, id);
    }
    return id;
  }

  /** The stand-in of a known address at buf[off], or UNKNOWN_V6_SENDER (no new entry: senders do not grow the table). */
  lookup(buf: Uint8Array, off: number): number {
    return this.byText.get(formatIPv6(buf, off)) ?? UNKNOWN_V6_SENDER;
  }

  /** The 16 bytes behind a stand-in, or undefined. */
  address(standIn: number): Uint8Array | undefined {
    return isStandIn(standIn) ? this.addresses[standIn - STAND_IN_BASE] : undefined;
  }

  /** "[2001:db8::1]" for a stand-in, for logs and status. */
  text(standIn: number): string | undefined {
    const a = this.address(standIn);
    return a && `[${formatIPv6(a)}]`;
  }
}

/** Where the IPv6 socket binds. */
export interface Underlay6Options {
  address: Uint8Array;
  port: number;
  via?: string;
}

const META_BYTES = 35;
const SLOTS = 32;

/** The IPv6 UDP socket: sends to stand-ins' addresses, and reads each sender's address as its stand-in. */
class Udp6Socket extends ReadableFd {
  private readonly spans6 = new Span6List(1024);
  private readonly ports6 = new Uint32Array(1024);
  private readonly index6 = new Uint32Array(1024);
  private readonly meta = new Uint8Array(SLOTS * META_BYTES);

  constructor(fd: number, private readonly endpoints: Underlay6Endpoints) {
    super(fd);
  }

  /** Spans [first, first+count) to their stand-ins' IPv6 addresses, in chunks of the staging lists. */
  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    let sent = 0;
    for (let at = first; at < first + count; ) {
      const list = this.spans6;
      list.reset(spans.buf);
      while (at < first + count && !list.full) {
        const addr = this.endpoints.address(spans.addrs[2 * at]);
        if (!addr) {
          onRefused(at++, 'EADDRNOTAVAIL');
          continue;
        }
        this.ports6[list.count] = spans.addrs[2 * at + 1];
        this.index6[list.count] = at;
        list.add(spans.offsets[at], spans.lengths[at], addr, 0, 0);
        at++;
      }
      let done = 0;
      while (done < list.count) {
        let n: number;
        try {
          n = native.sendBatch6(this.fd, list.buf, list.offsets, list.lengths, list.dsts, list.hops, list.count - done, done, this.ports6);
        } catch (err) {
          onRefused(this.index6[done++], isSystemError(err) ? err.code : 'EIO');
          continue;
        }
        if (n === 0) {
          for (; done < list.count; done++) onRefused(this.index6[done], 'EAGAIN');
          break;
        }
        sent += n;
        done += n;
      }
    }
    return sent;
  }

  /** One recvmmsg; each sender's address becomes its stand-in in the batch's address slots. */
  protected readBatch(b: RxBatch): number {
    const n = native.recvBatch6(this.fd, b.buf, b.slotSize, b.headroom, b.slots, b.sizes, this.meta);
    for (let i = 0; i < n; i++) {
      const m = i * META_BYTES;
      b.addrs[2 * i] = this.endpoints.lookup(this.meta, m);
      b.addrs[2 * i + 1] = (this.meta[m + 33] << 8) | this.meta[m + 34];
    }
    return b.setSlotEntries(n);
  }
}

/**
 * The overlay's network over both underlays: the IPv4 socket (GSO/GRO as
 * before) and an IPv6 UDP socket for stand-in destinations. Sends are
 * split into runs by family; each socket's reads reach the same handler.
 */
export class DualUnderlay implements UdpNetwork {
  private readonly v6: Udp6Socket;
  private readonly batch6 = new RxBatch(SLOTS, 65536);

  /**
   * Opens the IPv6 socket beside `v4` (which it takes over: close() closes both).
   * @throws TunDriverError `TUN_ERR_USAGE` when the address is not this host's or the port is taken.
   */
  constructor(readonly v4: DatagramSocket, readonly endpoints: Underlay6Endpoints, options: Underlay6Options) {
    const fd = native.socket(C.AF_INET6, C.SOCK_DGRAM | C.SOCK_NONBLOCK, C.IPPROTO_UDP);
    try {
      setBuffers(fd, OVERLAY_SOCKET_BUFFER);
      native.setsockoptInt(fd, C.IPPROTO_IPV6, C.IPV6_V6ONLY, 1);
      // As for IPv4: let the kernel fragment a datagram should a smaller MTU lie on the path.
      native.setsockoptInt(fd, C.IPPROTO_IPV6, C.IPV6_MTU_DISCOVER, C.IPV6_PMTUDISC_DONT);
      if (options.via) bindToDevice(fd, options.via);
      try {
        native.bindInet6(fd, options.address, options.port);
      } catch (err) {
        throw new TunDriverError('TUN_ERR_USAGE', `--public-ipv6 ${formatIPv6(options.address)}: not an address of this host, or port ${options.port} is taken (${(err as Error).message})`, { cause: err });
      }
    } catch (err) {
      native.close(fd);
      throw err;
    }
    this.v6 = new Udp6Socket(fd, endpoints);
  }

  send(spans: Spans, first: number, count: number, onRefused: (index: number, errnoName: string) => void): number {
    const end = first + count;
    let sent = 0;
    let i = first;
    while (i < end) {
      let j = i + 1;
      const six = isStandIn(spans.addrs[2 * i]);
      while (j < end && isStandIn(spans.addrs[2 * j]) === six) j++;
      sent += (six ? this.v6 : this.v4).send(spans, i, j - i, onRefused);
      i = j;
    }
    return sent;
  }

  startReading(batch: RxBatch, onBatch: (batch: RxBatch) => void, onError: (err: Error) => void, loop?: PollLoop): void {
    this.v4.startReading(batch, onBatch, onError, loop);
    this.v6.startReading(this.batch6, onBatch, onError, loop);
  }

  stopReading(): void {
    this.v4.stopReading();
    this.v6.stopReading();
  }

  close(): void {
    this.v6.close();
    this.v4.close();
  }
}
