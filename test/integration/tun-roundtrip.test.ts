// The thin vertical slice: a real TUN in a lab namespace, hand-built ICMP
// echo requests written with the batch writer, and the kernel's echo
// replies read back with the batch reader (readiness-driven).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinuxTun } from '../../src/tun/linux-tun.js';
import { parseIPv4 } from '../../src/packet/addr.js';
import { echoRoundTrip, payloadFor } from '../../harness/echo-roundtrip.js';
import { ROOT_SKIP, scratchNetns } from './helpers.js';

const tunAddress = parseIPv4('10.244.9.1')!;
const peerAddress = parseIPv4('10.244.9.2')!;

for (const count of [1, 1000]) {
  test(`${count} echo request(s) through a real TUN: every reply comes back intact`, { skip: ROOT_SKIP }, async () => {
    const tun = LinuxTun.create({ name: 'tdtun0', addresses: ['10.244.9.1/24'], netns: scratchNetns(`slice${count}`) });
    try {
      const r = await echoRoundTrip(tun, { count, timeoutMs: 15_000, tunAddress, peerAddress, batchSize: 64, keepPayloads: true });
      assert.equal(r.mismatched, 0);
      assert.equal(r.received, count, `got ${r.received} of ${count} replies`);
      for (const [seq, payload] of r.payloads) assert.deepEqual(payload, payloadFor(seq, 56));
      const stats = tun.stats()!;
      assert.ok(stats.rxPackets >= count && stats.txPackets >= count, `kernel counters ${JSON.stringify(stats)}`);
    } finally {
      tun.close();
    }
  });
}
