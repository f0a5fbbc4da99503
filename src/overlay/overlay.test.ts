// The overlay's packet logic on the in-memory TUN and a fake network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch } from '../io/batch.js';
import { MemoryTun } from '../tun/memory-tun.js';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { IPv4View, IPPROTO, writeIPv4Header } from '../packet/ipv4.js';
import { checksum } from '../packet/checksum.js';
import { IcmpView, ICMP_TYPE, ICMP_UNREACH } from '../packet/icmp.js';
import { parseLeases } from '../subnet/leases.js';
import { Overlay } from './overlay.js';
import { peerFromLease, RouteTable } from './route-table.js';
import { plainTransport } from '../backend/udp/transport.js';
import { MemoryUdp } from './memory-udp.js';

const A = (s: string): number => parseIPv4(s)!;
const NETWORK = parseCidr('10.244.0.0/16');


function udpPacket(src: string, dst: string, payload: number, ttl = 64, df = true): Uint8Array {
  const b = new Uint8Array(28 + payload);
  writeIPv4Header(b, 0, { src: A(src), dst: A(dst), protocol: IPPROTO.UDP, payloadLength: 8 + payload, ttl, dontFragment: df });
  b[24] = 0; b[25] = 8 + payload; // UDP length (checksum 0: none)
  return b;
}

function setup(pathMtu = 1472) {
  const tun = new MemoryTun();
  const net = new MemoryUdp();
  const overlay = new Overlay(tun, net, { transport: plainTransport, network: NETWORK, subnet: parseCidr('10.244.1.0/24'), tunMtu: pathMtu, pathMtu, now: () => 0 });
  overlay.setLeases(parseLeases({ nodes: [
    { subnet: '10.244.1.0/24', publicIp: '198.51.100.1' },
    { subnet: '10.244.2.0/24', publicIp: '198.51.100.2' },
    { subnet: '10.244.3.0/24', publicIp: '198.51.100.3', port: 9000 },
  ] }, NETWORK, 'test'));
  const batch = new RxBatch(128, 2048);
  const fromTun = (...ps: Uint8Array[]): void => { batch.clear(); ps.forEach((p) => batch.append(p)); overlay.fromTun(batch); };
  const fromNet = (addr: string, port: number, ...ps: Uint8Array[]): void => {
    batch.clear();
    ps.forEach((p) => batch.append(p, A(addr), port));
    overlay.fromNetwork(batch);
  };
  return { tun, net, overlay, fromTun, fromNet };
}

test('longest-prefix match picks the most specific subnet', () => {
  const mk = (s: string, ip: string) => ({ subnet: parseCidr(s), publicIp: A(ip), port: 1, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 });
  const t = new RouteTable([mk('10.244.0.0/16', '198.51.100.9'), mk('10.244.2.0/24', '198.51.100.2'), mk('10.244.2.128/25', '198.51.100.3')]);
  assert.equal(t.lookup(A('10.244.2.200'))!.publicIp, A('198.51.100.3'));
  assert.equal(t.lookup(A('10.244.2.1'))!.publicIp, A('198.51.100.2'));
  assert.equal(t.lookup(A('10.244.7.1'))!.publicIp, A('198.51.100.9'));
  assert.equal(t.lookup(A('10.245.0.1')), undefined);
});

test('leases: overlapping, outside the network, duplicate public IPs, host bits — each named', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }, { subnet: '10.244.1.128/25', publicIp: '198.51.100.2' }] }, /nodes\.1 subnet 10\.244\.1\.128\/25 overlaps 10\.244\.1\.0\/24/],
    [{ nodes: [{ subnet: '10.9.1.0/24', publicIp: '198.51.100.1' }] }, /outside the network 10\.244\.0\.0\/16/],
    [{ nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }, { subnet: '10.244.2.0/24', publicIp: '198.51.100.1' }] }, /public IP 198\.51\.100\.1 is listed twice/],
    [{ nodes: [{ subnet: '10.244.1.1/24', publicIp: '198.51.100.1' }] }, /no host bits/],
    [{ network: '10.0.0.0/8', nodes: [] }, /differs from --network/],
    [{ nodes: [{ subnet: '10.244.1.0/24' }] }, /publicIp/],
  ];
  for (const [input, message] of cases) assert.throws(() => parseLeases(input, NETWORK, 'leases.json'), message);
});

test('packets go to the owning node, one datagram each, in order', () => {
  const { net, fromTun, overlay } = setup();
  // Ten full-size packets that differ in their payloads, between others.
  const big = (_: unknown, k: number): Uint8Array => {
    const p = udpPacket('10.244.1.2', '10.244.2.2', 1444);
    p.fill(k + 1, 28);
    return p;
  };
  const packets = [udpPacket('10.244.1.2', '10.244.3.2', 100), ...Array.from({ length: 10 }, big), udpPacket('10.244.1.2', '10.244.2.2', 500), udpPacket('10.244.1.2', '10.244.2.2', 40)];
  fromTun(...packets);
  assert.equal(net.sent.length, packets.length);
  assert.deepEqual(net.sent.map((s) => [...s.packet]), packets.map((p) => [...p]), 'the same bytes, in the same order');
  const to = (ip: string, port = 8285): number[] => [A(ip), port];
  assert.deepEqual(net.sent.map((s) => [s.addr, s.port]), [to('198.51.100.3', 9000), ...Array(12).fill(to('198.51.100.2'))]);
  assert.equal(overlay.counters.sent, packets.length);
});

test('a datagram the kernel refuses is counted as send-failed; the rest of the batch still goes', () => {
  const { net, fromTun, overlay } = setup();
  net.refuse.set(A('198.51.100.3'), 'EHOSTUNREACH');
  fromTun(udpPacket('10.244.1.2', '10.244.3.2', 10), udpPacket('10.244.1.2', '10.244.2.2', 10), udpPacket('10.244.1.2', '10.244.3.2', 10));
  assert.equal(net.sent.length, 1);
  assert.equal(overlay.counters.sent, 1);
  assert.deepEqual(overlay.counters.drops.toJSON(), { 'send-failed': 2 });
});

test('from the network: a datagram is one whole packet (up to 64 KiB), never a truncated or padded one; IPv6, bad options and impossible fragments are dropped', () => {
  const { tun, overlay } = setup();
  const batch = new RxBatch(8, 65536);
  const fromNet = (...ps: Uint8Array[]): void => {
    batch.clear();
    ps.forEach((p) => batch.append(p, A('198.51.100.2'), 8285));
    overlay.fromNetwork(batch);
  };
  const big = udpPacket('10.244.2.2', '10.244.1.2', 3000 - 28, 64, false); // larger than the old 2,048-byte slots
  const padded = new Uint8Array(100);
  padded.set(udpPacket('10.244.2.2', '10.244.1.2', 10));
  const v6 = new Uint8Array(60);
  v6[0] = 0x60;
  v6[5] = 20; // payload length: 40 + 20 = the datagram
  const notV6 = new TextEncoder().encode('garbage, not an IP packet'); // 'g' is 0x67: a 6 nibble, but malformed
  const badOptions = withHeaderBytes(udpPacket('10.244.2.2', '10.244.1.2', 10), [0x44, 9, 5, 0]); // an option claiming 9 bytes in a 4-byte room
  const goodOptions = withHeaderBytes(udpPacket('10.244.2.2', '10.244.1.2', 10), [1, 1, 1, 0]);
  const pastEnd = udpPacket('10.244.2.2', '10.244.1.2', 100);
  pastEnd[6] = 0x1f; // fragment offset 65,528: ends past 65,535
  pastEnd[7] = 0xff;
  fixIpChecksum(pastEnd);
  fromNet(big, padded, v6, notV6, badOptions, goodOptions, pastEnd);
  assert.deepEqual(tun.written.map((p) => p.length), [3000, goodOptions.length]);
  assert.deepEqual(overlay.counters.drops.toJSON(), { ipv6: 1, malformed: 4 });
});

/** The packet with a 4-byte options field (bytes as given) inserted after its 20-byte header. */
function withHeaderBytes(p: Uint8Array, options: number[]): Uint8Array {
  const out = new Uint8Array(p.length + 4);
  out.set(p.subarray(0, 20));
  out.set(options, 20);
  out.set(p.subarray(20), 24);
  out[0] = 0x46;
  out[2] = out.length >> 8;
  out[3] = out.length & 0xff;
  fixIpChecksum(out);
  return out;
}

function fixIpChecksum(p: Uint8Array): void {
  p[10] = 0;
  p[11] = 0;
  const c = checksum(p, 0, (p[0] & 0x0f) * 4);
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

test('from the network: only known nodes, their own subnets, for ours; TTL decremented; expiry answered through the overlay', () => {
  const { tun, net, overlay, fromNet } = setup();
  fromNet('198.51.100.2', 8285, udpPacket('10.244.2.2', '10.244.1.2', 10, 64)); // delivered
  fromNet('198.51.100.2', 9999, udpPacket('10.244.2.2', '10.244.1.2', 10)); // wrong port
  fromNet('198.51.100.2', 8285, udpPacket('10.244.3.2', '10.244.1.2', 10)); // spoofed source
  fromNet('198.51.100.2', 8285, udpPacket('10.244.2.2', '10.244.3.2', 10)); // not for us
  fromNet('198.51.100.2', 8285, Uint8Array.of(1, 2, 3)); // garbage
  fromNet('198.51.100.2', 8285, udpPacket('10.244.2.2', '10.244.1.2', 10, 1)); // TTL expires here
  assert.equal(tun.written.length, 1);
  assert.equal(new IPv4View(tun.written[0]).ttl, 63);
  assert.equal(new IPv4View(tun.written[0]).check(), undefined);
  assert.deepEqual(overlay.counters.drops.toJSON(), { 'unknown-peer': 1, 'spoofed-source': 1, 'not-for-this-node': 1, malformed: 1, 'ttl-expired': 1 });
  const te = net.sent.at(-1)!;
  assert.deepEqual([te.addr, te.port], [A('198.51.100.2'), 8285], 'Time Exceeded goes back to the sender\'s node');
  const ip = new IPv4View(te.packet);
  const icmp = new IcmpView(te.packet, 20, ip.payloadLength);
  assert.deepEqual([ip.src, ip.dst, icmp.type, icmp.check()], [A('10.244.1.0'), A('10.244.2.2'), ICMP_TYPE.TIME_EXCEEDED, undefined]);
});

test('unknown destinations get Net Unreachable; too-big DF packets get Fragmentation Needed; others are fragmented', () => {
  const { tun, net, fromTun, overlay } = setup(1472);
  fromTun(udpPacket('10.244.1.2', '10.244.9.9', 10));
  const unreach = new IcmpView(tun.written[0], 20, tun.written[0].length - 20);
  assert.deepEqual([new IPv4View(tun.written[0]).src, unreach.type, unreach.code], [A('10.244.9.9'), ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.NET]);
  const o2 = setup(1400);
  o2.fromTun(udpPacket('10.244.1.2', '10.244.2.2', 1444, 64, true), udpPacket('10.244.1.2', '10.244.2.2', 1444, 64, false));
  const fn = new IcmpView(o2.tun.written[0], 20, o2.tun.written[0].length - 20);
  assert.deepEqual([fn.type, fn.code, fn.nextHopMtu], [ICMP_TYPE.DEST_UNREACH, ICMP_UNREACH.FRAG_NEEDED, 1400]);
  assert.equal(o2.net.sent.length, 2, 'the non-DF packet left in two fragments');
  for (const s of o2.net.sent) assert.ok(s.packet.length <= 1400 && new IPv4View(s.packet).check() === undefined);
  assert.equal(overlay.counters.drops.get('no-route'), 1);
  assert.equal(net.sent.length, 0);
});

test('every peer has one object shape, whatever its lease names (a per-combination shape made rebuilds 25x slower)', () => {
  const v4 = peerFromLease({ subnet: parseCidr('10.244.1.0/24'), publicIp: 1, port: 8285 });
  const dual = peerFromLease({ subnet: parseCidr('10.244.2.0/24'), subnet6: { network: new Uint8Array(16), address: new Uint8Array(16), length: 64 }, publicIp: 2, port: 8285, publicKey: 'k' });
  const v6only = peerFromLease({ subnet6: { network: new Uint8Array(16), address: new Uint8Array(16), length: 64 }, publicIp: 3, port: 8285 });
  assert.deepEqual(Object.keys(v4), Object.keys(dual));
  assert.deepEqual(Object.keys(v4), Object.keys(v6only));
});
