import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIPv6, parseIPv6 } from './addr6.js';
import { fromHex } from './bytes.js';
import { ECHO6_FRAGMENT_FIRST, ECHO6_FRAGMENT_LAST, ECHO6_REQUEST, ROUTER_SOLICIT } from './captured6.testdata.js';
import { fragmentIPv6, Reassembler6 } from './fragment6.js';
import { Icmp6View, ICMP6_TYPE, isLinkChatter, writeEcho6Packet } from './icmp6.js';
import { IPv6View, NEXT_HEADER, writeIPv6Header } from './ipv6.js';
import { put16 } from './bytes.js';
import { l4Checksum, payloadSum } from './payload-sum.js';
import { UdpView } from './udp.js';

const view = (hex: string): IPv6View => new IPv6View(fromHex(hex));

test('IPv6View reads a kernel echo request; Icmp6View verifies its pseudo-header checksum', () => {
  const ip = view(ECHO6_REQUEST);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.protocol, NEXT_HEADER.ICMPV6);
  assert.equal(ip.payloadLength, 64);
  assert.equal(ip.hopLimit, 64);
  assert.equal(formatIPv6(ip.src()), 'fd00:1::3');
  assert.equal(formatIPv6(ip.dst()), 'fd00:1::9');
  assert.equal(ip.isFragment, false);
  const icmp = new Icmp6View().attachTo(ip);
  assert.equal(icmp.check(), undefined);
  assert.equal(icmp.type, ICMP6_TYPE.ECHO_REQUEST);
  // The checksum covers the pseudo-header: change the destination and it fails.
  ip.buf[ip.dstOffset + 15] ^= 1;
  assert.equal(new Icmp6View().attachTo(ip).check(), 'bad-checksum');
});

test('the kernel\'s router solicitation is link chatter, not traffic', () => {
  const ip = view(ROUTER_SOLICIT);
  assert.equal(ip.check(), undefined);
  const icmp = new Icmp6View().attachTo(ip);
  assert.equal(icmp.check(), undefined);
  assert.equal(icmp.type, ICMP6_TYPE.ROUTER_SOLICIT);
  assert.ok(isLinkChatter(icmp.type));
  assert.ok(!isLinkChatter(ICMP6_TYPE.ECHO_REQUEST));
});

test('the kernel\'s fragments reassemble into one echo request whose checksum holds', () => {
  const r = new Reassembler6();
  const first = view(ECHO6_FRAGMENT_FIRST);
  const last = view(ECHO6_FRAGMENT_LAST);
  assert.equal(first.check(), undefined);
  assert.equal(last.check(), undefined);
  assert.ok(first.isFragment && first.moreFragments && first.fragmentOffset === 0);
  assert.equal(first.protocol, NEXT_HEADER.ICMPV6, 'the first fragment is walked to its upper layer');
  assert.equal(last.fragmentOffset, 1448);
  assert.equal(r.add(last, 0), undefined, 'out of order: the last fragment first');
  const whole = r.add(first, 1);
  assert.ok(whole instanceof Uint8Array);
  const ip = new IPv6View(whole);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.isFragment, false);
  assert.equal(ip.nextHeader, NEXT_HEADER.ICMPV6);
  assert.equal(ip.upperLength, 1608, 'ping -s 1600: 8-byte header and 1,600 bytes');
  assert.equal(new Icmp6View().attachTo(ip).check(), undefined);
  assert.equal(r.size, 0);
});

test('overlapping IPv6 fragments drop the datagram', () => {
  const r = new Reassembler6();
  const first = view(ECHO6_FRAGMENT_FIRST);
  first.check();
  assert.equal(r.add(first, 0), undefined);
  const overlapping = view(ECHO6_FRAGMENT_LAST);
  overlapping.check();
  overlapping.buf[overlapping.fragmentHeaderOffset + 2] = 0; // offset 1448 -> 8: inside the first
  overlapping.buf[overlapping.fragmentHeaderOffset + 3] = 8;
  overlapping.check();
  assert.equal(r.add(overlapping, 1), 'reassembly-overlap');
});

test('fragmentIPv6 splits a big reply into fragments that fit and reassemble to the original', () => {
  const src = parseIPv6('2001:db8::9')!;
  const dst = parseIPv6('fd00:1::3')!;
  const buf = new Uint8Array(5000);
  const len = writeEcho6Packet(buf, 0, { type: ICMP6_TYPE.ECHO_REPLY, src, dst, id: 7, seq: 1, payload: new Uint8Array(3000).fill(0x42) });
  const ip = new IPv6View(buf, 0, len);
  assert.equal(ip.check(), undefined);
  const pieces: Uint8Array[] = [];
  assert.ok(fragmentIPv6(ip, 1500, 0xabcd, new Uint8Array(2000), (b, o, l) => pieces.push(b.slice(o, o + l))));
  assert.equal(pieces.length, 3);
  assert.ok(pieces.every((p) => p.length <= 1500));
  const r = new Reassembler6();
  let whole: unknown;
  for (const p of pieces.reverse()) {
    const f = new IPv6View(p);
    assert.equal(f.check(), undefined);
    assert.equal(f.fragmentId, 0xabcd);
    whole = r.add(f, 0);
  }
  assert.deepEqual(whole, buf.subarray(0, len));
  assert.equal(fragmentIPv6(ip, 1200, 1, new Uint8Array(2000), () => assert.fail('below the IPv6 minimum MTU')), false);
});

test('IPv6View refuses malformed packets and unwalkable extension headers by name', () => {
  const ok = fromHex(ECHO6_REQUEST);
  assert.equal(new IPv6View(ok.subarray(0, 39)).check(), 'truncated');
  const v4 = ok.slice();
  v4[0] = 0x45;
  assert.equal(new IPv6View(v4).check(), 'not-ipv6');
  const long = ok.slice();
  long[5] = 200; // payload length past what was read
  assert.equal(new IPv6View(long).check(), 'bad-payload-length');
  const esp = ok.slice();
  esp[6] = NEXT_HEADER.ESP;
  const espView = new IPv6View(esp);
  assert.equal(espView.check(), 'unsupported-extension-header');
  assert.equal(espView.refusedExtension(), 'esp');
  // A destination-options header that claims more than the packet holds.
  const dopt = ok.slice();
  dopt[6] = NEXT_HEADER.DEST_OPTIONS;
  dopt[41] = 200;
  assert.equal(new IPv6View(dopt).check(), 'bad-extension-header');
  // Hop-by-hop anywhere but first.
  const hbh = ok.slice();
  hbh[6] = NEXT_HEADER.DEST_OPTIONS;
  hbh[40] = NEXT_HEADER.HOP_BY_HOP;
  hbh[41] = 0;
  assert.equal(new IPv6View(hbh).check(), 'bad-extension-header');
});

test('UdpView.check6: a UDP datagram over IPv6, its checksum over the IPv6 pseudo-header and never 0', () => {
  const b = new Uint8Array(40 + 8 + 12);
  writeIPv6Header(b, 0, { src: parseIPv6('fd00:10:244:1::2')!, dst: parseIPv6('fd00:10:244:2::2')!, nextHeader: NEXT_HEADER.UDP, payloadLength: 20 });
  put16(b, 40, 5000);
  put16(b, 42, 9);
  put16(b, 44, 20);
  b.set(new TextEncoder().encode('hello, ipv6!'), 48);
  const ip = new IPv6View(b);
  assert.equal(ip.check(), undefined);
  put16(b, 46, l4Checksum(payloadSum, b, 0, 40, b.length, NEXT_HEADER.UDP));
  const udp = new UdpView(b, ip.payloadOffset, ip.upperLength);
  assert.equal(udp.check6(ip), undefined);
  b[50] ^= 1;
  assert.equal(udp.check6(ip), 'bad-checksum');
  b[50] ^= 1;
  put16(b, 46, 0);
  assert.equal(udp.check6(ip), 'bad-checksum', 'no checksum is not allowed in IPv6');
});
