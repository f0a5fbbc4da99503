// The relay's packet logic on the in-memory TUN and a fake network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTun } from '../tun/memory-tun.js';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { IPv4View, IPPROTO, writeIPv4Header } from '../packet/ipv4.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH, writeEchoPacket } from '../packet/icmp.js';
import { fragmentIPv4 } from '../packet/fragment.js';
import { checksum } from '../packet/checksum.js';
import { writeIcmpError } from '../packet/icmp-errors.js';
import { IcmpRelay } from './relay.js';
import { MemoryIcmp } from './memory-icmp.js';
import { feedRelay } from '../../harness/relay-rig.js';

const A = (s: string): number => parseIPv4(s)!;
const PINGER = A('10.244.1.3');
const PINGER2 = A('10.244.1.4');
const REMOTE = A('198.51.100.2');
const HOST = A('198.51.100.1');
const ROUTER = A('198.51.100.126');


function echo(type: number, src: number, dst: number, id: number, seq: number, size = 56, ttl = 64): Uint8Array {
  const b = new Uint8Array(28 + size);
  writeEchoPacket(b, 0, { type, src, dst, id, seq, payload: new Uint8Array(size).fill(seq & 0xff), ttl });
  return b;
}

function setup(mtu = 1500) {
  const tun = new MemoryTun();
  const net = new MemoryIcmp();
  const relay = new IcmpRelay(tun, net, { subnet: parseCidr('10.244.1.3/24'), tunMtu: mtu, localAddresses: new Set([HOST]), now: () => 1000 });
  return { tun, net, relay, ...feedRelay(relay) };
}

/** The remote's reply to a request the relay sent: swap, type 0, same ICMP body. */
function replyTo(sent: { dst: number; icmp: Uint8Array }, ttl = 63): Uint8Array {
  const b = new Uint8Array(20 + sent.icmp.length);
  b.set(sent.icmp, 20);
  const icmp = new IcmpView(b, 20, sent.icmp.length);
  icmp.setType(ICMP_TYPE.ECHO_REPLY);
  writeIPv4Header(b, 0, { src: sent.dst, dst: HOST, protocol: IPPROTO.ICMP, payloadLength: sent.icmp.length, ttl });
  return b;
}

test('a request leaves with the pinger\'s TTL and id; its reply comes back addressed to the pinger', () => {
  const { tun, net, fromTun, fromNet, relay } = setup();
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 0x1234, 7, 56, 5));
  assert.equal(net.sent.length, 1);
  assert.equal(net.sent[0].ttl, 5);
  assert.equal(net.sent[0].dst, REMOTE);
  const out = new IcmpView(net.sent[0].icmp, 0, net.sent[0].icmp.length);
  assert.equal(out.check(), undefined);
  assert.equal(out.id, 0x1234, 'a free identifier is kept');
  fromNet(replyTo(net.sent[0]));
  assert.equal(tun.written.length, 1);
  const ip = new IPv4View(tun.written[0]);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.src, REMOTE);
  assert.equal(ip.dst, PINGER);
  const icmp = new IcmpView(tun.written[0], 20, ip.payloadLength);
  assert.equal(icmp.check(), undefined);
  assert.deepEqual([icmp.type, icmp.id, icmp.seq], [ICMP_TYPE.ECHO_REPLY, 0x1234, 7]);
  const c = relay.counters;
  assert.deepEqual([c.requests, c.replies, c.errorsRelayed, c.errorsGenerated, c.ignored, c.drops.total], [1, 1, 0, 0, 0, 0]);
  assert.equal(c.requestBytes, 84);
  assert.equal(c.replyBytes, 84);
});

test('two pingers with one identifier to one host get different outgoing ids and only their own replies', () => {
  const { tun, net, fromTun, fromNet } = setup();
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 777, 1), echo(ICMP_TYPE.ECHO_REQUEST, PINGER2, REMOTE, 777, 1));
  const ids = net.sent.map((s) => new IcmpView(s.icmp, 0, s.icmp.length).id);
  assert.notEqual(ids[0], ids[1]);
  fromNet(replyTo(net.sent[1]), replyTo(net.sent[0]));
  const got = tun.written.map((p) => [new IPv4View(p).dst, new IcmpView(p, 20, p.length - 20).id]);
  assert.deepEqual(got, [[PINGER2, 777], [PINGER, 777]]);
});

test('replies that belong to no flow, echo requests to the host and our own output are ignored', () => {
  const { tun, net, fromTun, fromNet, relay } = setup();
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 5, 1));
  const stranger = replyTo(net.sent[0]);
  new IPv4View(stranger).setSrc(A('198.51.100.9')); // same id, wrong host
  fromNet(stranger, echo(ICMP_TYPE.ECHO_REQUEST, A('198.51.100.9'), HOST, 5, 1), echo(ICMP_TYPE.ECHO_REPLY, REMOTE, PINGER, 5, 1));
  assert.equal(tun.written.length, 0);
  assert.equal(relay.counters.ignored, 2);
  assert.equal(relay.counters.ownCopies, 1);
});

test('a time-exceeded error is rewritten so its quote is exactly what the pinger sent', () => {
  const { tun, net, fromTun, fromNet } = setup();
  const request = echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 0x4000, 3, 56, 1);
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER2, REMOTE, 0x4000, 1)); // takes id 0x4000 first
  fromTun(request.slice());
  const sent = net.sent[1];
  assert.notEqual(new IcmpView(sent.icmp, 0, 8).id, 0x4000);
  // What the router quotes: the request as it left the host (source HOST, NAT id, TTL 1).
  const onWire = new Uint8Array(20 + sent.icmp.length);
  onWire.set(sent.icmp, 20);
  writeIPv4Header(onWire, 0, { src: HOST, dst: REMOTE, protocol: IPPROTO.ICMP, payloadLength: sent.icmp.length, ttl: 1, id: 3 });
  const err = new Uint8Array(20 + 8 + 28);
  writeIcmpError(err, 0, ICMP_TYPE.TIME_EXCEEDED, 0, ROUTER, new IPv4View(onWire));
  new IPv4View(err).setDst(HOST);
  fromNet(err);
  const out = tun.written[0];
  const ip = new IPv4View(out);
  assert.equal(ip.check(), undefined);
  assert.deepEqual([ip.src, ip.dst], [ROUTER, PINGER]);
  const icmp = new IcmpView(out, 20, ip.payloadLength);
  assert.equal(icmp.check(), undefined);
  assert.equal(icmp.type, ICMP_TYPE.TIME_EXCEEDED);
  const quotedIp = new IPv4View(out, 28, 28);
  assert.deepEqual([quotedIp.src, quotedIp.dst], [PINGER, REMOTE]);
  assert.equal(checksum(out, 28, 48), 0, 'the quoted header checksum is valid (the quote itself is truncated by design)');
  // The quoted ICMP header (type, code, checksum, id, seq) is byte for byte the pinger's.
  assert.deepEqual([...out.subarray(48, 56)], [...request.subarray(20, 28)]);
});

test('an error the relay host itself generated is presented as coming from the destination', () => {
  const { tun, net, fromTun, fromNet } = setup();
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 9, 1));
  const onWire = new Uint8Array(20 + net.sent[0].icmp.length);
  onWire.set(net.sent[0].icmp, 20);
  writeIPv4Header(onWire, 0, { src: HOST, dst: REMOTE, protocol: IPPROTO.ICMP, payloadLength: net.sent[0].icmp.length });
  const err = new Uint8Array(56);
  writeIcmpError(err, 0, ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.HOST, HOST, new IPv4View(onWire));
  fromNet(err);
  assert.equal(new IPv4View(tun.written[0]).src, REMOTE);
});

test('a request the kernel refuses to send (no route) is answered with Net Unreachable', () => {
  const { tun, net, fromTun, relay } = setup();
  net.refuse.set(REMOTE, 'ENETUNREACH');
  const request = echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 42, 1);
  fromTun(request.slice());
  const out = tun.written[0];
  const icmp = new IcmpView(out, 20, out.length - 20);
  assert.deepEqual([icmp.type, icmp.code, icmp.check()], [ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.NET, undefined]);
  assert.deepEqual([...out.subarray(28, 56)], [...request.subarray(0, 28)], 'quotes the request as the pinger sent it');
  assert.equal(relay.counters.drops.get('send-failed'), 1);
});

test('fragments from the TUN are reassembled; a reply above the TUN MTU goes back in fragments', () => {
  const { tun, net, fromTun, fromNet, relay } = setup(1500);
  const big = echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 1, 1, 3000);
  new IPv4View(big).setId(99);
  const frags: Uint8Array[] = [];
  fragmentIPv4(new IPv4View(big), 1500, new Uint8Array(2000), (b, o, l) => frags.push(b.slice(o, o + l)));
  assert.equal(frags.length, 3);
  fromTun(frags[2], frags[0], frags[1]); // out of order
  assert.equal(net.sent.length, 1);
  assert.equal(net.sent[0].icmp.length, 3008);
  assert.equal(new IcmpView(net.sent[0].icmp, 0, 3008).check(), undefined);
  fromNet(replyTo(net.sent[0]));
  assert.equal(tun.written.length, 3);
  const payload: number[] = [];
  for (const f of tun.written) {
    const ip = new IPv4View(f);
    assert.equal(ip.check(), undefined);
    assert.ok(ip.totalLength <= 1500);
    payload.push(...f.subarray(20));
  }
  const whole = Uint8Array.from(payload);
  assert.equal(new IcmpView(whole, 0, whole.length).check(), undefined, 'the fragments carry the whole, valid reply');
  assert.equal(relay.counters.reassembled, 1);
});

test('an error whose quote did not leave from this host is not relayed (a forged quote with the pinger as source)', () => {
  const { tun, net, fromTun, fromNet, relay } = setup();
  fromTun(echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 0x4100, 1));
  const sent = net.sent[0];
  // A quote naming the pinger (the TUN side) as source: never what the relay sent.
  const forged = new Uint8Array(20 + sent.icmp.length);
  forged.set(sent.icmp, 20);
  writeIPv4Header(forged, 0, { src: PINGER, dst: REMOTE, protocol: IPPROTO.ICMP, payloadLength: sent.icmp.length, ttl: 1 });
  const err = new Uint8Array(20 + 8 + 28);
  writeIcmpError(err, 0, ICMP_TYPE.TIME_EXCEEDED, 0, ROUTER, new IPv4View(forged));
  new IPv4View(err).setDst(HOST);
  const ignoredBefore = relay.counters.ignored;
  fromNet(err);
  assert.equal(tun.written.length, 0);
  assert.equal(relay.counters.ignored, ignoredBefore + 1);
  assert.equal(relay.counters.errorsRelayed, 0);
});

test('TCP or UDP from a source outside the TUN subnet gets no answer, like an echo request from it', () => {
  const { tun, fromTun, relay } = setup();
  const udp = new Uint8Array(28);
  writeIPv4Header(udp, 0, { src: A('10.9.9.9'), dst: REMOTE, protocol: IPPROTO.UDP, payloadLength: 8 });
  fromTun(udp);
  assert.equal(tun.written.length, 0);
  assert.deepEqual(relay.counters.drops.toJSON(), { 'bad-source': 1 });
});

test('TCP and UDP get Administratively Prohibited; IPv6, garbage and non-echo ICMP are dropped and counted', () => {
  const { tun, net, fromTun, relay } = setup();
  const udp = new Uint8Array(28);
  writeIPv4Header(udp, 0, { src: PINGER, dst: REMOTE, protocol: IPPROTO.UDP, payloadLength: 8 });
  const v6 = new Uint8Array(48);
  v6[0] = 0x60;
  fromTun(udp, v6, Uint8Array.of(0x45, 1, 2), echo(ICMP_TYPE.ECHO_REPLY, PINGER, REMOTE, 1, 1), echo(ICMP_TYPE.ECHO_REQUEST, A('10.9.9.9'), REMOTE, 1, 1));
  assert.equal(net.sent.length, 0, 'nothing left as ICMP');
  assert.equal(tun.written.length, 1);
  const icmp = new IcmpView(tun.written[0], 20, tun.written[0].length - 20);
  assert.deepEqual([icmp.type, icmp.code], [ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.ADMIN_PROHIBITED]);
  assert.deepEqual(relay.counters.drops.toJSON(), { ipv6: 1, malformed: 1, 'not-echo-request': 1, 'bad-source': 1 });
});

test('fuzz: random and mutated packets from both sides never throw, and every one is accounted for', () => {
  const { net, fromTun, fromNet, relay } = setup();
  const c = relay.counters;
  // Each packet from the TUN ends as exactly one of these (a fragment may also complete a request)...
  const tunOutcomes = (): number => c.requests + c.errorsGenerated + c.fragmentsIn + c.drops.total;
  // ...and each from the network as exactly one of these.
  const netOutcomes = (): number => c.replies + c.errorsRelayed + c.ignored + c.ownCopies + c.drops.total;
  let seed = 12345;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const valid = echo(ICMP_TYPE.ECHO_REQUEST, PINGER, REMOTE, 3, 3);
  for (let round = 0; round < 3000; round++) {
    // Every tenth packet is the valid request itself; the rest are cut, flipped or random.
    const p = round % 10 === 0 ? valid.slice() : rand(2) ? valid.slice(0, 1 + rand(valid.length)) : new Uint8Array(1 + rand(100)).map(() => rand(256));
    if (round % 10 !== 0 && (p.length === valid.length || rand(2))) for (let k = 0; k < 3; k++) p[rand(p.length)] = rand(256);
    const isFragment = p.length >= 8 && (((p[6] << 8) | p[7]) & 0x3fff) !== 0;
    let before = tunOutcomes();
    fromTun(p.slice()); // never throws: a fault inside is counted as internal-error (checked below)
    const tunDelta = tunOutcomes() - before;
    assert.ok(isFragment ? tunDelta >= 1 : tunDelta === 1, `round ${round}: a TUN packet was counted ${tunDelta} times`);
    before = netOutcomes();
    fromNet(p.slice());
    assert.equal(netOutcomes() - before, 1, `round ${round}: a network packet was counted once`);
  }
  assert.equal(c.drops.get('internal-error') ?? 0, 0);
  assert.equal(net.sent.length, c.requests);
  assert.ok(c.requests > 0 && c.drops.total > 0, 'the fuzz reached both outcomes');
});
