// Reassembly (the relay's, for fragmented echo requests): whole datagrams
// in any order; overlaps, impossible lengths, oversize and stale datagrams
// dropped with a reason, never thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { put16 } from './bytes.js';
import { checksum } from './checksum.js';
import { Reassembler } from './fragment.js';
import { IPv4View, IPPROTO, writeIPv4Header } from './ipv4.js';

/** A fragment of datagram `id`: payload bytes [offset, offset+len) of a pattern, MF as given. */
function fragment(id: number, offset: number, len: number, more: boolean, expect: string | undefined = undefined): IPv4View {
  const b = new Uint8Array(20 + len);
  writeIPv4Header(b, 0, { src: 0x0af40102, dst: 0xc6336402, protocol: IPPROTO.ICMP, payloadLength: len, id });
  for (let i = 0; i < len; i++) b[20 + i] = (offset + i) & 0xff;
  put16(b, 6, (more ? 0x2000 : 0) | (offset / 8));
  put16(b, 10, 0);
  put16(b, 10, checksum(b, 0, 20));
  const ip = new IPv4View(b, 0, b.length);
  assert.equal(ip.check(), expect);
  return ip;
}

test('fragments in any order make the whole datagram with a fresh header', () => {
  const r = new Reassembler();
  assert.equal(r.add(fragment(1, 16, 8, false), 0), undefined);
  assert.equal(r.add(fragment(1, 0, 8, true), 0), undefined);
  const whole = r.add(fragment(1, 8, 8, true), 0);
  assert.ok(whole instanceof Uint8Array);
  const ip = new IPv4View(whole, 0, whole.length);
  assert.equal(ip.check(), undefined);
  assert.equal(ip.totalLength, 44);
  assert.equal(ip.isFragment, false);
  assert.deepEqual([...whole.subarray(20)], Array.from({ length: 24 }, (_, i) => i));
  assert.equal(r.size, 0);
});

test('a last fragment that ends before fragments already seen is dropped, not thrown (was a RangeError)', () => {
  const r = new Reassembler();
  assert.equal(r.add(fragment(2, 0, 8, true), 0), undefined);
  assert.equal(r.add(fragment(2, 32, 8, true), 0), undefined);
  assert.equal(r.add(fragment(2, 16, 0, false), 0), 'reassembly-bad-length');
  assert.equal(r.size, 0);
  // And the other way round: a fragment past a known end, or a second, different end.
  assert.equal(r.add(fragment(3, 8, 8, false), 0), undefined);
  assert.equal(r.add(fragment(3, 16, 8, true), 0), 'reassembly-bad-length');
  assert.equal(r.add(fragment(4, 8, 8, false), 0), undefined);
  assert.equal(r.add(fragment(4, 24, 8, false), 0), 'reassembly-bad-length');
});

test('overlapping, oversize, stale and too many datagrams are dropped with their reasons', () => {
  const r = new Reassembler(2, 1000);
  assert.equal(r.add(fragment(5, 0, 16, true), 0), undefined);
  assert.equal(r.add(fragment(5, 8, 16, false), 0), 'reassembly-overlap');
  // The IPv4 check refuses a fragment past 64 KiB; the reassembler guards on its own too.
  assert.equal(r.add(fragment(6, 65528, 8, false, 'bad-fragment'), 0), 'reassembly-too-big');
  assert.equal(r.add(fragment(7, 0, 8, true), 0), undefined);
  assert.equal(r.add(fragment(8, 0, 8, true), 0), undefined);
  assert.equal(r.add(fragment(9, 0, 8, true), 500), 'reassembly-table-full', 'two pending, none stale yet');
  assert.equal(r.add(fragment(9, 0, 8, true), 1500), undefined, 'the stale ones were expired to make room');
  assert.equal(r.size, 1);
  assert.equal(r.expire(3000), 1);
  assert.equal(r.size, 0);
});
