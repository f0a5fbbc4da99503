import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketBatch } from './batch.js';
import { MemoryTun } from '../tun/memory-tun.js';

test('PacketBatch keeps headroom in front of every packet', () => {
  const b = new PacketBatch(4, 128, 28);
  b.push(Uint8Array.of(1, 2, 3));
  b.push(Uint8Array.of(4, 5));
  assert.equal(b.count, 2);
  assert.equal(b.offset(1), 128 + 28);
  assert.deepEqual([...b.packet(1)], [4, 5]);
  assert.deepEqual([...b.lengths.subarray(0, 2)], [3, 2]);
  assert.throws(() => b.push(new Uint8Array(101)), /larger than a batch slot/);
  assert.throws(() => new PacketBatch(1, 10, 10), RangeError);
});

test('MemoryTun delivers injected packets in batches and records writes', async () => {
  const tun = new MemoryTun();
  const batch = new PacketBatch(2, 64);
  const seen: number[][] = [];
  tun.startReading(batch, (b) => seen.push(Array.from({ length: b.count }, (_, i) => b.packet(i)[0])));
  tun.inject(Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [[1, 2], [3]]);
  const out = new PacketBatch(2, 64);
  out.push(Uint8Array.of(9, 9));
  out.push(new Uint8Array(0));
  assert.deepEqual(tun.writeBatch(out), { written: 1, failed: 1 });
  assert.deepEqual([...tun.written[0]], [9, 9]);
});
