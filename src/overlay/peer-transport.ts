// The seam between the overlay's data plane and what carries its packets
// between nodes: plain UDP datagrams (the udp backend, src/backend/udp/)
// or WireGuard messages (src/backend/wireguard/). The overlay routes packets
// to peers and checks what comes back; the transport decides which leases may
// be peers, how a run of packets leaves for them, and which peer a datagram
// comes from (opening it, when it is sealed).
import type { RxBatch, Spans } from '../io/batch.js';
import type { Lease } from '../subnet/leases.js';
import type { OverlayCounters } from './counters.js';
import type { PeerChanges } from './lease-peers.js';
import type { Peer } from './route-table.js';
import type { UdpNetwork } from './udp-network.js';

/** What a transport gets from the overlay that owns it. */
export interface TransportContext {
  readonly net: UdpNetwork;
  readonly counters: OverlayCounters;
  /** The largest inner packet one datagram carries. */
  readonly pathMtu: number;
  /** The route table now: peers by endpoint. */
  routes(): PeerDirectory;
  /** A line for the log (a refused lease, a completed handshake). */
  log?: (line: string) => void;
}

/** What a transport reads of the overlay's route table: its peers, and the one at an endpoint. */
export interface PeerDirectory {
  readonly peers: readonly Peer[];
  /** The peer whose endpoint is addr:port (IPv4 or an IPv6 endpoint's stand-in). */
  fromEndpoint(addr: number, port: number): Peer | undefined;
}

/** Builds a transport for one overlay. */
export type TransportFactory = (ctx: TransportContext) => PeerTransport;

/**
 * What carries the overlay's packets between nodes (one per overlay): which
 * leases may be peers, how runs of packets leave, and which peer each
 * datagram comes from. Bad or foreign datagrams are counted, never thrown.
 */
export interface PeerTransport {
  /**
   * Which of `leases` may become peers (`isOwn` names this node's own);
   * each refused one with a line for the log. `deltaHolds`: whether a
   * control plane's delta still describes the change (false when the
   * choice depends on every lease, as a key named twice does).
   */
  admit(leases: readonly Lease[], isOwn: (l: Lease) => boolean): { keep: readonly Lease[]; refused: readonly string[]; deltaHolds: boolean };
  /** The route table gained and lost these peers. */
  peersChanged(changes: PeerChanges): void;
  /** The overlay started reading. */
  start(): void;
  /** The overlay stopped. */
  stop(): void;
  /** Timers (WireGuard's): start() runs them every 100 ms; tests call them on their own clock. */
  tick(): void;
  /** Sends spans[0, count), each to its peer's endpoint; what left is added to counters.sent, refusals are counted. */
  send(spans: Spans): void;
  /** Before the datagrams of `batch` are taken one by one (WireGuard opens them ahead). */
  beginBatch(batch: RxBatch): void;
  /**
   * Datagram i of the batch: the peer it comes from, its inner packet then
   * at `rxOff` for `rxSize` bytes; undefined when the transport consumed it
   * (a handshake) or refused it (counted in counters).
   */
  receive(batch: RxBatch, i: number): Peer | undefined;
  readonly rxOff: number;
  readonly rxSize: number;
  /** After the batch: nothing of it is held on to. */
  endBatch(batch: RxBatch): void;
}
