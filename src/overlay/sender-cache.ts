// Which peer sent a datagram, by its endpoint: the udp backend's way to
// tell (its datagrams carry nothing else), and WireGuard's for a datagram
// before its receiver index is known.
import type { RxBatch } from '../io/batch.js';
import type { TransportContext } from './peer-transport.js';
import type { Peer } from './route-table.js';

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
