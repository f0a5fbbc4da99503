// The IPv6 relay's packet logic on the in-memory TUN and a fake network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTun } from '../tun/memory-tun.js';
import { formatIPv6, parseCidr6, parseIPv6 } from '../packet/addr6.js';
import { fromHex } from '../packet/bytes.js';
import { ROUTER_SOLICIT } from '../packet/captured6.testdata.js';
import { Icmp6View, ICMP6_TYPE, writeEcho6Packet } from '../packet/icmp6.js';
import { writeIcmp6Error } from '../packet/icmp6-errors.js';
import { IPv6View, NEXT_HEADER, writeIPv6Header } from '../packet/ipv6.js';
import { Icmp6Relay } from './relay6.js';
import { MemoryIcmp6 } from './memory-icmp.js';
import { feedRelay } from '../../harness/relay-rig.js';

const A = (s: string): Uint8Array => parseIPv6(s)!;
const PINGER = A('fd00:1::3');
const PINGER2 = A('fd00:1::4');
const REMOTE = A('2001:db8:b::2');
const HOST = A('2001:db8:a::1');
const ROUTER = A('2001:db8:a::fe');


function echo6(type: number, src: Uint8Array, dst: Uint8Array, id: number, seq: number, size = 56, hopLimit = 64): Uint8Array {
  const b = new Uint8Array(48 + size);
  writeEcho6Packet(b, 0, { type, src, dst, id, seq, payload: new Uint8Array(size).fill(seq & 0xff), hopLimit });
  return b;
}

function setup(mtu = 1500) {
  const tun = new MemoryTun();
  const net = new MemoryIcmp6();
  const relay = new Icmp6Relay(tun, net, { subnet: parseCidr6('fd00:1::3/64'), tunMtu: mtu, localAddresses: new Set([formatIPv6(HOST)]), now: () => 1000 });
  return { tun, net, relay, ...feedRelay(relay) };
}

/** What the remote answers to a message the relay sent: an echo reply to the host, with the id the relay used. */
function replyTo(sent: { icmp: Uint8Array }, from = REMOTE): Uint8Array {
  const id = (sent.icmp[4] << 8) | sent.icmp[5];
  const seq = (sent.icmp[6] << 8) | sent.icmp[7];
  return echo6(ICMP6_TYPE.ECHO_REPLY, from, HOST, id, seq, sent.icmp.length - 8, 63);
}

const view = (p: Uint8Array): { ip: IPv6View; icmp: Icmp6View } => {
  const ip = new IPv6View(p);
  assert.equal(ip.check(), undefined);
  const icmp = new Icmp6View().attachTo(ip);
  assert.equal(icmp.check(), undefined, 'the ICMPv6 checksum holds over the new pseudo-header');
  return { ip, icmp };
};

test('an echo request leaves with its hop limit; the reply comes back to the pinger with its own identifier', () => {
  const { tun, net, fromTun, fromNet, relay } = setup();
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 42, 1, 56, 7));
  assert.equal(net.sent.length, 1);
  assert.equal(net.sent[0].dst, '2001:db8:b::2');
  assert.equal(net.sent[0].hops, 7);
  fromNet(replyTo(net.sent[0]));
  assert.equal(tun.written.length, 1);
  const { ip, icmp } = view(tun.written[0]);
  assert.equal(formatIPv6(ip.dst()), 'fd00:1::3');
  assert.equal(formatIPv6(ip.src()), '2001:db8:b::2');
  assert.equal(icmp.type, ICMP6_TYPE.ECHO_REPLY);
  assert.equal(icmp.id, 42);
  assert.equal(relay.counters.replies, 1);
});

test('two pingers with the same identifier to one host get different identifiers outside and only their own replies', () => {
  const { tun, net, fromTun, fromNet } = setup();
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 7, 1), echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER2, REMOTE, 7, 1));
  const ids = net.sent.map((s) => (s.icmp[4] << 8) | s.icmp[5]);
  assert.notEqual(ids[0], ids[1]);
  fromNet(replyTo(net.sent[1]), replyTo(net.sent[0]));
  const to = tun.written.map((p) => formatIPv6(view(p).ip.dst()));
  assert.deepEqual(to, ['fd00:1::4', 'fd00:1::3']);
  assert.ok(tun.written.every((p) => view(p).icmp.id === 7));
});

test('link chatter is counted, other ICMPv6 and multicast dropped by name, a reply to nobody ignored, our own copies skipped', () => {
  const { tun, net, relay, fromTun, fromNet } = setup();
  fromTun(fromHex(ROUTER_SOLICIT));
  fromTun(echo6(ICMP6_TYPE.ECHO_REPLY, PINGER, REMOTE, 1, 1));
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, A('ff02::1'), 1, 1));
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, A('fd00:2::9'), REMOTE, 1, 1));
  assert.equal(net.sent.length, 0);
  assert.equal(relay.counters.linkChatter, 1);
  assert.deepEqual(relay.counters.drops.toJSON(), { 'bad-source': 1, multicast: 1, 'not-echo-request': 1 });
  fromNet(echo6(ICMP6_TYPE.ECHO_REPLY, REMOTE, HOST, 999, 1));
  assert.equal(relay.counters.ignored, 1);
  fromNet(echo6(ICMP6_TYPE.ECHO_REPLY, REMOTE, PINGER, 999, 1));
  assert.equal(relay.counters.ownCopies, 1);
  assert.equal(tun.written.length, 0);
});

test('malformed IPv6 from the TUN is counted by what is wrong, never thrown', () => {
  const { net, relay, fromTun } = setup();
  const good = echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 1, 1);
  const badChecksum = good.slice();
  badChecksum[60] ^= 0xff;
  const truncated = good.slice(0, 30);
  const esp = good.slice();
  esp[6] = NEXT_HEADER.ESP;
  const longer = good.slice();
  longer[5] += 8;
  fromTun(badChecksum, truncated, esp, longer);
  assert.equal(net.sent.length, 0);
  assert.deepEqual(relay.counters.drops.toJSON(), { 'bad-payload-length': 1, 'extension-esp': 1, malformed: 1, truncated: 1 });
});

test('an error about our request is rewritten for the pinger; one about a request not of ours is ignored', () => {
  const { tun, net, relay, fromTun, fromNet } = setup();
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 42, 1, 56, 1));
  // What the router quotes: the request as the host sent it (host source, the relay's identifier).
  const sent = net.sent[0];
  const asSent = new Uint8Array(40 + sent.icmp.length);
  writeIPv6Header(asSent, 0, { src: HOST, dst: REMOTE, nextHeader: NEXT_HEADER.ICMPV6, payloadLength: sent.icmp.length, hopLimit: 1 });
  asSent.set(sent.icmp, 40);
  const err = new Uint8Array(1280);
  const n = writeIcmp6Error(err, 0, ICMP6_TYPE.TIME_EXCEEDED, 0, ROUTER, new IPv6View(asSent));
  // writeIcmp6Error addresses the error to the offending source: the host.
  fromNet(err.slice(0, n));
  assert.equal(tun.written.length, 1);
  const { ip, icmp } = view(tun.written[0]);
  assert.equal(icmp.type, ICMP6_TYPE.TIME_EXCEEDED);
  assert.equal(formatIPv6(ip.src()), '2001:db8:a::fe');
  assert.equal(formatIPv6(ip.dst()), 'fd00:1::3');
  const quoted = new IPv6View(tun.written[0], 48);
  assert.equal(formatIPv6(quoted.src()), 'fd00:1::3', 'the quote shows what the pinger sent');
  assert.equal((tun.written[0][48 + 40 + 4] << 8) | tun.written[0][48 + 40 + 5], 42);
  // The same error about a request from a third address is not ours.
  const other = asSent.slice();
  other.set(A('2001:db8:a::7'), 8);
  const n2 = writeIcmp6Error(err, 0, ICMP6_TYPE.TIME_EXCEEDED, 0, ROUTER, new IPv6View(other));
  const e2 = err.slice(0, n2);
  fromNet(e2);
  assert.equal(tun.written.length, 1);
  assert.equal(relay.counters.ignored, 1);
});

test('a send the kernel refuses is answered with Destination Unreachable from the destination', () => {
  const { tun, net, relay, fromTun } = setup();
  net.refuse.set('2001:db8:b::2', 'ENETUNREACH');
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 42, 1));
  assert.equal(relay.counters.drops.get('send-failed'), 1);
  assert.equal(tun.written.length, 1);
  const { ip, icmp } = view(tun.written[0]);
  assert.equal(icmp.type, ICMP6_TYPE.DEST_UNREACH);
  assert.equal(icmp.code, 0);
  assert.equal(formatIPv6(ip.src()), '2001:db8:b::2');
});

test('a reply bigger than the TUN MTU goes in as fragments; TCP from a pinger is refused as administratively prohibited', () => {
  const { tun, net, relay, fromTun, fromNet } = setup(1280);
  fromTun(echo6(ICMP6_TYPE.ECHO_REQUEST, PINGER, REMOTE, 1, 1, 1200));
  fromNet(echo6(ICMP6_TYPE.ECHO_REPLY, REMOTE, HOST, (net.sent[0].icmp[4] << 8) | net.sent[0].icmp[5], 1, 3000));
  assert.equal(relay.counters.repliesFragmented, 1);
  assert.equal(tun.written.length, 3);
  for (const p of tun.written) {
    const f = new IPv6View(p);
    assert.equal(f.check(), undefined);
    assert.ok(f.isFragment && p.length <= 1280);
  }
  const syn = new Uint8Array(60);
  writeIPv6Header(syn, 0, { src: PINGER, dst: REMOTE, nextHeader: NEXT_HEADER.TCP, payloadLength: 20 });
  fromTun(syn);
  const { icmp } = view(tun.written[3]);
  assert.equal(icmp.type, ICMP6_TYPE.DEST_UNREACH);
  assert.equal(icmp.code, 1);
  assert.equal(relay.counters.errorsGenerated, 1);
});
