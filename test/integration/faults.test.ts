// Faults under traffic, each with the time until traffic is back, printed
// in the test output: a node SIGKILLed mid-transfer and restarted, the TUN
// deleted under the overlay daemon, a broken leases file during a ping at
// 100/s. (etcd member loss: test/integration/etcd.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { OverlayCluster, leaseFor } from '../../harness/overlay-cluster.js';
import { parsePing } from '../../harness/daemon-harness.js';
import { labName, ROOT_SKIP } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cluster: OverlayCluster;

/** Pings host-2's pod from host-1's every 20 ms until one answers; returns the milliseconds from `since`. */
async function msUntilTraffic(since: number, limitMs = 15_000): Promise<number> {
  while (Date.now() - since < limitMs) {
    const r = await cluster.lab.run('host-1-pod1', 'ping', ['-c', '1', '-W', '0.2', '10.244.2.2'], 5000);
    if (r.code === 0) return Date.now() - since;
    await sleep(20);
  }
  throw new Error(`no traffic within ${limitMs} ms`);
}

describe('faults under traffic', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('fault'), 2, 1);
    await cluster.startAll();
  });
  after(async () => {
    await cluster?.down();
  });

  test('a node SIGKILLed mid-iperf3 and restarted carries traffic again', async () => {
    const server = cluster.lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    const client = cluster.lab.run('host-1-pod1', 'iperf3', ['-c', '10.244.2.2', '-t', '3'], 20_000);
    await sleep(1000);
    assert.equal(await cluster.stop(2, 'SIGKILL'), null, 'killed by the signal');
    const restart = Date.now();
    await cluster.start(2);
    const ms = await msUntilTraffic(restart);
    console.log(`fault: SIGKILL mid-iperf3, restart: traffic back ${ms} ms after the restart began`);
    await client;
    server.kill();
    assert.ok(ms < 10_000);
  });

  test('the TUN deleted under a daemon: it says so and exits 1; a restart brings traffic back', async () => {
    const run = cluster.daemons.get(1)!;
    const exited = new Promise<number | null>((r) => run.child.on('exit', r));
    const deleted = Date.now();
    const del = await cluster.lab.run('host-1', 'ip', ['link', 'del', 'flannel0']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(await exited, 1);
    assert.match(run.stderr(), /stopping after an error \(carrying packets between flannel0 and UDP failed/);
    cluster.daemons.delete(1);
    await cluster.start(1);
    const ms = await msUntilTraffic(deleted);
    console.log(`fault: flannel0 deleted under the daemon: it exited 1; traffic back ${ms} ms after the delete (restart included)`);
  });

  test('a broken leases file during a ping at 100/s loses no packet; the old leases stay', async () => {
    const pinger = cluster.lab.run('host-1-pod1', 'ping', ['-i', '0.01', '-c', '300', '-W', '1', '10.244.2.2'], 20_000);
    await sleep(800);
    writeFileSync(cluster.leasesFile, '{"nodes": [ this is not JSON');
    await sleep(1000);
    cluster.writeLeases([leaseFor(1), leaseFor(2)]);
    const p = parsePing(0, (await pinger).stdout);
    console.log(`fault: broken leases file for 1 s during a 100/s ping: ${p.transmitted - p.received} of ${p.transmitted} lost`);
    assert.equal(p.received, p.transmitted, p.output.slice(-300));
    assert.match(cluster.daemons.get(1)!.stderr(), /keeping the previous leases/);
  });
});
