import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RxBatch, TxQueue } from './batch.js';
import { MemoryTun } from '../tun/memory-tun.js';

test('RxBatch keeps headroom in front of every packet', () => {
  const b = new RxBatch(4, 128, 28);
  b.append(Uint8Array.of(1, 2, 3));
  b.append(Uint8Array.of(4, 5));
  assert.equal(b.count, 2);
  assert.equal(b.offset(1), 128 + 28);
  assert.deepEqual([...b.packet(1)], [4, 5]);
  assert.deepEqual([...b.sizes.subarray(0, 2)], [3, 2]);
  assert.throws(() => b.append(new Uint8Array(101)), /larger than a batch slot/);
  assert.throws(() => new RxBatch(1, 10, 10), RangeError);
  b.sizes[0] = 7;
  assert.equal(b.setSlotEntries(1), 1);
  assert.equal(b.offset(0), 28);
  b.clear();
  assert.equal(b.count, 0);
});

test('TxQueue builds packets in its own slots', () => {
  const q = new TxQueue(2, 64);
  q.push(Uint8Array.of(1, 2, 3), 0x0a000001, 99);
  assert.equal(q.nextOffset, 64);
  assert.deepEqual([...q.offsets.subarray(0, 1)], [0]);
  assert.deepEqual([...q.addrs.subarray(0, 2)], [0x0a000001, 99]);
  assert.throws(() => q.push(new Uint8Array(65)), /larger than a queue slot/);
  q.push(Uint8Array.of(4));
  assert.throws(() => q.push(Uint8Array.of(5)), /full/);
  q.clear();
  assert.equal(q.count, 0);
});

test('MemoryTun delivers injected packets in batches and records writes', async () => {
  const tun = new MemoryTun();
  const batch = new RxBatch(2, 64);
  const seen: number[][] = [];
  tun.startReading(batch, (b) => seen.push(Array.from({ length: b.count }, (_, i) => b.packet(i)[0])));
  tun.inject(Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [[1, 2], [3]]);
  const out = new TxQueue(2, 64);
  out.push(Uint8Array.of(9, 9));
  out.push(new Uint8Array(0));
  assert.deepEqual(tun.writeBatch(out), { written: 1, failed: 1 });
  assert.deepEqual([...tun.written[0]], [9, 9]);
});
