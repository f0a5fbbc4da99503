// Two WireGuard transports wired back to back in memory, on a clock the
// test moves: handshakes, transport messages, keypair rotation, timers,
// replays, cookies and the peer's restart, each checked by what the other
// side accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Spans, SpanList } from '../io/batch.js';
import { CONSUMED, DROPPED, NOT_OPENED, paddedLength, UNAUTHENTIC, WireGuard, WireGuardDropReason } from './device.js';
import { publicBytesOf, tai64n, tai64nAfter } from './primitives.js';
import { INITIATION_SIZE, MSG_COOKIE_REPLY, MSG_INITIATION, MSG_RESPONSE, MSG_TRANSPORT, RESPONSE_SIZE } from './messages.js';
import { REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_TIMEOUT, ZERO_KEYS_AFTER, KEEPALIVE_TIMEOUT } from './constants.js';
import { WgPeer } from './peer.js';
import type { Keypair } from './keypair.js';

const A_ADDR = 0xc6336401;
const B_ADDR = 0xc6336402;
const PORT = 51820;
const MTU = 1420;

interface Node {
  wg: WireGuard;
  /** Datagrams it sent, oldest first. */
  out: Array<{ data: Uint8Array; addr: number; port: number }>;
  drops: WireGuardDropReason[];
  peer?: WgPeer;
  addr: number;
}

function node(clock: { t: number }, addr: number, opts: { psk?: Uint8Array; privateKey?: ReturnType<typeof generateKeyPairSync>['privateKey']; underLoadPerSecond?: number; wallNow?: () => number } = {}): Node {
  const privateKey = opts.privateKey ?? generateKeyPairSync('x25519').privateKey;
  const n: Node = { out: [], drops: [], addr } as unknown as Node;
  n.wg = new WireGuard({
    privateKey, psk: opts.psk, pathMtu: MTU, now: () => clock.t, wallNow: opts.wallNow ?? (() => 1_800_000_000_000 + clock.t), underLoadPerSecond: opts.underLoadPerSecond,
    send: (m: Spans) => {
      for (let i = 0; i < m.count; i++) n.out.push({ data: m.buf.slice(m.offsets[i], m.offsets[i] + m.lengths[i]), addr: m.addrs[2 * i], port: m.addrs[2 * i + 1] });
    },
    onDrop: (r) => n.drops.push(r),
  });
  return n;
}

function link(a: Node, b: Node): void {
  a.peer = a.wg.peer(b.wg.publicKey, publicBytesOf(b.wg.identity.privateKey), b.addr, PORT);
  b.peer = b.wg.peer(a.wg.publicKey, publicBytesOf(a.wg.identity.privateKey), a.addr, PORT);
}

/** Delivers everything `from` sent to `to`; returns the packets `to` decrypted. */
function deliver(from: Node, to: Node): Uint8Array[] {
  const packets: Uint8Array[] = [];
  const msgs = from.out.splice(0);
  for (const m of msgs) {
    const buf = m.data.slice();
    const n = to.wg.receive(buf, 0, buf.length, from.addr, PORT);
    if (n >= 0) packets.push(buf.slice(16, 16 + n));
  }
  return packets;
}

/** Sends `packets` from `from` to its peer as the overlay does: sealed now, or staged for a handshake. */
function send(from: Node, packets: Uint8Array[]): void {
  const src = SpanList.copyOf(packets);
  const kp = from.wg.sendingKeypair(from.peer!, packets.length);
  if (!kp) {
    for (let i = 0; i < src.count; i++) from.wg.stage(from.peer!, src.buf, src.offsets[i], src.lengths[i]);
    return;
  }
  const outBuf = new Uint8Array(packets.length * 2048);
  const out = new SpanList(packets.length);
  out.reset(outBuf);
  for (let i = 0; i < src.count; i++) out.add(i * 2048, paddedLength(src.lengths[i], MTU) + 32, from.peer!.endpointAddr, from.peer!.endpointPort);
  from.wg.sealRun(from.peer!, kp, out, 0, out.count, src, 0);
  for (let i = 0; i < out.count; i++) from.out.push({ data: outBuf.slice(out.offsets[i], out.offsets[i] + out.lengths[i]), addr: out.addrs[0], port: out.addrs[1] });
}

const packet = (n: number, fill = 7): Uint8Array => new Uint8Array(n).fill(fill);

function pair(psk?: Uint8Array): { clock: { t: number }; a: Node; b: Node } {
  const clock = { t: 1000 };
  const a = node(clock, A_ADDR, { psk });
  const b = node(clock, B_ADDR, { psk });
  link(a, b);
  return { clock, a, b };
}

/** a sends first: initiation, response, then the staged packets. */
function handshake(a: Node, b: Node, first = [packet(100, 1)]): Uint8Array[] {
  send(a, first);
  assert.equal(a.out.length, 1);
  assert.equal(a.out[0].data[0], MSG_INITIATION);
  assert.equal(a.out[0].data.length, INITIATION_SIZE);
  deliver(a, b);
  assert.equal(b.out.length, 1);
  assert.equal(b.out[0].data[0], MSG_RESPONSE);
  assert.equal(b.out[0].data.length, RESPONSE_SIZE);
  deliver(b, a);
  return deliver(a, b);
}

test('a handshake, then packets both ways: the staged packet arrives whole, padding to 16 bytes, equal sizes stay equal', () => {
  const { a, b } = pair();
  const got = handshake(a, b, [packet(100, 1), packet(100, 2)]);
  assert.deepEqual(got.map((p) => p.length), [112, 112]); // padded
  assert.deepEqual(got[0].subarray(0, 100), packet(100, 1));
  assert.deepEqual(got[1].subarray(0, 100), packet(100, 2));
  assert.deepEqual(got[0].subarray(100), new Uint8Array(12));
  send(b, [packet(1420, 3)]);
  assert.equal(b.out[0].data.length, 1420 + 32, 'a packet at the path MTU is not padded past it');
  const back = deliver(b, a);
  assert.deepEqual(back, [packet(1420, 3)]);
  assert.ok(a.peer!.lastHandshakeWallMs > 0 && b.peer!.lastHandshakeWallMs > 0);
});

test('with a preshared key both sides must hold the same one', () => {
  const psk = new Uint8Array(32).fill(9);
  const ok = pair(psk);
  assert.equal(handshake(ok.a, ok.b).length, 1);
  const clock = { t: 1000 };
  const a = node(clock, A_ADDR, { psk });
  const b = node(clock, B_ADDR, { psk: new Uint8Array(32).fill(8) });
  link(a, b);
  send(a, [packet(60)]);
  deliver(a, b); // b consumes the initiation (the PSK enters only in the response)
  deliver(b, a);
  assert.deepEqual(a.drops, ['unauthenticated'], 'the initiator refuses a response under another PSK');
  assert.equal(a.wg.sendingKeypair(a.peer!, 1), undefined);
});

test('a replayed transport message is refused; reordered ones within the window are taken', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(80, 1), packet(80, 2), packet(80, 3)]);
  const msgs = a.out.splice(0);
  const recv = (m: { data: Uint8Array }): number => b.wg.receive(m.data.slice(), 0, m.data.length, A_ADDR, PORT);
  assert.ok(recv(msgs[2]) > 0);
  assert.ok(recv(msgs[0]) > 0, 'reordered');
  assert.equal(recv(msgs[0]), DROPPED);
  assert.equal(b.wg.lastDrop, 'replayed');
  assert.ok(recv(msgs[1]) > 0);
  const forged = msgs[1].data.slice();
  forged[40] ^= 1;
  forged[8] = 99; // a fresh counter, but the tag no longer matches
  assert.equal(b.wg.receive(forged, 0, forged.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'unauthenticated');
  const truncated = msgs[1].data.slice(0, 31);
  assert.equal(b.wg.receive(truncated, 0, truncated.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'not-wireguard');
});

test('a replayed initiation is refused by its timestamp, also after the peer was removed and added back', () => {
  const { a, b } = pair();
  send(a, [packet(60)]);
  const init = a.out[0].data.slice();
  deliver(a, b);
  b.out.length = 0;
  assert.equal(b.wg.receive(init.slice(), 0, init.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'stale-timestamp');
  b.wg.removePeer(b.peer!);
  b.peer = b.wg.peer(a.wg.publicKey, publicBytesOf(a.wg.identity.privateKey), A_ADDR, PORT);
  assert.equal(b.wg.receive(init.slice(), 0, init.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'stale-timestamp');
  assert.equal(b.out.length, 0, 'no response to a replay');
});

test('TAI64N timestamps order as time does, and ours never repeat within the 16 ms whitening step', () => {
  assert.ok(tai64nAfter(tai64n(2000), tai64n(1000)));
  assert.ok(!tai64nAfter(tai64n(1000.001), tai64n(1000)));
  // a's wall clock stands still: its retry falls in the same 16 ms whitening step as its first initiation.
  const clock = { t: 1000 };
  const a = node(clock, A_ADDR, { wallNow: () => 1_800_000_000_000 });
  const b = node(clock, B_ADDR);
  link(a, b);
  send(a, [packet(60)]);
  deliver(a, b);
  b.out.length = 0;
  clock.t += REKEY_TIMEOUT + 400;
  a.wg.tick(); // the retry
  assert.equal(a.out[0]?.data[0], MSG_INITIATION);
  deliver(a, b);
  assert.deepEqual(b.drops, [], 'the retry is newer than the first, not a stale timestamp');
  assert.equal(b.out[0]?.data[0], MSG_RESPONSE);
});

test('the responder holds its packets until the initiator confirms the session, then sends them', () => {
  const { a, b } = pair();
  handshake(a, b);
  // b answered; a confirmed with its packet: b now sends under current.
  send(b, [packet(50, 5)]);
  assert.equal(b.out[0].data[0], MSG_TRANSPORT);
  assert.deepEqual(deliver(b, a)[0].subarray(0, 50), packet(50, 5));
});

test('rekey after REKEY_AFTER_TIME on the initiator; the old keypair still opens messages in flight; no counter repeats', () => {
  const { clock, a, b } = pair();
  handshake(a, b);
  send(a, [packet(60, 1)]);
  const inFlight = a.out.splice(0);
  clock.t += REKEY_AFTER_TIME + 1;
  send(a, [packet(60, 2)]); // still sealed under the old keypair, and an initiation follows
  const kinds = a.out.map((m) => m.data[0]);
  assert.deepEqual(kinds, [MSG_INITIATION, MSG_TRANSPORT]);
  deliver(a, b);
  deliver(b, a); // the response: a's new keypair is current
  send(a, [packet(60, 3)]);
  const sent = a.out.map((m) => Buffer.from(m.data.subarray(4, 16)).toString('hex'));
  const fresh = deliver(a, b);
  assert.deepEqual(fresh.map((p) => p[0]), [3], 'the keepalive is consumed, the packet arrives under the new keypair');
  const late = inFlight[0].data.slice();
  assert.ok(b.wg.receive(late, 0, late.length, A_ADDR, PORT) > 0, 'previous keypair opens a late message');
  const all = [...sent, ...inFlight.map((m) => Buffer.from(m.data.subarray(4, 16)).toString('hex'))];
  assert.equal(new Set(all).size, all.length, 'no (receiver index, counter) twice');
});

test('timers: a lost initiation is retried after REKEY_TIMEOUT, given up after 90 s, keys zeroed after 540 s', () => {
  const { clock, a, b } = pair();
  send(a, [packet(60)]);
  a.out.length = 0; // lost
  clock.t += REKEY_TIMEOUT + 400;
  a.wg.tick();
  assert.equal(a.out.length, 1, 'retried');
  for (let i = 0; i < 30; i++) {
    clock.t += REKEY_TIMEOUT + 400;
    a.wg.tick();
  }
  const sent = a.out.length;
  assert.ok(sent >= 17 && sent <= 19, `gave up after ~18 retries, sent ${sent}`);
  assert.equal(a.peer!.staged, undefined, 'held packets dropped when giving up');
  // A working session is zeroed after 540 s without a new handshake.
  const p = pair();
  handshake(p.a, p.b);
  p.clock.t += ZERO_KEYS_AFTER + 1;
  p.a.wg.tick();
  assert.equal(p.a.peer!.keypairs.current, undefined);
  assert.equal(b.out.length, 0);
});

test('timers: a keepalive after KEEPALIVE_TIMEOUT of receiving without sending; a new handshake when sent data meets silence', () => {
  const { clock, a, b } = pair();
  handshake(a, b);
  clock.t += KEEPALIVE_TIMEOUT + 1;
  b.wg.tick();
  assert.equal(b.out.length, 1, 'b received data and had nothing to say: keepalive');
  assert.equal(b.out[0].data.length, 32);
  assert.equal(deliver(b, a).length, 0, 'a keepalive is consumed');
  send(a, [packet(60)]);
  a.out.length = 0; // lost, and b stays silent
  clock.t += KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + 400;
  a.wg.tick();
  assert.equal(a.out[0]?.data[0], MSG_INITIATION);
});

test('an expired keypair neither sends nor opens', () => {
  const { clock, a, b } = pair();
  handshake(a, b);
  send(a, [packet(60)]);
  const m = a.out.splice(0)[0];
  clock.t += REJECT_AFTER_TIME;
  assert.equal(b.wg.receive(m.data.slice(), 0, m.data.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'expired-keypair');
  assert.equal(a.wg.sendingKeypair(a.peer!, 1), undefined);
});

/** a initiates to b, which is under load (every handshake message counts as load). */
function underLoad(): { clock: { t: number }; a: Node; b: Node } {
  const clock = { t: 1000 };
  const a = node(clock, A_ADDR);
  const b = node(clock, B_ADDR, { underLoadPerSecond: 0 });
  link(a, b);
  send(a, [packet(60)]);
  deliver(a, b);
  return { clock, a, b };
}

test('under load an initiation without mac2 gets a cookie reply; with the cookie it is answered', () => {
  const { clock, a, b } = underLoad();
  assert.deepEqual(b.drops, ['cookie-sent']);
  assert.equal(b.out[0].data[0], MSG_COOKIE_REPLY);
  assert.equal(b.out[0].data.length, 64);
  assert.equal(deliver(b, a).length, 0);
  clock.t += REKEY_TIMEOUT + 400;
  a.wg.tick(); // the retry carries mac2
  deliver(a, b);
  assert.equal(b.out[0].data[0], MSG_RESPONSE);
});

test('a cookie reply is taken once, and only for the message it answers', () => {
  const { a, b } = underLoad();
  const reply = b.out.splice(0)[0].data;
  const forged = reply.slice();
  forged[40] ^= 1;
  assert.equal(a.wg.receive(forged, 0, 64, B_ADDR, PORT), DROPPED);
  assert.equal(a.wg.lastDrop, 'unauthenticated');
  assert.equal(a.wg.receive(reply.slice(), 0, 64, B_ADDR, PORT), CONSUMED);
  assert.equal(a.wg.receive(reply.slice(), 0, 64, B_ADDR, PORT), DROPPED, 'a second time');
});

test('a message for our key from a stranger, or with a bad mac1, costs no Diffie-Hellman and gets nothing back', () => {
  const { a, b } = pair();
  const clock = { t: 1000 };
  const stranger = node(clock, 0xc6336403);
  stranger.peer = stranger.wg.peer(b.wg.publicKey, publicBytesOf(b.wg.identity.privateKey), B_ADDR, PORT);
  send(stranger, [packet(60)]);
  deliver(stranger, b);
  assert.deepEqual(b.drops, ['unknown-peer']);
  send(a, [packet(60)]);
  const init = a.out[0].data.slice();
  init[120] ^= 1;
  assert.equal(b.wg.receive(init, 0, init.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'bad-mac1');
  assert.equal(b.out.length, 0);
});

test('a removed peer\'s session ends: its messages find no index, and a new peer needs a new handshake', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(60), packet(60)]);
  const [opened, m] = a.out.splice(0);
  // The session's index was just looked up (and is remembered for the next message): removal must forget it too.
  assert.ok(b.wg.receive(opened.data.slice(), 0, opened.data.length, A_ADDR, PORT) > 0);
  b.wg.removePeer(b.peer!);
  assert.equal(b.wg.receive(m.data.slice(), 0, m.data.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'unknown-index');
  b.peer = b.wg.peer(a.wg.publicKey, publicBytesOf(a.wg.identity.privateKey), A_ADDR, PORT);
  assert.equal(b.wg.sendingKeypair(b.peer, 1), undefined, 'no key survives the rebuild');
  assert.equal(b.out[0].data[0], MSG_INITIATION);
});

test('leases: one naming our own key, or a key another lease names (as the same point, whatever its encoding), are refused by name', async () => {
  const { wireguardPeers } = await import('../overlay/wireguard-peers.js');
  const { parseCidr } = await import('../packet/addr.js');
  const own = generateKeyPairSync('x25519').privateKey;
  const ownBytes = publicBytesOf(own);
  const other = publicBytesOf(generateKeyPairSync('x25519').privateKey);
  const otherHighBit = other.slice();
  otherHighBit[31] |= 0x80; // X25519 ignores the top bit: the same point
  const lease = (n: number, key: Uint8Array) => ({ subnet: parseCidr(`10.244.${n}.0/24`), publicIp: 0xc6336400 + n, port: 8285, publicKey: Buffer.from(key).toString('base64') });
  const { keep, refused } = wireguardPeers([lease(1, ownBytes), lease(2, other), lease(3, otherHighBit), { subnet: parseCidr('10.244.4.0/24'), publicIp: 0xc6336404, port: 8285 }], ownBytes);
  assert.deepEqual(keep.map((l) => l.publicIp & 0xff), [4], 'only the keyless lease is left');
  assert.equal(refused.length, 3);
  assert.match(refused[0], /10\.244\.1\.0\/24 .* names this node's own public key/);
  assert.match(refused[1], /which another lease names too/);
});

test('a peer at a new endpoint is a new peer: its keys are dropped, the next packet starts a handshake to the new address', () => {
  const { a, b } = pair();
  handshake(a, b);
  const before = a.peer!;
  const moved = a.wg.peer(b.wg.publicKey, publicBytesOf(b.wg.identity.privateKey), 0xc6336409, PORT);
  assert.notEqual(moved, before);
  assert.equal(before.keypairs.current, undefined, 'the old session is gone');
  assert.equal(a.wg.sendingKeypair(moved, 1), undefined);
  assert.equal(a.out[0].data[0], MSG_INITIATION);
  assert.equal(a.out[0].addr, 0xc6336409);
  assert.equal(a.wg.peer(b.wg.publicKey, publicBytesOf(b.wg.identity.privateKey), 0xc6336409, PORT), moved, 'the same endpoint again: the same peer');
});

test('under load a source may send 5 handshake messages at once and 20 a second: the rest are refused before any Diffie-Hellman', () => {
  const { clock, a, b } = underLoad();
  deliver(b, a); // the cookie: a's next initiation carries a valid mac2
  clock.t += REKEY_TIMEOUT + 400;
  a.wg.tick();
  const init = a.out.splice(0)[0].data;
  b.drops.length = 0;
  for (let k = 0; k < 8; k++) b.wg.receive(init.slice(), 0, init.length, A_ADDR, PORT);
  assert.equal(b.drops.filter((d) => d === 'handshake-rate-limited').length, 3, b.drops.join(' '));
  assert.equal(b.drops.filter((d) => d === 'cookie-sent').length, 0, 'mac2 was valid each time');
});

test('the initiator rekeys after REKEY_AFTER_MESSAGES as after REKEY_AFTER_TIME', () => {
  const { clock, a, b } = pair();
  handshake(a, b);
  clock.t += REKEY_TIMEOUT + 1; // past the handshake rate limit, far from REKEY_AFTER_TIME
  a.peer!.keypairs.current!.sendCounter = 2 ** 60 - 1;
  a.out.length = 0;
  send(a, [packet(60)]);
  assert.deepEqual(a.out.map((m) => m.data[0]), [MSG_INITIATION, MSG_TRANSPORT]);
});

test('a transport message with a counter of 2^53 or more is refused before it is opened', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(60)]);
  const m = a.out.splice(0)[0].data.slice();
  m[15] = 0x01; // counter's top byte: 2^56
  assert.equal(b.wg.receive(m, 0, m.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'replayed');
});

test('a message for a session this node no longer holds, from the peer\'s endpoint, starts one handshake (not one per message)', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(60), packet(60)]);
  const [m1, m2] = a.out.splice(0);
  b.wg.removePeer(b.peer!);
  b.peer = b.wg.peer(a.wg.publicKey, publicBytesOf(a.wg.identity.privateKey), A_ADDR, PORT);
  b.out.length = 0;
  assert.equal(b.wg.receive(m1.data.slice(), 0, m1.data.length, A_ADDR, PORT), DROPPED);
  assert.equal(b.wg.lastDrop, 'unknown-index');
  assert.deepEqual(b.out.map((m) => [m.data[0], m.addr]), [[MSG_INITIATION, A_ADDR]]);
  b.wg.receive(m2.data.slice(), 0, m2.data.length, A_ADDR, PORT);
  assert.equal(b.out.length, 1, 'at most one per REKEY_TIMEOUT');
  const stranger = m2.data.slice();
  b.out.length = 0;
  b.wg.receive(stranger, 0, stranger.length, 0xc6336409, PORT);
  assert.equal(b.out.length, 0, 'from an address that is no peer\'s: nothing');
});

test('opened ahead in runs, a batch is received as message by message: genuine packets in order; a replay, a forgery and a non-WireGuard datagram refused by name', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(60, 1), packet(1200, 2), packet(61, 3)]);
  const [m1, m2, m3] = a.out.splice(0);
  send(a, [packet(100, 4)]);
  const [m4] = a.out.splice(0);
  const forged = m4.data.slice();
  forged[40] ^= 1;
  const notWireGuard = new Uint8Array(64).fill(0x45);
  // A replay of m1 within the run, a forgery, something else, then the genuine m4.
  const datagrams = [m1.data, m2.data, m3.data, m1.data, forged, notWireGuard, m4.data];
  const buf = new Uint8Array(datagrams.length * 2048);
  datagrams.forEach((d, i) => buf.set(d, i * 2048));
  const offsets = Uint32Array.from(datagrams, (_, i) => i * 2048);
  const sizes = Uint32Array.from(datagrams, (d) => d.length);
  const opened = new Uint32Array(datagrams.length);
  const openedWith: Array<Keypair | undefined> = [];
  b.wg.openAhead(buf, offsets, sizes, datagrams.length, opened, openedWith);
  // Opening ahead authenticates (the replay too: the window is receive()'s), and leaves what is not transport alone.
  assert.deepEqual([...opened], [64, 1200, 64, 64, UNAUTHENTIC, NOT_OPENED, 112]);
  const results = datagrams.map((_, i) => {
    const n = b.wg.receive(buf, offsets[i], sizes[i], A_ADDR, PORT, undefined, opened[i], openedWith[i]);
    return [n, n === DROPPED ? b.wg.lastDrop : '', n >= 0 ? buf[offsets[i] + 16] : -1];
  });
  assert.deepEqual(results, [[64, '', 1], [1200, '', 2], [64, '', 3], [DROPPED, 'replayed', -1], [DROPPED, 'unauthenticated', -1], [DROPPED, 'not-wireguard', -1], [112, '', 4]]);
});

test('a message opened ahead under a session its index no longer names is refused, not taken', () => {
  const { a, b } = pair();
  handshake(a, b);
  send(a, [packet(60)]);
  const m = a.out.splice(0)[0].data;
  const opened = new Uint32Array(1);
  const openedWith: Array<Keypair | undefined> = [];
  b.wg.openAhead(m, Uint32Array.of(0), Uint32Array.of(m.length), 1, opened, openedWith);
  assert.ok(opened[0] < 0xfffffffe && openedWith[0]);
  // Another keypair stands where the one that opened it was.
  assert.equal(b.wg.receive(m, 0, m.length, A_ADDR, PORT, undefined, opened[0], { ...openedWith[0]! } as Keypair), DROPPED);
  assert.equal(b.wg.lastDrop, 'unknown-index');
});
