// The authenticated overlay's pieces: keys, the replay window, the AEAD
// (native against node:crypto), and two keyed Overlay engines on the
// in-memory TUN: sealed both ways, tampering, replays, restarts, keyless peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch, Spans } from '../io/batch.js';
import { MemoryTun } from '../tun/memory-tun.js';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { IPPROTO, writeIPv4Header } from '../packet/ipv4.js';
import { Overlay, UdpNetwork } from '../overlay/overlay.js';
import { parseLeases } from '../overlay/leases.js';
import { nativeAead, nodeAead } from './aead.js';
import { generatePrivateKey, keyPairOf, publicKeyOf, sharedSecret } from './keys.js';
import { REPLAY_WINDOW, ReplayWindow } from './replay-window.js';
import { NodeCrypto, OPEN_REPLAYED, OPEN_UNAUTHENTICATED, PeerSession } from './peer-session.js';
import { SEALED_OVERHEAD, writeSealedHeader } from './sealed-datagram.js';

const A = (s: string): number => parseIPv4(s)!;
const NETWORK = parseCidr('10.244.0.0/16');

test('keys: base64 X25519 as WireGuard writes them; both sides derive one secret; bad keys named', () => {
  const a = generatePrivateKey();
  const b = generatePrivateKey();
  assert.match(a, /^[A-Za-z0-9+/]{43}=$/);
  // RFC 7748 section 6.1's test vector.
  assert.equal(publicKeyOf(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64')), Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64'));
  assert.deepEqual(sharedSecret(keyPairOf(a).privateKey, publicKeyOf(b)), sharedSecret(keyPairOf(b).privateKey, publicKeyOf(a)));
  assert.throws(() => keyPairOf('not a key'), (e: Error & { code?: string }) => e.code === 'TUN_ERR_USAGE' && /44 characters of base64/.test(e.message));
  assert.throws(() => sharedSecret(keyPairOf(a).privateKey, Buffer.alloc(32).toString('base64')), /low-order point/);
});

test('replay window: new counters pass once; old ones within 2016 are looked up, beyond are refused; check never moves it', () => {
  const w = new ReplayWindow();
  assert.ok(w.check(0));
  w.mark(0);
  assert.ok(!w.check(0));
  for (const c of [5, 3, 4, 1]) {
    assert.ok(w.check(c), `first ${c}`);
    w.mark(c);
    assert.ok(!w.check(c), `again ${c}`);
  }
  assert.ok(w.check(2), 'a gap inside the window is still open');
  assert.ok(w.check(10_000));
  assert.ok(w.check(2), 'check() alone moved nothing');
  w.mark(10_000);
  assert.ok(!w.check(10_000 - REPLAY_WINDOW), 'fell out of the window');
  assert.ok(w.check(10_000 - REPLAY_WINDOW + 1));
  w.mark(10_000 + 5000); // a jump clears everything it passes
  assert.ok(w.check(10_000 + 5000 - 1) && !w.check(10_000 + 5000));
});

test('AEAD: the native seal is node:crypto\'s, byte for byte; a flipped bit anywhere fails', () => {
  for (const alg of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const key = new Uint8Array(32).fill(9);
    const mk = (): Uint8Array => {
      const d = new Uint8Array(100 + SEALED_OVERHEAD);
      writeSealedHeader(d, 0, 123456789, 42);
      d.fill(0xab, 16, 116);
      return d;
    };
    const a = mk();
    const b = mk();
    nativeAead(alg, key).seal(a, 0, 100);
    nodeAead(alg, key).seal(b, 0, 100);
    assert.deepEqual(a, b, alg);
    for (const at of [0, 9, 20, 120, a.length - 1]) {
      const t = a.slice();
      t[at] ^= 1;
      assert.equal(nativeAead(alg, key).open(t, 0, t.length), -1, `${alg}: bit flipped at ${at}`);
    }
    assert.equal(nativeAead(alg, key).open(a, 0, a.length), 100);
    assert.deepEqual(a.subarray(16, 116), new Uint8Array(100).fill(0xab));
    // sealBatch: headers written (epoch, consecutive counters) and each datagram sealed as seal() would.
    const queue = new Uint8Array(3 * 200);
    const offsets = new Uint32Array([0, 200, 400]);
    const lengths = new Uint32Array([100 + SEALED_OVERHEAD, 60 + SEALED_OVERHEAD, 100 + SEALED_OVERHEAD]);
    queue.fill(0xab);
    nativeAead(alg, key).sealBatch(queue, offsets, lengths, 1, 2, 123456789, 42);
    const expect = (len: number, counter: number): Uint8Array => {
      const d = new Uint8Array(len + SEALED_OVERHEAD);
      writeSealedHeader(d, 0, 123456789, counter);
      d.fill(0xab, 16, 16 + len);
      nodeAead(alg, key).seal(d, 0, len);
      return d;
    };
    assert.deepEqual(queue.subarray(200, 200 + 60 + SEALED_OVERHEAD), expect(60, 42));
    assert.deepEqual(queue.subarray(400, 400 + 100 + SEALED_OVERHEAD), expect(100, 43));
    assert.ok(queue.subarray(0, 200).every((b) => b === 0xab), 'entries outside [first, first+count) untouched');
    // Out of place: the plaintext read from another buffer's spans, the same datagrams.
    const src = new Uint8Array(300).fill(0xab);
    const direct = new Uint8Array(3 * 200);
    nativeAead(alg, key).sealBatch(direct, offsets, lengths, 1, 2, 123456789, 42, src, new Uint32Array([7, 0, 150]), 1);
    for (const i of [1, 2]) assert.deepEqual(direct.subarray(offsets[i], offsets[i] + lengths[i]), queue.subarray(offsets[i], offsets[i] + lengths[i]));
    assert.throws(() => nativeAead(alg, key).sealBatch(direct, offsets, lengths, 1, 2, 1, 1, src, new Uint32Array([0, 250]), 0), /does not fit src/);
    assert.throws(() => nativeAead(alg, key).sealBatch(queue, offsets, lengths, 2, 2, 1, 1), /exceeds the arrays/);
  }
});

function crypto(priv: string, epoch: number): NodeCrypto {
  return { keys: keyPairOf(priv), epoch };
}

test('peer sessions: a restart is a new epoch with new keys; older epochs are replays; forged epochs fail', () => {
  const [ka, kb] = [generatePrivateKey(), generatePrivateKey()];
  const a1 = new PeerSession(crypto(ka, 1000), publicKeyOf(kb));
  const b = new PeerSession(crypto(kb, 2000), publicKeyOf(ka));
  const datagram = (s: PeerSession): Uint8Array => {
    const d = new Uint8Array(64 + SEALED_OVERHEAD);
    d.fill(7, 16, 80);
    s.seal(d, 0, 64);
    return d;
  };
  const old = datagram(a1);
  assert.equal(b.open(old.slice(), 0, old.length), 64);
  assert.equal(b.open(old.slice(), 0, old.length), OPEN_REPLAYED);
  const a2 = new PeerSession(crypto(ka, 5000), publicKeyOf(kb)); // A restarted: counter 0 again
  const fresh = datagram(a2);
  assert.equal(b.open(fresh.slice(), 0, fresh.length), 64);
  assert.equal(b.open(datagram(a1), 0, old.length), OPEN_REPLAYED, 'the old epoch is over (and its datagrams authentic)');
  const garbage = datagram(a1);
  garbage[30] ^= 1;
  assert.equal(b.open(garbage, 0, garbage.length), OPEN_UNAUTHENTICATED, 'an old epoch that does not authenticate is a forgery, not a replay');
  const forged = datagram(a2);
  forged[7] ^= 1; // another epoch in the header: a different key, so the tag fails
  assert.equal(b.open(forged, 0, forged.length), OPEN_UNAUTHENTICATED);
  const c = new PeerSession(crypto(generatePrivateKey(), 9000), publicKeyOf(kb)); // a third node, B's key, posing as A
  const posing = datagram(c);
  assert.equal(b.open(posing, 0, posing.length), OPEN_UNAUTHENTICATED);
});

/** Two overlay nodes joined by an in-memory wire; each side's datagrams can be captured and re-injected. */
class Wire implements UdpNetwork {
  sent: Array<{ addr: number; port: number; data: Uint8Array }> = [];
  send(spans: Spans, first: number, count: number): number {
    for (let i = first; i < first + count; i++) this.sent.push({ addr: spans.addrs[2 * i], port: spans.addrs[2 * i + 1], data: spans.buf.slice(spans.offsets[i], spans.offsets[i] + spans.lengths[i]) });
    return count;
  }
  startReading(): void {}
  stopReading(): void {}
  close(): void {}
}

function node(subnet: string, key: string | undefined, leases: unknown, allowPlaintextPeers = false) {
  const tun = new MemoryTun();
  const wire = new Wire();
  const overlay = new Overlay(tun, wire, { network: NETWORK, subnet: parseCidr(subnet), tunMtu: 1440, pathMtu: 1440, now: () => 0, crypto: key ? crypto(key, Date.now()) : undefined, allowPlaintextPeers });
  overlay.setLeases(parseLeases(leases, NETWORK, 'test'));
  const batch = new RxBatch(64, 2048);
  return {
    tun, wire, overlay,
    fromTun: (p: Uint8Array) => { batch.clear(); batch.append(p); overlay.fromTun(batch); },
    fromNet: (from: string, ...ds: Uint8Array[]) => { batch.clear(); for (const d of ds) batch.append(d, A(from), 8285); overlay.fromNetwork(batch); },
  };
}

function packet(src: string, dst: string, fill: number): Uint8Array {
  const b = new Uint8Array(28 + 100);
  writeIPv4Header(b, 0, { src: A(src), dst: A(dst), protocol: IPPROTO.UDP, payloadLength: 108, ttl: 64, dontFragment: true });
  b[24] = 0; b[25] = 108;
  b.fill(fill, 28);
  return b;
}

test('keyed overlays: sealed on the wire, delivered intact; tampered, replayed and plaintext datagrams counted and dropped', () => {
  const [k1, k2] = [generatePrivateKey(), generatePrivateKey()];
  const leases = { nodes: [
    { subnet: '10.244.1.0/24', publicIp: '198.51.100.1', publicKey: publicKeyOf(k1) },
    { subnet: '10.244.2.0/24', publicIp: '198.51.100.2', publicKey: publicKeyOf(k2) },
    { subnet: '10.244.3.0/24', publicIp: '198.51.100.3' },
  ] };
  const n1 = node('10.244.1.0/24', k1, leases);
  const n2 = node('10.244.2.0/24', k2, leases);
  const inner = packet('10.244.1.5', '10.244.2.7', 0x5a);
  n1.fromTun(inner);
  const [d] = n1.wire.sent;
  assert.equal(d.data.length, inner.length + SEALED_OVERHEAD);
  assert.equal(d.data[0], 0x01);
  assert.ok(!Buffer.from(d.data).includes(Buffer.alloc(50, 0x5a)), 'the payload is not readable on the wire');
  n2.fromNet('198.51.100.1', d.data.slice());
  assert.equal(n2.tun.written.length, 1);
  assert.deepEqual(n2.tun.written[0].subarray(28), inner.subarray(28));
  assert.equal(n2.tun.written[0][8], 63, 'TTL decremented after opening');
  n2.fromNet('198.51.100.1', d.data.slice());
  const tampered = d.data.slice();
  tampered[40] ^= 0x10;
  n2.fromNet('198.51.100.1', tampered, packet('10.244.1.5', '10.244.2.7', 1), new Uint8Array(200).fill(0x01));
  assert.equal(n2.tun.written.length, 1, 'nothing else reached the TUN');
  assert.deepEqual(n2.overlay.counters.drops.toJSON(), { replayed: 1, unauthenticated: 3 });
  // A keyless node: dropped both ways, unless plaintext is allowed.
  n2.fromNet('198.51.100.3', packet('10.244.3.5', '10.244.2.7', 2));
  n2.fromTun(packet('10.244.2.7', '10.244.3.5', 3));
  assert.deepEqual(n2.overlay.counters.drops.toJSON(), { replayed: 1, unauthenticated: 4, 'plaintext-peer': 1 });
  const lenient = node('10.244.2.0/24', k2, leases, true);
  lenient.fromNet('198.51.100.3', packet('10.244.3.5', '10.244.2.7', 2));
  lenient.fromTun(packet('10.244.2.7', '10.244.3.5', 3));
  assert.equal(lenient.tun.written.length, 1);
  assert.equal(lenient.wire.sent[0].data[0] >> 4, 4, 'plain IPv4 to the keyless node');
  // Equal-size packets to one peer stay equal-size datagrams (a GSO run).
  for (let i = 0; i < 5; i++) n1.fromTun(inner);
  assert.deepEqual(new Set(n1.wire.sent.map((s) => s.data.length)), new Set([inner.length + SEALED_OVERHEAD]));
});

test('key rotation: a node that changes its key loses nothing, whichever side learns of it first', () => {
  const [k1, k2, k2new] = [generatePrivateKey(), generatePrivateKey(), generatePrivateKey()];
  const leases = (key2: string) => ({ nodes: [
    { subnet: '10.244.1.0/24', publicIp: '198.51.100.1', publicKey: publicKeyOf(k1) },
    { subnet: '10.244.2.0/24', publicIp: '198.51.100.2', publicKey: publicKeyOf(key2) },
  ] });
  const n1 = node('10.244.1.0/24', k1, leases(k2));
  const n2 = node('10.244.2.0/24', k2, leases(k2));
  const send = (from: typeof n1, to: typeof n1, fromIp: string, p: Uint8Array): void => {
    from.fromTun(p);
    const d = from.wire.sent.pop()!;
    to.fromNet(fromIp, d.data);
  };
  const to1 = (): Uint8Array => packet('10.244.2.5', '10.244.1.5', 1);
  const to2 = (): Uint8Array => packet('10.244.1.5', '10.244.2.5', 2);
  send(n1, n2, '198.51.100.1', to2());
  send(n2, n1, '198.51.100.2', to1());
  // host-2 takes a new key (SIGHUP); nobody knows it yet: it still seals with the old one.
  n2.overlay.rotateKey(crypto(k2new, Date.now()));
  send(n2, n1, '198.51.100.2', to1());
  send(n1, n2, '198.51.100.1', to2());
  // host-1 learns the new key from its leases: seals with it at once; host-2 opens it and switches too.
  n1.overlay.setLeases(parseLeases(leases(k2new), NETWORK, 'test'));
  const inFlight = (() => { n2.fromTun(to1()); return n2.wire.sent.pop()!.data; })(); // sealed before host-2 switched
  send(n1, n2, '198.51.100.1', to2());
  send(n2, n1, '198.51.100.2', to1());
  n1.fromNet('198.51.100.2', inFlight);
  assert.equal(n1.tun.written.length, 4);
  assert.equal(n2.tun.written.length, 3);
  assert.deepEqual(n1.overlay.counters.drops.toJSON(), {});
  assert.deepEqual(n2.overlay.counters.drops.toJSON(), {});
  assert.equal(n1.overlay.peers.find((p) => p.publicIp === A('198.51.100.2'))!.rxPackets, 4, 'the peer\'s counters went on across its new key');
  // After the grace period the old key opens nothing.
  const late = node('10.244.1.0/24', k1, leases(k2));
  const oldKeyDatagram = (() => { const fresh = node('10.244.2.0/24', k2, leases(k2)); fresh.fromTun(to1()); return fresh.wire.sent.pop()!.data; })();
  late.overlay.setLeases(parseLeases(leases(k2new), NETWORK, 'test'));
  late.overlay.peers.forEach((p) => (p.oldSessionUntil = 0));
  late.fromNet('198.51.100.2', oldKeyDatagram);
  assert.deepEqual(late.overlay.counters.drops.toJSON(), { unauthenticated: 1 });
});
