// The udp backend's transport (flannel's wire format): a packet travels as
// the whole payload of one UDP datagram, and a datagram is from the peer
// whose endpoint sent it. The overlay's engine (src/overlay/overlay.ts)
// runs with this transport or WireGuard's (../wireguard/transport.ts).
import type { RxBatch, Spans } from '../../io/batch.js';
import type { Lease } from '../../subnet/leases.js';
import type { PeerTransport, TransportContext } from '../../overlay/peer-transport.js';
import type { Peer } from '../../overlay/route-table.js';
import { SenderCache } from '../../overlay/sender-cache.js';

/** The udp backend's {@link PeerTransport}: every lease is a peer; a datagram is one whole IP packet from the peer at its endpoint. */
export class PlainTransport implements PeerTransport {
  /** Where the packet of the datagram last received starts, and its size. */
  rxOff = 0;
  rxSize = 0;
  private readonly senders = new SenderCache();

  /** `ctx`: the engine's socket, counters and route table. */
  constructor(private readonly ctx: TransportContext) {}

  /** Every lease may be a peer: the udp backend needs nothing of a lease beyond its endpoint. */
  admit(leases: readonly Lease[]): { keep: readonly Lease[]; refused: readonly string[]; deltaHolds: boolean } {
    return { keep: leases, refused: [], deltaHolds: true };
  }

  /** Nothing to do: no per-peer state. */
  peersChanged(): void {}

  /** Nothing to start: no timers. */
  start(): void {}

  /** Nothing to stop. */
  stop(): void {}

  /** Nothing to time. */
  tick(): void {}

  /** Sends each span as one datagram to its peer's endpoint; a refused send is counted `send-failed`. */
  send(spans: Spans): void {
    this.ctx.counters.sent += this.ctx.net.send(spans, 0, spans.count, this.onRefused);
  }

  private readonly onRefused = (): void => this.ctx.counters.drop('send-failed');

  /** A received batch starts: the sender cache starts empty. */
  beginBatch(): void {
    this.senders.clear();
  }

  /** The peer at datagram i's endpoint (undefined, counted `unknown-peer`, when none); the packet is the whole datagram. */
  receive(batch: RxBatch, i: number): Peer | undefined {
    const peer = this.senders.sender(this.ctx, batch, i);
    if (!peer) return undefined;
    this.rxOff = batch.offset(i);
    this.rxSize = batch.sizes[i];
    return peer;
  }

  /** The batch is done. */
  endBatch(): void {
    // A peer that leaves between batches is not kept alive by the cache.
    this.senders.clear();
  }
}

/** The udp backend's transport factory, for `OverlayOptions.transport`. */
export const plainTransport = (ctx: TransportContext): PeerTransport => new PlainTransport(ctx);
