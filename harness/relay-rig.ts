// Drives a relay's two sides in unit tests and the fuzz: packets handed in
// as one batch from the TUN, or from the raw socket (whole IP packets,
// header included, as both families' sockets deliver them).
import { RxBatch } from '../src/io/batch.js';

export interface RelaySides {
  fromTun(batch: RxBatch): void;
  fromNetwork(batch: RxBatch): void;
}

/** `fromTun(...packets)` and `fromNet(...packets)`, each one batch. */
export function feedRelay(relay: RelaySides): { fromTun: (...packets: Uint8Array[]) => void; fromNet: (...packets: Uint8Array[]) => void } {
  const tunBatch = new RxBatch(64, 65536);
  const netBatch = new RxBatch(64, 65536);
  const feed = (batch: RxBatch, packets: Uint8Array[], side: (b: RxBatch) => void): void => {
    batch.clear();
    for (const p of packets) batch.append(p);
    side(batch);
  };
  return {
    fromTun: (...packets) => feed(tunBatch, packets, (b) => relay.fromTun(b)),
    fromNet: (...packets) => feed(netBatch, packets, (b) => relay.fromNetwork(b)),
  };
}
