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
  // A batch nearly always comes from one node: the sender is looked up once
  // per change (the endpoint key is not a small integer, so a Map lookup per
  // packet would box it).
  private lastAddr = -1;
  private lastPort = -1;
  private lastPeer?: Peer;

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
    this.lastAddr = -1;
  }

  receive(batch: RxBatch, i: number): Peer | undefined {
    const addr = batch.addrs[2 * i];
    const port = batch.addrs[2 * i + 1];
    if (addr !== this.lastAddr || port !== this.lastPort) {
      this.lastAddr = addr;
      this.lastPort = port;
      this.lastPeer = this.ctx.routes().fromEndpoint(addr, port);
    }
    const peer = this.lastPeer;
    if (!peer) {
      this.ctx.counters.drop('unknown-peer');
      return undefined;
    }
    this.rxOff = batch.offset(i);
    this.rxSize = batch.sizes[i];
    return peer;
  }

  endBatch(): void {
    // A peer that leaves between batches is not kept alive by the cache.
    this.lastPeer = undefined;
    this.lastAddr = -1;
  }
}

export const plainTransport = (ctx: TransportContext): PeerTransport => new PlainTransport(ctx);
