// Drives ICMP echo requests into a real TUN and collects the kernel's
// replies: shared by the vertical-slice test and the TUN benchmark.
// At most `window` requests are outstanding, because the TUN's transmit
// ring (txqueuelen 500) is shared with the kernel's own IPv6 chatter.
import { RxBatch, TxQueue } from '../src/io/batch.js';
import { IPv4View, IPPROTO } from '../src/packet/ipv4.js';
import { IcmpView, ICMP_TYPE, writeEchoPacket } from '../src/packet/icmp.js';
import { PacketDevice } from '../src/tun/device.js';

export interface RoundTripOptions {
  /** Requests to send (the loop's count bound). */
  count: number;
  /** Give up after this long (the loop's time bound). */
  timeoutMs: number;
  /** TUN address (replies come from it) and the peer address we pretend to be. */
  tunAddress: number;
  peerAddress: number;
  /** Packets per read and per write (1 = one packet per syscall and event). */
  batchSize: number;
  window?: number;
  payloadSize?: number;
  /** Keep each reply's payload, by sequence number (for integrity checks). */
  keepPayloads?: boolean;
}

export interface RoundTripResult {
  sent: number;
  received: number;
  elapsedMs: number;
  /** Replies whose source, destination, identifier or payload were wrong. */
  mismatched: number;
  payloads: Map<number, Uint8Array>;
}

const SLOT = 2048;
const ECHO_ID = 0x4242;

/** The payload of request `seq`: its low byte repeated, so replies can be checked. */
export const payloadFor = (seq: number, size: number): Uint8Array => new Uint8Array(size).fill(seq & 0xff);

export function echoRoundTrip(tun: PacketDevice, o: RoundTripOptions): Promise<RoundTripResult> {
  const window = o.window ?? 256;
  const payloadSize = o.payloadSize ?? 56;
  const rx = new RxBatch(o.batchSize, SLOT);
  const tx = new TxQueue(o.batchSize, SLOT);
  const ip = new IPv4View();
  const icmp = new IcmpView();
  const payloads = new Map<number, Uint8Array>();
  const template = new Uint8Array(SLOT);
  const payloadBySeqByte = Array.from({ length: 256 }, (_, b) => payloadFor(b, payloadSize));
  let sent = 0;
  let received = 0;
  let mismatched = 0;
  const start = performance.now();

  const sendMore = (): void => {
    while (sent < o.count && sent - received - mismatched < window) {
      tx.clear();
      while (tx.count < tx.capacity && sent < o.count && sent - received - mismatched < window) {
        const len = writeEchoPacket(template, 0, { type: ICMP_TYPE.ECHO_REQUEST, src: o.peerAddress, dst: o.tunAddress, id: ECHO_ID, seq: sent & 0xffff, payload: payloadBySeqByte[sent & 0xff] });
        tx.push(template.subarray(0, len));
        sent++;
      }
      const { failed } = tun.writeBatch(tx);
      if (failed) throw new Error(`the TUN refused ${failed} echo requests`);
    }
  };

  return new Promise((resolve, reject) => {
    const finish = (): void => {
      clearTimeout(timer);
      tun.stopReading();
      resolve({ sent, received, mismatched, elapsedMs: performance.now() - start, payloads });
    };
    const timer = setTimeout(finish, o.timeoutMs);
    tun.startReading(rx, (batch) => {
      for (let i = 0; i < batch.count; i++) {
        ip.attach(batch.buf, batch.offset(i), batch.sizes[i]);
        if (ip.check() !== undefined || ip.protocol !== IPPROTO.ICMP) continue; // IPv6 router solicitations etc.
        icmp.attach(batch.buf, ip.payloadOffset, ip.payloadLength);
        if (icmp.check() !== undefined || icmp.type !== ICMP_TYPE.ECHO_REPLY) continue;
        const ok = ip.src === o.tunAddress && ip.dst === o.peerAddress && icmp.id === ECHO_ID && icmp.length === 8 + payloadSize;
        if (!ok) {
          mismatched++;
          continue;
        }
        received++;
        if (o.keepPayloads) payloads.set(icmp.seq, batch.buf.slice(icmp.dataOffset, icmp.off + icmp.length));
      }
      if (received + mismatched >= o.count) return finish();
      try {
        sendMore();
      } catch (err) {
        clearTimeout(timer);
        tun.stopReading();
        reject(err);
      }
    }, reject);
    sendMore();
  });
}
