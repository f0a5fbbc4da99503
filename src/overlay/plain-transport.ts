// The udp backend's transport (flannel's wire format): a packet travels as
// the whole payload of one UDP datagram, and a datagram is from the peer
// whose endpoint sent it.
import type { RxBatch, Spans } from '../io/batch.js';
import type { Lease } from '../subnet/leases.js';
import type { PeerTransport, TransportContext } from './peer-transport.js';
import type { Peer } from './route-table.js';

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

/**
 * Which peer sent datagram i, by its endpoint (counted `unknown-peer` when
 * none). A batch nearly always comes from one node: the sender is looked up
 * once per change (the endpoint key is not a small integer, so a Map lookup
 * per packet would box it).
 */
export class SenderCache {
  private lastAddr = -1;
  private lastPort = -1;
  private lastPeer?: Peer;

  sender(ctx: TransportContext, batch: RxBatch, i: number): Peer | undefined {
    const addr = batch.addrs[2 * i];
    const port = batch.addrs[2 * i + 1];
    if (addr !== this.lastAddr || port !== this.lastPort) {
      this.lastAddr = addr;
      this.lastPort = port;
      this.lastPeer = ctx.routes().fromEndpoint(addr, port);
    }
    if (!this.lastPeer) ctx.counters.drop('unknown-peer');
    return this.lastPeer;
  }

  clear(): void {
    this.lastAddr = -1;
    this.lastPeer = undefined;
  }
}

export const plainTransport = (ctx: TransportContext): PeerTransport => new PlainTransport(ctx);
