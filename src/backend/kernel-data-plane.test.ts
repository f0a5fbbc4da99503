// KernelDataPlane: a kernel backend's entries and device counters as the
// status every backend gives, and what close() does with the kernel state.
// The kernel itself is exercised by test/integration/backends.test.ts;
// here a recorded KernelBackend stands in, so the sums can be checked exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { Lease } from '../subnet/leases.js';
import type { KernelBackend, KernelBackendStatus } from './backend.js';
import { KernelDataPlane } from './kernel-data-plane.js';

function device(name: string, tx: number, rx: number): KernelBackendStatus['devices'][number] {
  return { name, index: 3, mtu: 1450, up: true, rxPackets: rx, txPackets: tx, rxBytes: rx * 100, txBytes: tx * 100, rxDropped: 1, txDropped: 0 };
}

/** A vxlan-shaped backend whose counters the test moves, recording what was called. */
function recordedBackend(): KernelBackend & { calls: string[]; tx: number } {
  const b = {
    calls: [] as string[],
    tx: 10,
    type: 'vxlan' as const,
    name: 'flannel.1',
    podMtu: 1450,
    publication: () => ({ type: 'vxlan', data: null }),
    setLeases(leases: readonly Lease[]) {
      b.calls.push(`set ${leases.length}`);
      return { added: leases.length, removed: 0, skipped: ['10.244.9.0/24: its VNI 2 is not this network\'s 1'] };
    },
    status: (): KernelBackendStatus => ({
      type: 'vxlan', vni: 1, port: 8472, vtepMac: '0e:4c:c6:33:64:01',
      devices: [device('flannel.1', b.tx, 4), device('flannel-v6.1', 5, 6)],
      peers: [{ subnet: '10.244.2.0/24', publicIp: '198.51.100.2', via: 'vxlan', entries: [] }],
      skipped: { 'another-backend': 1 },
      adopted: { kept: 3, removed: 0 },
    }),
    close: () => void b.calls.push('close'),
    teardown: () => void b.calls.push('teardown'),
  };
  return b;
}

const nl = (calls: string[]): NetlinkSocket => ({ close: () => calls.push('nl close') }) as unknown as NetlinkSocket;

test('kernel data plane: the node counts its devices, peers carry zeros, and the skip reasons reach the agent', () => {
  const k = recordedBackend();
  const plane = new KernelDataPlane(k, { removeOnExit: false, ownSubnets: '10.244.1.0/24', log: () => {}, nl: nl(k.calls) });
  const change = plane.setLeases([{ subnet: { address: 0, network: 0, length: 24 }, publicIp: 1, port: 0 } as unknown as Lease]);
  assert.deepEqual([change.added, change.removed, change.skipped.length], [1, 0, 1]);
  assert.match(change.text, /1 peer\(s\) programmed, 0 removed; 1 in all/);
  const s = plane.status();
  assert.equal(s.backend, 'vxlan');
  assert.equal(s.port, 8472);
  assert.deepEqual([s.counters.sent, s.counters.delivered, s.counters.dropped], [15, 10, { 'device-rx-dropped': 2 }]);
  assert.deepEqual(s.peers.map((p) => [p.subnet, p.txPackets, p.rxPackets]), [['10.244.2.0/24', 0, 0]]);
  assert.match(plane.describe(' ip-masq').text, /^backend vxlan vni 1 port 8472 on flannel\.1 mtu 1450, flannel-v6\.1 mtu 1450, 10\.244\.1\.0\/24, pods mtu 1450 ip-masq, 1 peer\(s\) \(adopted 3 entries/);
});

test('kernel data plane: rates per device come from one-second samples', () => {
  const k = recordedBackend();
  const plane = new KernelDataPlane(k, { removeOnExit: false, ownSubnets: '10.244.1.0/24', log: () => {}, nl: nl(k.calls) });
  plane.sample(1_000);
  k.tx += 500;
  plane.sample(2_000);
  const rates = plane.status().kernel!.devices.map((d) => d.rates?.txPacketsPerSecond);
  assert.deepEqual(rates, [500, 0], 'flannel.1 sent 500 packets in the second between samples; flannel-v6.1 none');
});

test('kernel data plane: close leaves the kernel state; with remove-on-exit it tears it down; the netlink socket closes either way', () => {
  const keep = recordedBackend();
  new KernelDataPlane(keep, { removeOnExit: false, ownSubnets: '', log: () => {}, nl: nl(keep.calls) }).close();
  assert.deepEqual(keep.calls, ['close', 'nl close']);
  const gone = recordedBackend();
  const lines: string[] = [];
  new KernelDataPlane(gone, { removeOnExit: true, ownSubnets: '', log: (l) => lines.push(l), nl: nl(gone.calls) }).close();
  assert.deepEqual(gone.calls, ['teardown', 'nl close']);
  assert.match(lines.join('\n'), /--remove-on-exit: removed vxlan's devices/);
});

test('kernel data plane with peer counters: they follow the programmed peers on a change, are read once a second, a dual-stack peer sums both families, and go at close', () => {
  const k = recordedBackend();
  const followed: string[][] = [];
  let reads = 0;
  let txV4 = 10;
  const counters = {
    follow: (peers: ReadonlyArray<{ subnet?: string; subnet6?: string }>) => void followed.push(peers.flatMap((p) => [p.subnet, p.subnet6].filter((x): x is string => !!x))),
    read: () => {
      reads++;
      return new Map([
        ['10.244.2.0/24', { txPackets: txV4, txBytes: txV4 * 100, rxPackets: 4, rxBytes: 400 }],
        ['fd00:10:244:2::/64', { txPackets: 1, txBytes: 120, rxPackets: 2, rxBytes: 240 }],
      ]);
    },
    close: () => void k.calls.push('counters close'),
  };
  const status = k.status;
  k.status = () => ({ ...status(), peers: [{ subnet: '10.244.2.0/24', subnet6: 'fd00:10:244:2::/64', publicIp: '198.51.100.2', via: 'vxlan', entries: [] }] });
  const plane = new KernelDataPlane(k, { removeOnExit: false, ownSubnets: '', log: () => {}, nl: nl(k.calls), peerCounters: counters });
  plane.setLeases([{} as Lease]);
  assert.deepEqual(followed, [['10.244.2.0/24', 'fd00:10:244:2::/64']]);
  plane.sample(1_000);
  txV4 += 50;
  plane.sample(2_000);
  assert.equal(reads, 2);
  const s = plane.status();
  assert.equal(s.kernel!.peerCounters, true);
  const p = s.peers[0];
  assert.deepEqual([p.txPackets, p.txBytes, p.rxPackets, p.rxBytes], [61, 6120, 6, 640]);
  assert.deepEqual([p.txPacketsPerSecond, p.rxPacketsPerSecond], [50, 0]);
  assert.deepEqual(plane.peers()[0], { subnet: '10.244.2.0/24', txPackets: 61, txBytes: 6120, rxPackets: 6, rxBytes: 640 });
  plane.close();
  assert.deepEqual(k.calls.slice(-3), ['counters close', 'close', 'nl close']);
});
