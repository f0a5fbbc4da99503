// An Overlay with a WireGuard key (node 10.244.1.0/24 and
// fd00:10:244:1::/64) and a WireGuard peer of its own (node 10.244.2.0/24
// and fd00:10:244:2::/64 at 198.51.100.2:9000), wired in
// memory with the handshake done: the peer seals packets as a real node
// would and feeds them to the overlay's network side. For the fuzz target
// and the tests of what the overlay does with decrypted packets.
import { RxBatch, SpanList } from '../src/io/batch.js';
import { Overlay, UdpNetwork } from '../src/overlay/overlay.js';
import { parseLeases } from '../src/subnet/leases.js';
import { parseCidr, parseIPv4 } from '../src/packet/addr.js';
import { parseCidr6 } from '../src/packet/addr6.js';
import { MemoryTun } from '../src/tun/memory-tun.js';
import { wireguardTransport } from '../src/backend/wireguard/transport.js';
import { paddedLength, WireGuard } from '../src/wireguard/device.js';
import { generatePrivateKey, keyPairOf, publicKeyOf } from '../src/wireguard/keys.js';
import { TRANSPORT_OVERHEAD } from '../src/wireguard/messages.js';

const A = (s: string): number => parseIPv4(s)!;
const NETWORK = parseCidr('10.244.0.0/16');
const NETWORK6 = parseCidr6('fd00:10:244::/48');

export interface WireGuardOverlayPair {
  overlay: Overlay;
  tun: MemoryTun;
  /** The peer's initiation and the keepalive that confirmed the session. */
  handshake: Uint8Array[];
  /** A transport message from the peer carrying `packet` (its padded length computed from packet.length). */
  seal(packet: Uint8Array): Uint8Array;
  /** Hands one datagram from the peer to the overlay. */
  feed(datagram: Uint8Array): void;
  /** What the overlay sent to the peer since the last clear (handshake answers). */
  toPeer: Uint8Array[];
}

export function wireguardOverlayPair(): WireGuardOverlayPair {
  const [mine, theirs] = [generatePrivateKey(), generatePrivateKey()];
  const leases = { network: '10.244.0.0/16', networkV6: 'fd00:10:244::/48', nodes: [
    { subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1', publicKey: publicKeyOf(mine) },
    { subnet: '10.244.2.0/24', subnetV6: 'fd00:10:244:2::/64', publicIp: '198.51.100.2', port: 9000, publicKey: publicKeyOf(theirs) },
  ] };
  const tun = new MemoryTun();
  const toPeer: Uint8Array[] = [];
  const net: UdpNetwork = {
    send: (spans, first, count) => {
      for (let k = first; k < first + count; k++) toPeer.push(spans.buf.slice(spans.offsets[k], spans.offsets[k] + spans.lengths[k]));
      return count;
    },
    startReading() {},
    stopReading() {},
    close() {},
  };
  const ipv6 = { network6: NETWORK6, subnet6: parseCidr6('fd00:10:244:1::/64') };
  const overlay = new Overlay(tun, net, { network: NETWORK, subnet: parseCidr('10.244.1.0/24'), ipv6, tunMtu: 1440, pathMtu: 1440, now: () => 0, transport: wireguardTransport({ privateKey: keyPairOf(mine).privateKey }) });
  overlay.setLeases(parseLeases(leases, NETWORK, 'test', NETWORK6));
  const fromPeer: Uint8Array[] = [];
  const peerWg = new WireGuard({ privateKey: keyPairOf(theirs).privateKey, pathMtu: 1440, send: (m) => {
    for (let k = 0; k < m.count; k++) fromPeer.push(m.buf.slice(m.offsets[k], m.offsets[k] + m.lengths[k]));
  } });
  const peer = peerWg.peer(publicKeyOf(mine), keyPairOf(mine).publicBytes, A('198.51.100.1'), 8285);
  const batch = new RxBatch(4, 65536);
  const feed = (d: Uint8Array): void => {
    batch.clear();
    batch.append(d.subarray(0, 65536), A('198.51.100.2'), 9000);
    overlay.fromNetwork(batch);
  };
  // The handshake: the peer initiates, the overlay answers, the peer confirms with a keepalive.
  peerWg.handshakeWith(peer);
  const initiation = fromPeer.shift()!;
  feed(initiation);
  const response = toPeer.shift()!;
  peerWg.receive(response.slice(), 0, response.length, A('198.51.100.1'), 8285);
  const keepalive = fromPeer.shift()!;
  feed(keepalive);
  const seal = (packet: Uint8Array): Uint8Array => {
    const kp = peerWg.sendingKeypair(peer, 1)!;
    const out = SpanList.copyOf([new Uint8Array(paddedLength(packet.length, 1440) + TRANSPORT_OVERHEAD)]);
    peerWg.sealRun(peer, kp, out, 0, 1, SpanList.copyOf([packet]), 0);
    return out.buf;
  };
  return { overlay, tun, handshake: [initiation, keepalive], seal, feed, toPeer };
}
