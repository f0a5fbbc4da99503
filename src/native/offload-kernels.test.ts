// The addon's two batch kernels of the TUN offload edge, against the
// TypeScript reference and at their bounds: l4ChecksumsVerify must agree
// with l4ChecksumValid (sumWords32) on every packet, good or damaged, of
// both families, and verify only the protocols asked for; gsoSplitSegments must refuse any range outside its
// buffers with an exception, never read or write past them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { put16 } from '../packet/bytes.js';
import { sumWords32 } from '../packet/checksum.js';
import { IPPROTO, writeIPv4Header } from '../packet/ipv4.js';
import { writeIPv6Header } from '../packet/ipv6.js';
import { l4Checksum, l4ChecksumValid, SumFn } from '../packet/payload-sum.js';
import { native } from './addon.js';

const refSum: SumFn = (b, s, e, i) => sumWords32(b, s, e, i);

/** A TCP or UDP packet of either family with `payload` random bytes and a correct checksum. */
function packet(v6: boolean, protocol: number, payload: number): Uint8Array {
  const ihl = v6 ? 40 : 20;
  const l4len = (protocol === IPPROTO.TCP ? 20 : 8) + payload;
  const p = new Uint8Array(ihl + l4len);
  if (v6) writeIPv6Header(p, 0, { src: randomBytes(16), dst: randomBytes(16), nextHeader: protocol, payloadLength: l4len });
  else writeIPv4Header(p, 0, { src: 0x0af40102, dst: 0x0af40202, protocol, payloadLength: l4len });
  p.set(randomBytes(l4len), ihl);
  if (protocol === IPPROTO.TCP) p[ihl + 12] = 5 << 4;
  else put16(p, ihl + 4, l4len);
  const field = ihl + (protocol === IPPROTO.TCP ? 16 : 6);
  put16(p, field, 0);
  put16(p, field, l4Checksum(refSum, p, 0, ihl, p.length, protocol));
  return p;
}

/** What the TypeScript reference says of p: 1 when it is TCP or UDP whose checksum verifies. */
function reference(p: Uint8Array): number {
  if (p.length < 28) return 0;
  const v = p[0] >>> 4;
  const ihl = v === 4 ? (p[0] & 0x0f) * 4 : v === 6 ? 40 : 0;
  const protocol = v === 4 ? p[9] : p[6];
  if (ihl < 20 || p.length < ihl + (protocol === IPPROTO.TCP ? 20 : 8)) return 0;
  if (protocol !== IPPROTO.TCP && protocol !== IPPROTO.UDP) return 0;
  return l4ChecksumValid(refSum, p, 0, ihl, p.length, protocol) ? 1 : 0;
}

test('l4ChecksumsVerify agrees with the TypeScript reference on good, damaged, short and foreign packets of both families', () => {
  const cases: Uint8Array[] = [];
  for (const v6 of [false, true]) {
    for (const protocol of [IPPROTO.TCP, IPPROTO.UDP]) {
      for (const payload of [0, 1, 2, 3, 63, 1388, 1400]) {
        const good = packet(v6, protocol, payload);
        cases.push(good);
        for (let k = 0; k < 6; k++) {
          const bad = Uint8Array.from(good);
          bad[(v6 ? 8 : 12) + ((k * 37) % (bad.length - (v6 ? 8 : 12)))] ^= 1 << (k % 8); // addresses, header or payload
          cases.push(bad);
        }
        cases.push(good.subarray(0, good.length - 1)); // one byte short of its checksum's span
      }
    }
  }
  const icmp = packet(false, IPPROTO.TCP, 40);
  icmp[9] = IPPROTO.ICMP;
  cases.push(icmp, Uint8Array.of(0x45, 0, 0, 20), randomBytes(60), randomBytes(1500));
  const v5 = packet(false, IPPROTO.UDP, 20);
  v5[0] = 0x55;
  cases.push(v5);

  const buf = new Uint8Array(cases.reduce((n, c) => n + c.length + 3, 0));
  const offsets = new Uint32Array(cases.length + 1);
  const lengths = new Uint32Array(cases.length + 1);
  let at = 0;
  cases.forEach((c, i) => {
    buf.set(c, at);
    offsets[i] = at;
    lengths[i] = c.length;
    at += c.length + 3; // odd starts too
  });
  offsets[cases.length] = buf.length - 10; // runs past the buffer: refused, not read
  lengths[cases.length] = 100;
  const results = new Uint8Array(cases.length + 1).fill(7);
  native.l4ChecksumsVerify(buf, offsets, lengths, 0, cases.length + 1, results, 3);
  const want = cases.map(reference);
  assert.deepEqual([...results.subarray(0, cases.length)], want);
  assert.equal(results[cases.length], 0, 'a span past the buffer');
  assert.ok(want.filter((w) => w === 1).length >= 28, 'every good packet verified');
  assert.throws(() => native.l4ChecksumsVerify(buf, offsets, lengths, 1, cases.length + 1, results, 3), /exceeds the arrays/);
  // Asked for one protocol only, the other is not verified.
  const isUdp = (c: Uint8Array): boolean => (c[0] >>> 4 === 6 ? c[6] : c[9]) === IPPROTO.UDP;
  for (const [protocols, skipped] of [[1, isUdp], [2, (c: Uint8Array) => !isUdp(c)]] as const) {
    native.l4ChecksumsVerify(buf, offsets, lengths, 0, cases.length, results, protocols);
    assert.deepEqual([...results.subarray(0, cases.length)], cases.map((c, i) => (skipped(c) ? 0 : want[i])), `protocols ${protocols}`);
  }
});

test('gsoSplitSegments refuses headers, payload or slots outside their buffers', () => {
  const raw = new Uint8Array(52 + 3 * 1000);
  raw[0] = 0x45;
  raw[9] = IPPROTO.TCP;
  raw[32] = 8 << 4;
  const out = new Uint8Array(4 * 2048);
  const offsets = new Uint32Array(4);
  const sizes = new Uint32Array(4);
  const split = (o: { pkt?: number; payload?: number; gso?: number; slotSize?: number; slots?: number; first?: number; ihl?: number; hdrLen?: number }) =>
    native.gsoSplitSegments(raw, o.pkt ?? 0, o.hdrLen ?? 52, o.ihl ?? 20, o.payload ?? 3000, o.gso ?? 1000, 2, o.first ?? 0, out, o.slotSize ?? 2048, 0, 0, o.slots ?? 4, offsets, sizes);
  assert.equal(split({}), 3, 'the well-formed call writes its three segments');
  assert.deepEqual([...sizes.subarray(0, 3)], [1052, 1052, 1052]);
  for (const [what, bad] of [
    ['payload past the packet', { payload: 3001 }],
    ['packet start past the buffer', { pkt: 1 }],
    ['a segment larger than a slot', { slotSize: 1000 }],
    ['slots past the output', { slots: 5, slotSize: 2048 }],
    ['more slots than offsets', { slots: 5, slotSize: 1600 }],
    ['a zero segment size', { gso: 0 }],
    ['a first segment past the last', { first: 4 }],
    ['an IP header under 20 bytes', { ihl: 16 }],
    ['headers shorter than IP + TCP', { hdrLen: 39 }],
  ] as const) {
    assert.throws(() => split(bad), /outside their buffers/, what);
  }
});
