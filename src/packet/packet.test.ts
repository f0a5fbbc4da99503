import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from './bytes.js';
import { checksum, foldChecksum, updateChecksum16, updateChecksum32 } from './checksum.js';
import { IPv4View, IPPROTO, writeIPv4Header } from './ipv4.js';
import { IcmpView, ICMP_TYPE, writeIcmpEcho } from './icmp.js';
import { pseudoHeaderSum, UdpView } from './udp.js';
import { formatIPv4, parseCidr, parseIPv4, prefixContains, samePrefix } from './addr.js';
import { ECHO_REPLY, ECHO_REQUEST, UDP_PROBE } from './captured.testdata.js';

test('IPv4 and ICMP views read a captured echo request', () => {
  const b = fromHex(ECHO_REQUEST);
  const ip = new IPv4View(b);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.headerLength, 20);
  assert.equal(ip.totalLength, 84);
  assert.equal(ip.ttl, 64);
  assert.equal(ip.protocol, IPPROTO.ICMP);
  assert.equal(ip.dontFragment, true);
  assert.equal(ip.isFragment, false);
  assert.equal(formatIPv4(ip.src), '198.51.100.1');
  assert.equal(formatIPv4(ip.dst), '198.51.100.2');
  const icmp = new IcmpView(b, ip.payloadOffset, ip.payloadLength);
  assert.equal(icmp.check(), undefined);
  assert.equal(icmp.type, ICMP_TYPE.ECHO_REQUEST);
  assert.equal(icmp.id, 0x08ee);
  assert.equal(icmp.seq, 1);
  assert.equal(icmp.length, 64);
});

test('turning the captured request into the captured reply with incremental updates', () => {
  // The kernel's reply swaps addresses, changes type 8 -> 0 and uses its own
  // IP id and flags; apply the same changes incrementally and compare.
  const b = fromHex(ECHO_REQUEST);
  const want = fromHex(ECHO_REPLY);
  const ip = new IPv4View(b);
  const src = ip.src;
  ip.setSrc(ip.dst);
  ip.setDst(src);
  ip.setId(0xf484);
  // Flags word: DF -> none. Rewrite via a full recompute to cover fillChecksum.
  b[6] = 0;
  ip.fillChecksum();
  const icmp = new IcmpView(b, ip.payloadOffset, ip.payloadLength);
  icmp.setType(ICMP_TYPE.ECHO_REPLY);
  assert.equal(toHex(b), toHex(want));
  assert.equal(new IPv4View(b).check(), undefined);
  assert.equal(icmp.check(), undefined);
});

test('incremental TTL update matches a full recompute', () => {
  const b = fromHex(ECHO_REQUEST);
  const ip = new IPv4View(b);
  for (let ttl = 63; ttl >= 0; ttl--) {
    ip.setTtl(ttl);
    assert.equal(ip.check(), undefined, `ttl ${ttl}`);
  }
  const copy = b.slice();
  new IPv4View(copy).fillChecksum();
  assert.equal(toHex(copy), toHex(b));
});

test('RFC 1624 update handles the 0xffff/0x0000 corner', () => {
  // RFC 1624 section 3's example: a word changing so that eqn. 2 would
  // give -0 (0xffff). Eqn. 3 must agree with a full recompute.
  const b = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x00, 0x00]);
  const before = checksum(b, 0, 10);
  b[8] = 0x12; b[9] = 0x34;
  assert.equal(updateChecksum16(before, 0x0000, 0x1234), checksum(b, 0, 10));
  const c = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0x00]);
  const c0 = checksum(c, 0, 6);
  c[0] = 0x0a; c[1] = 0xf4; c[2] = 0x01; c[3] = 0x02;
  assert.equal(updateChecksum32(c0, 0xdeadbeef, 0x0af40102), checksum(c, 0, 6));
});

test('UDP view reads the captured traceroute probe; checksums over the pseudo-header', () => {
  const b = fromHex(UDP_PROBE);
  const ip = new IPv4View(b);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.ttl, 1);
  assert.equal(ip.protocol, IPPROTO.UDP);
  const udp = new UdpView(b, ip.payloadOffset, ip.payloadLength);
  assert.equal(udp.srcPort, 40980);
  assert.equal(udp.dstPort, 33434);
  assert.equal(udp.length, 40);
  // Captured before checksum offload ran: the field is the pseudo-header
  // partial sum, so a receiver-side check must reject it...
  assert.equal(udp.checksum, foldChecksum(pseudoHeaderSum(ip.src, ip.dst, IPPROTO.UDP, 40)) ^ 0xffff);
  assert.equal(udp.check(ip.src, ip.dst), 'bad-checksum');
  // ...and once filled in software it verifies, and catches a flipped bit.
  udp.fillChecksum(ip.src, ip.dst);
  assert.equal(udp.check(ip.src, ip.dst), undefined);
  b[udp.payloadOffset] ^= 0xff;
  assert.equal(udp.check(ip.src, ip.dst), 'bad-checksum');
});

test('check() names what is wrong with a malformed packet', () => {
  const good = fromHex(ECHO_REQUEST);
  const ip = new IPv4View();
  assert.equal(ip.attach(good, 0, 19).check(), 'truncated');
  const v6 = good.slice(); v6[0] = 0x60;
  assert.equal(ip.attach(v6).check(), 'not-ipv4');
  const ihl = good.slice(); ihl[0] = 0x44;
  assert.equal(ip.attach(ihl).check(), 'bad-header-length');
  assert.equal(ip.attach(good, 0, 80).check(), 'bad-total-length');
  const sum = good.slice(); sum[8] = 1;
  assert.equal(ip.attach(sum).check(), 'bad-checksum');
  const icmp = new IcmpView(good, 20, 7);
  assert.equal(icmp.check(), 'truncated');
  const bad = good.slice(); bad[40] ^= 1;
  assert.equal(icmp.attach(bad, 20, 64).check(), 'bad-checksum');
});

test('builders produce packets the views accept, byte-equal to the capture', () => {
  const captured = fromHex(ECHO_REQUEST);
  const b = new Uint8Array(84);
  const payload = captured.subarray(28);
  writeIcmpEcho(b, 20, ICMP_TYPE.ECHO_REQUEST, 0x08ee, 1, payload);
  writeIPv4Header(b, 0, {
    src: parseIPv4('198.51.100.1')!, dst: parseIPv4('198.51.100.2')!, protocol: IPPROTO.ICMP,
    payloadLength: 64, ttl: 64, id: 0x9ad8, dontFragment: true,
  });
  assert.equal(toHex(b), toHex(captured));
});

test('address and CIDR parsing', () => {
  assert.equal(parseIPv4('10.244.1.3'), 0x0af40103);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['10.244.1', '256.1.1.1', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', '']) assert.equal(parseIPv4(bad), undefined, bad);
  const p = parseCidr('10.244.1.3/24');
  assert.equal(formatIPv4(p.network), '10.244.1.0');
  assert.equal(p.length, 24);
  assert.ok(prefixContains(p, parseIPv4('10.244.1.200')!));
  assert.ok(!prefixContains(p, parseIPv4('10.244.2.1')!));
  assert.ok(samePrefix(p, parseCidr('10.244.1.0/24')) && !samePrefix(p, parseCidr('10.244.1.0/25')) && !samePrefix(p, parseCidr('10.244.2.0/24')));
  assert.equal(parseCidr('0.0.0.0/0').network, 0);
  assert.throws(() => parseCidr('10.1.2.3/33'), /prefix length 33: it must be 0 to 32/);
  assert.throws(() => parseCidr('10.1.2.3'), /no prefix length/);
  assert.throws(() => parseCidr('10.1.2/8'), /not an IPv4 address/);
});
