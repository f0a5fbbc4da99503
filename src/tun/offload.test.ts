// The TUN offload edge on super-packets captured from a real TUN
// (offload.testdata.ts): split on read, merge on write, and what neither
// may do. Checksums are verified with the TypeScript kernel, independent of
// the native one the edge uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch, SpanList } from '../io/batch.js';
import { fromHex, get16, get32, put16, put32 } from '../packet/bytes.js';
import { checksum, sumWords32 } from '../packet/checksum.js';
import { IPv4View, IPPROTO } from '../packet/ipv4.js';
import { l4Checksum, l4ChecksumValid, payloadSum, SumFn } from '../packet/payload-sum.js';
import { GroCoalescer } from './gro-coalesce.js';
import { GsoSplitter } from './gso-split.js';
import { CAPTURED_TCP_SUPER, CAPTURED_UDP_NEEDS_CSUM, CAPTURED_UDP_SUPER } from './offload.testdata.js';
import { emptyVnetHdr, GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4, readVnetHdr, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, writeVnetHdr } from './virtio-net-hdr.js';

const refSum: SumFn = (b, s, e, i) => sumWords32(b, s, e, i);

function split(raw: Uint8Array, out = new RxBatch(128, 2048)): { out: RxBatch; drop: string | undefined; delivered: number } {
  let delivered = 0;
  const drop = new GsoSplitter(payloadSum).split(raw, 0, raw.length, out, (b) => { delivered += b.count; });
  return { out, drop, delivered };
}

/** Asserts that every entry is a plain IPv4 packet with correct IP and L4 checksums; returns the packets. */
function checkedPackets(b: RxBatch): Uint8Array[] {
  const ip = new IPv4View();
  return Array.from({ length: b.count }, (_, i) => {
    const p = b.packet(i).slice();
    ip.attach(p, 0, p.length);
    assert.equal(ip.check(), undefined, `segment ${i}: IPv4 header`);
    assert.equal(ip.totalLength, p.length);
    assert.ok(l4ChecksumValid(refSum, p, 0, 20, p.length, ip.protocol), `segment ${i}: L4 checksum`);
    return p;
  });
}

const l4Payload = (p: Uint8Array): Uint8Array => p.subarray(20 + (p[9] === IPPROTO.TCP ? (p[32] >>> 4) * 4 : 8));
const concat = (ps: Uint8Array[]): number[] => ps.flatMap((p) => [...p]);

test('a captured TSO super-packet splits into MSS-size segments with their own ids, sequence numbers, flags and checksums', () => {
  const raw = fromHex(CAPTURED_TCP_SUPER);
  const h = readVnetHdr(raw, 0, emptyVnetHdr());
  assert.equal(h.gsoType, GSO_TCPV4);
  const { out, drop } = split(raw);
  assert.equal(drop, undefined);
  const segs = checkedPackets(out);
  const superPayload = raw.subarray(VNET_HDR_LEN + 40);
  assert.equal(segs.length, Math.ceil(superPayload.length / h.gsoSize));
  assert.ok(segs.length >= 3, 'the capture holds a real multi-segment flight');
  assert.deepEqual(concat(segs.map(l4Payload)), [...superPayload], 'payload intact and in order');
  const seq0 = get32(raw, VNET_HDR_LEN + 24);
  const id0 = get16(raw, VNET_HDR_LEN + 4);
  const flags0 = raw[VNET_HDR_LEN + 33];
  segs.forEach((s, k) => {
    assert.equal(get32(s, 24), (seq0 + k * h.gsoSize) >>> 0, `seq of ${k}`);
    assert.equal(get16(s, 4), (id0 + k) & 0xffff, `IP id of ${k}`);
    const last = k === segs.length - 1;
    assert.equal(s[33] & 0x09, last ? flags0 & 0x09 : 0, `FIN/PSH only on the last (${k})`);
    assert.equal(l4Payload(s).length, last ? superPayload.length - k * h.gsoSize : h.gsoSize);
  });
});

test('a captured USO super-packet splits into datagrams with their own lengths and checksums', () => {
  const raw = fromHex(CAPTURED_UDP_SUPER);
  const h = readVnetHdr(raw, 0, emptyVnetHdr());
  assert.equal(h.gsoType, GSO_UDP_L4);
  const { out, drop } = split(raw);
  assert.equal(drop, undefined);
  const segs = checkedPackets(out);
  assert.equal(segs.length, 8);
  segs.forEach((s) => assert.equal(get16(s, 24), s.length - 20, 'UDP length'));
  assert.deepEqual(concat(segs.map(l4Payload)), [...raw.subarray(VNET_HDR_LEN + 28)]);
});

test('a packet left with NEEDS_CSUM gets its checksum finished; a full batch is handed on mid-split', () => {
  const raw = fromHex(CAPTURED_UDP_NEEDS_CSUM);
  const h = readVnetHdr(raw, 0, emptyVnetHdr());
  assert.equal(h.gsoType, GSO_NONE);
  assert.equal(h.flags & VNET_F_NEEDS_CSUM, VNET_F_NEEDS_CSUM);
  assert.equal(checkedPackets(split(raw).out).length, 1);
  const small = new RxBatch(3, 2048);
  const r = split(fromHex(CAPTURED_UDP_SUPER), small);
  assert.equal(r.delivered + r.out.count, 8, 'two full batches of 3 went to deliver, 2 are left');
  assert.equal(r.delivered, 6);
});

test('inconsistent virtio headers are counted as drops, never thrown', () => {
  const tcp = fromHex(CAPTURED_TCP_SUPER);
  const cases: Array<[string, (b: Uint8Array) => Uint8Array]> = [
    ['shorter than a virtio header', (b) => b.subarray(0, 6)],
    ['TCPV4 over a UDP packet', (b) => { b[VNET_HDR_LEN + 9] = IPPROTO.UDP; return b; }],
    ['gso_size 0', (b) => { put16(b, 4, 0); return b; }],
    ['TCP header length beyond the packet', (b) => b.subarray(0, VNET_HDR_LEN + 30)],
    ['csum_start beyond the packet', (b) => { b[1] = GSO_NONE; put16(b, 6, 60000); return b; }],
    ['not IPv4', (b) => { b[VNET_HDR_LEN] = 0x65; return b; }],
    ['a gso_type we do not take', (b) => { b[1] = 4; return b; }],
  ];
  for (const [what, mutate] of cases) {
    const { drop, out } = split(mutate(tcp.slice()));
    assert.ok(drop, `${what}: dropped`);
    assert.equal(out.count, 0, what);
  }
  // And random damage anywhere in the headers.
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let i = 0; i < 2000; i++) {
    const b = (i & 1 ? fromHex(CAPTURED_UDP_SUPER) : tcp.slice());
    for (let k = 0; k < 3; k++) b[rand(VNET_HDR_LEN + 60)] = rand(256);
    assert.doesNotThrow(() => split(b.subarray(0, VNET_HDR_LEN + rand(b.length))));
  }
});

function coalesce(packets: Uint8Array[], options = { tcp: true, udp: true }): { items: Uint8Array[]; counts: number[] } {
  const c = new GroCoalescer(options);
  const spans = SpanList.copyOf(packets);
  assert.equal(c.stage(spans, 0), spans.count);
  const s = c.staged;
  return {
    items: Array.from({ length: s.count }, (_, i) => s.buf.slice(s.offsets[i], s.offsets[i] + s.lengths[i])),
    counts: [...c.packets.subarray(0, s.count)],
  };
}

test('split segments merge back into one super-packet that splits into the same segments', () => {
  const segs = checkedPackets(split(fromHex(CAPTURED_TCP_SUPER)).out);
  const { items, counts } = coalesce(segs);
  assert.deepEqual(counts, [segs.length]);
  const h = readVnetHdr(items[0], 0, emptyVnetHdr());
  assert.deepEqual([h.flags, h.gsoType, h.csumStart, h.csumOffset, h.gsoSize, h.hdrLen], [VNET_F_NEEDS_CSUM, GSO_TCPV4, 20, 16, l4Payload(segs[0]).length, 40]);
  const ip = new IPv4View(items[0], VNET_HDR_LEN, items[0].length - VNET_HDR_LEN);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.totalLength, items[0].length - VNET_HDR_LEN);
  const again = checkedPackets(split(items[0]).out);
  assert.deepEqual(again, segs, 'the kernel would see exactly the segments that arrived');
});

test('merging stops at a bad checksum, another flow, a PSH, a short segment or a sequence gap', () => {
  const segs = checkedPackets(split(fromHex(CAPTURED_TCP_SUPER)).out);
  assert.ok(segs.length >= 5);
  const bad = segs.map((s) => s.slice());
  bad[2][45] ^= 0xff; // payload byte: the TCP checksum no longer verifies
  assert.deepEqual(coalesce(bad).counts, [2, 1, 2]);

  const gap = [segs[0], segs[1], segs[3], segs[4]];
  assert.deepEqual(coalesce(gap).counts, [2, 2]);

  const psh = segs.map((s) => s.slice());
  psh[1][33] |= 0x08;
  fixTcpChecksum(psh[1]);
  assert.deepEqual(coalesce(psh).counts, [2, segs.length - 2]);

  // segs[1] cut to 100 bytes of payload, then a full segment right after it in sequence.
  const shortOne = segs[1].slice(0, 140);
  put16(shortOne, 2, 140);
  put16(shortOne, 10, 0);
  put16(shortOne, 10, checksum(shortOne, 0, 20));
  fixTcpChecksum(shortOne);
  const after = segs[2].slice();
  put32(after, 24, (get32(segs[1], 24) + 100) >>> 0);
  fixTcpChecksum(after);
  assert.deepEqual(coalesce([segs[0], shortOne, after]).counts, [2, 1], 'nothing after a short segment');

  const otherFlow = segs.map((s) => s.slice());
  otherFlow[1][21] ^= 1; // source port
  fixTcpChecksum(otherFlow[1]);
  assert.deepEqual(coalesce(otherFlow).counts.slice(0, 2), [1, 1]);

  assert.deepEqual(coalesce(segs, { tcp: false, udp: true }).counts, segs.map(() => 1), 'no TSO: nothing merges');
});

test('UDP datagrams of one flow merge only where USO was taken', () => {
  const dgrams = checkedPackets(split(fromHex(CAPTURED_UDP_SUPER)).out);
  const merged = coalesce(dgrams);
  assert.deepEqual(merged.counts, [8]);
  const h = readVnetHdr(merged.items[0], 0, emptyVnetHdr());
  assert.deepEqual([h.gsoType, h.csumOffset, h.gsoSize], [GSO_UDP_L4, 6, 1000]);
  assert.deepEqual(checkedPackets(split(merged.items[0]).out), dgrams);
  assert.deepEqual(coalesce(dgrams, { tcp: true, udp: false }).counts, dgrams.map(() => 1));
});

function fixTcpChecksum(p: Uint8Array): void {
  put16(p, 36, 0);
  put16(p, 36, ~refSum(p, 20, p.length, (get16(p, 12) + get16(p, 14) + get16(p, 16) + get16(p, 18) + 6 + p.length - 20)) & 0xffff);
}

test('a TCPv6 super-packet (TSO6) splits into IPv6 segments with their own payload length, sequence numbers and checksums', () => {
  // Built as the kernel hands one over: the virtio header, an IPv6 header
  // with the super-packet's payload length, a TCP header whose checksum
  // field holds the pseudo-header sum (NEEDS_CSUM), then 3,000 bytes.
  const payload = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff);
  const raw = new Uint8Array(VNET_HDR_LEN + 40 + 20 + payload.length);
  const hdr = { ...emptyVnetHdr(), flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV6, hdrLen: 60, gsoSize: 1400, csumStart: 40, csumOffset: 16 };
  writeVnetHdr(raw, 0, hdr);
  const ip = VNET_HDR_LEN;
  put32(raw, ip, 0x60000000);
  put16(raw, ip + 4, 20 + payload.length);
  raw[ip + 6] = IPPROTO.TCP;
  raw[ip + 7] = 64;
  raw.set(fromHex('fd000010024400010000000000000002'), ip + 8);
  raw.set(fromHex('fd000010024400020000000000000002'), ip + 24);
  const tcp = ip + 40;
  put16(raw, tcp, 40000);
  put16(raw, tcp + 2, 5201);
  put32(raw, tcp + 4, 0xfffff000); // wraps within the flight
  raw[tcp + 12] = 5 << 4;
  raw[tcp + 13] = 0x18 | 0x01; // PSH ACK FIN: only the last segment keeps PSH and FIN
  raw.set(payload, tcp + 20);
  const { out, drop } = split(raw);
  assert.equal(drop, undefined);
  assert.equal(out.count, 3);
  const segments = Array.from({ length: out.count }, (_, i) => out.packet(i).slice());
  segments.forEach((p, i) => {
    assert.equal(p[0] >>> 4, 6);
    assert.equal(get16(p, 4), p.length - 40, `segment ${i}: payload length`);
    assert.ok(l4ChecksumValid(refSum, p, 0, 40, p.length, IPPROTO.TCP), `segment ${i}: TCP checksum over the IPv6 pseudo-header`);
    assert.equal(get32(p, 44), (0xfffff000 + i * 1400) >>> 0, `segment ${i}: sequence number`);
    assert.equal(p[53] & 0x09, i === 2 ? 0x09 : 0, `segment ${i}: PSH and FIN only on the last`);
  });
  assert.deepEqual(segments.flatMap((p) => [...p.subarray(60)]), [...payload]);
  // A TSO6 type over an IPv4 header is refused, not guessed at.
  const wrong = raw.slice();
  wrong[ip] = 0x45;
  assert.equal(split(wrong).drop, 'bad-vnet-header');
});

test('consecutive TCPv6 segments of one flow merge into one TSO6 super-packet, which splits back into the same segments', () => {
  const segment = (k: number, size = 1000): Uint8Array => {
    const p = new Uint8Array(40 + 20 + size);
    put32(p, 0, 0x60012345); // flow label 0x12345: must match to merge
    put16(p, 4, 20 + size);
    p[6] = IPPROTO.TCP;
    p[7] = 63;
    p.set(fromHex('fd000010024400020000000000000002'), 8);
    p.set(fromHex('fd000010024400010000000000000002'), 24);
    put16(p, 40, 5201);
    put16(p, 42, 40000);
    put32(p, 44, (7000 + k * 1000) >>> 0);
    put32(p, 48, 99);
    p[52] = 5 << 4;
    p[53] = 0x10; // ACK
    put16(p, 54, 501);
    for (let i = 0; i < size; i++) p[60 + i] = (k * 31 + i) & 0xff;
    put16(p, 56, l4Checksum(refSum, p, 0, 40, p.length, IPPROTO.TCP));
    return p;
  };
  const originals = [0, 1, 2].map((k) => segment(k));
  const spans = SpanList.copyOf(originals);
  const gro = new GroCoalescer({ tcp: true, udp: false });
  assert.equal(gro.stage(spans, 0), 3);
  assert.equal(gro.staged.count, 1, 'one super-packet');
  const staged = gro.staged.buf.slice(gro.staged.offsets[0], gro.staged.offsets[0] + gro.staged.lengths[0]);
  const h = readVnetHdr(staged, 0, emptyVnetHdr());
  assert.deepEqual([h.gsoType, h.gsoSize, h.hdrLen, h.flags], [GSO_TCPV6, 1000, 60, VNET_F_NEEDS_CSUM]);
  assert.equal(get16(staged, VNET_HDR_LEN + 4), 20 + 3000, 'the super-packet\'s IPv6 payload length');
  const { out, drop } = split(staged);
  assert.equal(drop, undefined);
  assert.deepEqual(Array.from({ length: out.count }, (_, i) => [...out.packet(i)]), originals.map((p) => [...p]));
  // A different flow label, or a bad checksum, does not merge.
  const other = segment(1);
  other[3] ^= 1;
  const broken = segment(2);
  broken[100] ^= 0xff;
  const gro2 = new GroCoalescer({ tcp: true, udp: false });
  gro2.stage(SpanList.copyOf([segment(0), other, broken]), 0);
  assert.equal(gro2.staged.count, 3);
});
