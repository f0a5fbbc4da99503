// The overlay's IPv6 path on the in-memory TUN and a fake network: a
// dual-stack node (10.244.1.0/24 and fd00:10:244:1::/64) among three.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch } from '../io/batch.js';
import { MemoryTun } from '../tun/memory-tun.js';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { formatIPv6, parseCidr6, parseIPv6 } from '../packet/addr6.js';
import { Icmp6View, ICMP6_TYPE, writeEcho6Packet } from '../packet/icmp6.js';
import { writeEchoPacket } from '../packet/icmp.js';
import { IPv6View, NEXT_HEADER } from '../packet/ipv6.js';
import { parseLeases } from '../subnet/leases.js';
import { Overlay } from './overlay.js';
import { plainTransport } from '../backend/udp/transport.js';
import { MemoryUdp } from './memory-udp.js';

const NETWORK = parseCidr('10.244.0.0/16');
const NETWORK6 = parseCidr6('fd00:10:244::/48');
const A6 = (s: string): Uint8Array => parseIPv6(s)!;


function echo6(src: string, dst: string, size = 56, hopLimit = 64): Uint8Array {
  const b = new Uint8Array(48 + size);
  writeEcho6Packet(b, 0, { type: ICMP6_TYPE.ECHO_REQUEST, src: A6(src), dst: A6(dst), id: 1, seq: 1, payload: new Uint8Array(size), hopLimit });
  return b;
}

function setup(pathMtu = 1472, dualStack = true) {
  const tun = new MemoryTun();
  const net = new MemoryUdp();
  const ipv6 = dualStack ? { network6: NETWORK6, subnet6: parseCidr6('fd00:10:244:1::/64') } : undefined;
  const overlay = new Overlay(tun, net, { transport: plainTransport, network: NETWORK, subnet: parseCidr('10.244.1.0/24'), ipv6, tunMtu: pathMtu, pathMtu, now: () => 0 });
  overlay.setLeases(parseLeases({ nodes: [
    { subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' },
    { subnet: '10.244.2.0/24', subnetV6: 'fd00:10:244:2::/64', publicIp: '198.51.100.2' },
    { subnet: '10.244.3.0/24', publicIp: '198.51.100.3' }, // an IPv4-only node
  ] }, NETWORK, 'test', NETWORK6));
  const batch = new RxBatch(16, 4096);
  const fromTun = (...ps: Uint8Array[]): void => { batch.clear(); ps.forEach((p) => batch.append(p)); overlay.fromTun(batch); };
  const fromNet = (addr: string, ...ps: Uint8Array[]): void => { batch.clear(); ps.forEach((p) => batch.append(p, parseIPv4(addr)!, 8285)); overlay.fromNetwork(batch); };
  return { tun, net, overlay, fromTun, fromNet };
}

const icmpOf = (p: Uint8Array): { ip: IPv6View; icmp: Icmp6View } => {
  const ip = new IPv6View(p);
  assert.equal(ip.check(), undefined);
  const icmp = new Icmp6View().attachTo(ip);
  assert.equal(icmp.check(), undefined);
  return { ip, icmp };
};

test('an IPv6 packet goes to the node that owns its /64, over the IPv4 underlay, and comes in with its hop limit decremented', () => {
  const { net, tun, overlay, fromTun, fromNet } = setup();
  fromTun(echo6('fd00:10:244:1::5', 'fd00:10:244:2::7'));
  assert.equal(net.sent.length, 1);
  assert.equal(net.sent[0].addr, parseIPv4('198.51.100.2'));
  fromNet('198.51.100.2', echo6('fd00:10:244:2::7', 'fd00:10:244:1::5', 56, 64));
  assert.equal(tun.written.length, 1);
  assert.equal(new IPv6View(tun.written[0]).hopLimit, 63);
  assert.equal(overlay.counters.delivered, 1);
  assert.equal(overlay.peers.find((p) => p.subnet6)!.rxPackets, 1);
});

test('no route, outside the network and own subnet: answered or dropped, each counted', () => {
  const { net, tun, overlay, fromTun } = setup();
  fromTun(echo6('fd00:10:244:1::5', 'fd00:10:244:9::1'));
  fromTun(echo6('fd00:10:244:1::5', '2001:db8::1'));
  fromTun(echo6('fd00:10:244:1::5', 'fd00:10:244:1::9'));
  assert.equal(net.sent.length, 0);
  assert.deepEqual(overlay.counters.drops.toJSON(), { 'no-route': 1, 'outside-network': 1, 'own-subnet': 1 });
  const { ip, icmp } = icmpOf(tun.written[0]);
  assert.equal(icmp.type, ICMP6_TYPE.DEST_UNREACH);
  assert.equal(formatIPv6(ip.src()), 'fd00:10:244:9::1', 'from the unreachable destination (our own address would be a martian)');
  assert.equal(formatIPv6(ip.dst()), 'fd00:10:244:1::5');
});

test('bigger than the path: Packet Too Big with the path MTU, never fragmented', () => {
  const { net, tun, overlay, fromTun } = setup(1400);
  fromTun(echo6('fd00:10:244:1::5', 'fd00:10:244:2::7', 1400));
  assert.equal(net.sent.length, 0);
  assert.equal(overlay.counters.drops.get('too-big'), 1);
  const { icmp } = icmpOf(tun.written[0]);
  assert.equal(icmp.type, ICMP6_TYPE.PACKET_TOO_BIG);
  assert.equal(icmp.mtu, 1400);
});

test('from a peer: a source outside its IPv6 subnet, a destination not ours, and an IPv4-only peer are dropped; hop limit 1 is answered through the overlay', () => {
  const { net, tun, overlay, fromNet } = setup();
  fromNet('198.51.100.2', echo6('fd00:10:244:7::7', 'fd00:10:244:1::5'));
  fromNet('198.51.100.2', echo6('fd00:10:244:2::7', 'fd00:10:244:3::5'));
  fromNet('198.51.100.3', echo6('fd00:10:244:3::7', 'fd00:10:244:1::5'));
  assert.equal(tun.written.length, 0);
  assert.deepEqual(overlay.counters.drops.toJSON(), { 'not-for-this-node': 1, 'spoofed-source': 2 });
  fromNet('198.51.100.2', echo6('fd00:10:244:2::7', 'fd00:10:244:1::5', 56, 1));
  assert.equal(tun.written.length, 0);
  assert.equal(net.sent.length, 1, 'Time Exceeded goes back through the overlay');
  const { ip, icmp } = icmpOf(net.sent[0].packet);
  assert.equal(icmp.type, ICMP6_TYPE.TIME_EXCEEDED);
  assert.equal(formatIPv6(ip.src()), 'fd00:10:244:1::', 'from this node\'s IPv6 hop address');
});

test('malformed IPv6 is counted by kind; an IPv4-only node drops IPv6 as ipv6', () => {
  const { overlay, fromTun } = setup();
  const esp = echo6('fd00:10:244:1::5', 'fd00:10:244:2::7');
  esp[6] = NEXT_HEADER.ESP;
  const short = echo6('fd00:10:244:1::5', 'fd00:10:244:2::7').subarray(0, 50);
  fromTun(esp, short);
  assert.deepEqual(overlay.counters.drops.toJSON(), { 'ipv6-extension': 1, 'ipv6-malformed': 1 });
  const v4only = setup(1472, false);
  v4only.fromTun(echo6('fd00:10:244:1::5', 'fd00:10:244:2::7'));
  assert.deepEqual(v4only.overlay.counters.drops.toJSON(), { ipv6: 1 });
});

test('leases: subnetV6 must lie in the IPv6 network, not overlap, be /64 or shorter; an IPv4-only node leaves it alone', () => {
  const parse = (nodes: unknown[], network6 = NETWORK6) => parseLeases({ nodes }, NETWORK, 'f', network6);
  assert.throws(() => parse([{ subnet: '10.244.1.0/24', subnetV6: 'fd00:99::/64', publicIp: '198.51.100.1' }]), /outside the IPv6 network/);
  assert.throws(() => parse([{ subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' }, { subnet: '10.244.2.0/24', subnetV6: 'fd00:10:244::/56', publicIp: '198.51.100.2' }]), /overlaps/);
  assert.throws(() => parse([{ subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/80', publicIp: '198.51.100.1' }]), /\/64 or shorter/);
  const v4only = parseLeases({ networkV6: 'fd00:10:244::/48', nodes: [{ subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' }] }, NETWORK, 'f');
  assert.equal(v4only[0].subnet6, undefined);
  assert.throws(() => parseLeases({ networkV6: 'fd00:10:245::/48', nodes: [] }, NETWORK, 'f', NETWORK6), /differs from the IPv6 --network/);
});

test('an IPv6-only node: IPv6 to the peer that owns its /64; IPv4 dropped as "ipv4" either way; its own lease found by its IPv6 subnet', () => {
  const tun = new MemoryTun();
  const net = new MemoryUdp();
  const overlay = new Overlay(tun, net, { transport: plainTransport, ipv6: { network6: NETWORK6, subnet6: parseCidr6('fd00:10:244:1::/64') }, tunMtu: 1472, pathMtu: 1472, now: () => 0 });
  overlay.setLeases(parseLeases({ nodes: [
    { subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' },
    { subnetV6: 'fd00:10:244:2::/64', publicIp: '198.51.100.2' },
  ] }, undefined, 'test', NETWORK6));
  assert.deepEqual(overlay.peers.map((p) => [p.subnet, formatIPv6(p.subnet6!.network)]), [[undefined, 'fd00:10:244:2::']], 'its own lease is left out');
  const batch = new RxBatch(16, 4096);
  batch.append(echo6('fd00:10:244:1::5', 'fd00:10:244:2::7'));
  const v4 = new Uint8Array(84);
  writeEchoPacket(v4, 0, { src: parseIPv4('10.244.1.5')!, dst: parseIPv4('10.244.2.7')!, type: 8, id: 1, seq: 1, payload: new Uint8Array(56) });
  batch.append(v4);
  overlay.fromTun(batch);
  assert.equal(net.sent.length, 1);
  assert.equal(net.sent[0].addr, parseIPv4('198.51.100.2'));
  batch.clear();
  batch.append(v4, parseIPv4('198.51.100.2')!, 8285);
  batch.append(echo6('fd00:10:244:2::7', 'fd00:10:244:1::5'), parseIPv4('198.51.100.2')!, 8285);
  overlay.fromNetwork(batch);
  assert.equal(tun.written.length, 1);
  assert.equal(new IPv6View(tun.written[0]).version, 6);
  assert.deepEqual(overlay.counters.drops.toJSON(), { ipv4: 2 });
  assert.throws(() => new Overlay(tun, net, { transport: plainTransport, tunMtu: 1472, pathMtu: 1472 }), /IPv4 subnet, an IPv6 one, or both/);
});

test('leases of an IPv6-only node: every entry needs subnetV6; IPv4 subnets in the file are left alone', () => {
  const leases = parseLeases({ nodes: [{ subnet: '10.244.1.0/24', subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' }] }, undefined, 'f', NETWORK6);
  assert.equal(leases[0].subnet, undefined);
  assert.throws(() => parseLeases({ nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }] }, undefined, 'f', NETWORK6), /nodes\.0 has no subnetV6 \(this node runs IPv6 only/);
  assert.throws(() => parseLeases({ nodes: [{ subnetV6: 'fd00:10:244:1::/64', publicIp: '198.51.100.1' }] }, NETWORK, 'f', NETWORK6), /nodes\.0 has no subnet \(this node runs the IPv4 network/);
});
