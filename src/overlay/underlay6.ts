// The IPv6 underlay: nodes that both have an IPv6 public address talk over
// it (both inner families), everyone else over IPv4. The data plane keys
// peers by (IPv4 address, port) numbers everywhere (route table, WireGuard
// endpoints, batch address slots), so a peer reached over IPv6 gets a
// stand-in IPv4 address from 240.0.0.0/4, a block reserved by RFC 1112
// that no underlay uses, and the socket layer maps stand-ins to and from
// the 16-byte addresses at the edge. Nothing above the socket changes.
import { C, native } from '../native/addon.js';
import { RxBatch, Spans } from '../io/batch.js';
import { DatagramSocket, GRO_MAX_SEGMENTS, GRO_SLOT_BYTES, StandInAddresses } from '../io/datagram-socket.js';
import { PollLoop } from '../io/poll-loop.js';
import { bindToDevice, setBuffers } from '../io/socket-options.js';
import { TunDriverError } from '../errors.js';
import { formatIPv6, sameIPv6 } from '../packet/addr6.js';
import { isStandIn, STAND_IN_BASE } from './route-table.js';
import { OVERLAY_SOCKET_BUFFER } from './udp-socket.js';
import type { UdpNetwork } from './udp-network.js';

const STAND_IN_COUNT = 0x0fffffff;
/** What a datagram from an IPv6 address that is no known node's is given: no peer has it. */
export const UNKNOWN_V6_SENDER = 0xffffffff;

/** Stand-in IPv4 addresses for IPv6 underlay addresses: one per address, for the life of the daemon. */
export class Underlay6Endpoints implements StandInAddresses {
  private readonly byText = new Map<string, number>();
  private readonly addresses: Uint8Array[] = [];
  /** The last sender looked up and its stand-in: a batch nearly always comes from one node, so most lookups format nothing. */
  private readonly lastSender = new Uint8Array(16);
  private lastStandIn = -1;

  /** The stand-in for `address` (16 bytes), made on first use. */
  standIn(address: Uint8Array): number {
    const text = formatIPv6(address);
    let id = this.byText.get(text);
    if (id === undefined) {
      if (this.addresses.length >= STAND_IN_COUNT) throw new TunDriverError('TUN_ERR_USAGE', 'too many IPv6 underlay addresses');
      id = STAND_IN_BASE + this.addresses.length;
      this.addresses.push(Uint8Array.from(address));
      this.byText.set(text, id);
      this.lastStandIn = -1; // an unknown sender may just have become known
    }
    return id;
  }

  /** The stand-in of a known address at buf[off], or UNKNOWN_V6_SENDER (no new entry: senders do not grow the table). */
  lookup(buf: Uint8Array, off: number): number {
    if (this.lastStandIn >= 0 && sameIPv6(buf, off, this.lastSender)) return this.lastStandIn;
    const id = this.byText.get(formatIPv6(buf, off)) ?? UNKNOWN_V6_SENDER;
    this.lastSender.set(buf.subarray(off, off + 16));
    this.lastStandIn = id;
    return id;
  }

  /** The 16 bytes behind a stand-in, or undefined. */
  address(standIn: number): Uint8Array | undefined {
    return isStandIn(standIn) ? this.addresses[standIn - STAND_IN_BASE] : undefined;
  }
}

/** Where the IPv6 socket binds, and whether it offloads (as the IPv4 one). */
export interface Underlay6Options {
  address: Uint8Array;
  port: number;
  via?: string;
  /** UDP GSO on send and UDP GRO on receive. */
  offload?: boolean;
  /** Told once if the kernel refuses GSO on it. */
  onGsoOff?: (errnoName: string) => void;
}

/**
 * The overlay's network over both underlays: the IPv4 socket (GSO/GRO as
 * before) and an IPv6 UDP socket for stand-in destinations. Sends are
 * split into runs by family; each socket's reads reach the same handler.
 */
export class DualUnderlay implements UdpNetwork {
  private readonly v6: DatagramSocket;
  /** The IPv6 socket's own receive memory, shaped as the overlay's (a GRO read needs 64 KiB slots, 64 entries each). */
  private readonly batch6 = new RxBatch(32, GRO_SLOT_BYTES, 0, 32 * GRO_MAX_SEGMENTS);

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
    // The same socket layer as IPv4, UDP GSO and GRO included, with the stand-ins mapped at its edge.
    this.v6 = new DatagramSocket(fd, { gso: options.offload ?? false, ipv6: endpoints, onGsoOff: options.onGsoOff });
    if (options.offload) this.v6.enableGro();
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
