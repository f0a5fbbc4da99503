// The udp backend's transport (flannel's wire format): a packet travels as
// the whole payload of one UDP datagram, and a datagram is from the peer
// whose endpoint sent it. The overlay's engine (src/overlay/overlay.ts)
// runs with this transport or WireGuard's (../wireguard/transport.ts).
import type { RxBatch, Spans } from '../../io/batch.js';
import type { Lease } from '../../subnet/leases.js';
import type { PeerTransport, TransportContext } from '../../overlay/peer-transport.js';
import type { Peer } from '../../overlay/route-table.js';
import { SenderCache } from '../../overlay/sender-cache.js';

export class PlainTransport implements PeerTransport {
  rxOff = 0;
  rxSize = 0;
  private readonly senders = new SenderCache();

  constructor(private readonly ctx: TransportContext) {}

  admit(leases: readonly Lease[]): { keep: readonly Lease[]; refused: readonly string[]; deltaHolds: boolean } {
    return { keep: leases, refused: [], deltaHolds: true };
  }

  peersChanged(): void {}

  start(): void {}

  stop(): void {}

  tick(): void {}

  send(spans: Spans): void {
    this.ctx.counters.sent += this.ctx.net.send(spans, 0, spans.count, this.onRefused);
  }

  private readonly onRefused = (): void => this.ctx.counters.drop('send-failed');

  beginBatch(): void {
    this.senders.clear();
  }

  receive(batch: RxBatch, i: number): Peer | undefined {
    const peer = this.senders.sender(this.ctx, batch, i);
    if (!peer) return undefined;
    this.rxOff = batch.offset(i);
    this.rxSize = batch.sizes[i];
    return peer;
  }

  endBatch(): void {
    // A peer that leaves between batches is not kept alive by the cache.
    this.senders.clear();
  }
}

export const plainTransport = (ctx: TransportContext): PeerTransport => new PlainTransport(ctx);
