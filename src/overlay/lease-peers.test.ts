// The route table updated peer by peer, and LeasePeers keeping it in step
// with a control plane's leases: the table after any run of changes routes
// exactly as one built whole from the final set does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCidr, parseIPv4, prefixContains } from '../packet/addr.js';
import { parseCidr6 } from '../packet/addr6.js';
import type { Lease } from '../subnet/leases.js';
import { describePeerChanges, LeasePeers } from './lease-peers.js';
import { peerFromLease, RouteTable } from './route-table.js';

const A = (text: string): number => parseIPv4(text)!;
const lease = (subnet: string, ip: string, port = 8285, subnet6?: string): Lease => ({ subnet: parseCidr(subnet), publicIp: A(ip), port, subnet6: subnet6 ? parseCidr6(subnet6) : undefined });

/** Where a set of destinations routes (public IP of the owner, or -1). */
function routesOf(t: RouteTable, dsts: number[]): number[] {
  return dsts.map((d) => t.lookup(d)?.publicIp ?? -1);
}

test('a route table changed peer by peer routes as one built whole, across nested prefixes and prefix lengths coming and going', () => {
  const pool = [
    lease('10.244.0.0/16', '198.51.100.9'), lease('10.244.2.0/24', '198.51.100.2'), lease('10.244.2.128/25', '198.51.100.3'),
    lease('10.244.3.0/24', '198.51.100.4'), lease('10.244.4.0/24', '198.51.100.5'), lease('10.0.0.0/8', '198.51.100.6'),
  ].map(peerFromLease);
  const dsts = ['10.244.2.200', '10.244.2.1', '10.244.3.9', '10.244.4.1', '10.244.7.1', '10.9.9.9', '11.0.0.1'].map(A);
  const t = new RouteTable();
  let present: typeof pool = [];
  let seed = 7;
  for (let step = 0; step < 400; step++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const p = pool[seed % pool.length];
    if (present.includes(p)) {
      t.remove(p);
      present = present.filter((q) => q !== p);
    } else {
      t.add(p);
      present.push(p);
    }
    assert.deepEqual(routesOf(t, dsts), routesOf(new RouteTable(present), dsts), `step ${step}`);
    // And as the longest-prefix rule says, found by looking at every peer (the pool's subnets are distinct).
    const longest = (d: number): number => present.filter((q) => prefixContains(q.subnet!, d)).sort((x, y) => y.subnet!.length - x.subnet!.length)[0]?.publicIp ?? -1;
    assert.deepEqual(routesOf(t, dsts), dsts.map(longest), `step ${step}, against a scan`);
    assert.deepEqual(t.peers, present);
  }
});

test('two peers on one endpoint or one subnet: removing the one in charge hands it back to the other', () => {
  const oldSubnet = peerFromLease(lease('10.244.1.0/24', '198.51.100.1'));
  const newSubnet = peerFromLease(lease('10.244.5.0/24', '198.51.100.1'));
  const t = new RouteTable([oldSubnet, newSubnet]);
  assert.equal(t.fromEndpoint(A('198.51.100.1'), 8285), newSubnet);
  t.remove(newSubnet);
  assert.equal(t.fromEndpoint(A('198.51.100.1'), 8285), oldSubnet, 'the node is still known by its remaining lease');
  t.remove(oldSubnet);
  assert.equal(t.fromEndpoint(A('198.51.100.1'), 8285), undefined);
  const first = peerFromLease(lease('10.244.6.0/24', '198.51.100.7'));
  const second = peerFromLease(lease('10.244.6.0/24', '198.51.100.8'));
  t.add(first);
  t.add(second);
  t.remove(second);
  assert.equal(t.lookup(A('10.244.6.1')), first);
});

test('IPv6 subnets are added and removed like IPv4 ones', () => {
  const a = peerFromLease(lease('10.244.1.0/24', '198.51.100.1', 8285, 'fd00:10:244:1::/64'));
  const b = peerFromLease(lease('10.244.2.0/24', '198.51.100.2', 8285, 'fd00:10:244:2::/64'));
  const t = new RouteTable([a, b]);
  const dst = parseCidr6('fd00:10:244:2::5/128').network;
  assert.equal(t.lookup6(dst, 0), b);
  t.remove(b);
  assert.equal(t.lookup6(dst, 0), undefined);
  assert.equal(t.lookup6(parseCidr6('fd00:10:244:1::5/128').network, 0), a);
});

test('LeasePeers: a lease seen before keeps its peer; new ones are admitted once; gone ones are removed; a new peer for the same node keeps its counters', () => {
  const lp = new LeasePeers();
  const l1 = lease('10.244.1.0/24', '198.51.100.1');
  const l2 = lease('10.244.2.0/24', '198.51.100.2');
  const own = lease('10.244.9.0/24', '198.51.100.9');
  const asked: Lease[] = [];
  const admit = (l: Lease): Lease | undefined => {
    asked.push(l);
    return l === own ? undefined : l;
  };
  let c = lp.update([l1, l2, own], admit);
  assert.equal(c.added.length, 2);
  assert.deepEqual(asked, [l1, l2, own]);
  const p1 = lp.routes.lookup(A('10.244.1.1'))!;
  p1.txPackets = 5;

  const l3 = lease('10.244.3.0/24', '198.51.100.3');
  c = lp.update([l1, l2, own, l3], admit);
  assert.deepEqual(c, { added: [c.added[0]], removed: [] });
  assert.deepEqual(asked, [l1, l2, own, own, l3], 'only the leases it has not routed are asked about (the one left out is asked again)');
  assert.equal(lp.routes.lookup(A('10.244.1.1')), p1, 'the same peer, counters and all');

  c = lp.update([l1, l3], admit);
  assert.equal(c.removed.length, 1);
  assert.equal(lp.routes.lookup(A('10.244.2.1')), undefined);

  // A leases file read again: new objects for the same nodes.
  const again = [lease('10.244.1.0/24', '198.51.100.1'), lease('10.244.3.0/24', '198.51.100.3')];
  c = lp.update(again, admit);
  assert.equal(c.added.length, 2);
  assert.equal(c.removed.length, 2);
  assert.equal(lp.routes.lookup(A('10.244.1.1'))!.txPackets, 5);
  assert.deepEqual(lp.update(again, admit), { added: [], removed: [] }, 'the same set again changes nothing');
  assert.equal(lp.peers.length, 2);
});

test('LeasePeers: told the delta, it ends where a pass over the whole set ends, over a random run of puts, deletes and re-puts', () => {
  const withDelta = new LeasePeers();
  const whole = new LeasePeers();
  const admit = (l: Lease): Lease | undefined => (l.publicIp === A('198.51.100.9') ? undefined : l);
  const byKey = new Map<number, Lease>();
  const dsts = Array.from({ length: 40 }, (_, i) => A(`10.244.${i}.1`));
  let seed = 11;
  for (let step = 0; step < 300; step++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const k = seed % 40;
    const before = byKey.get(k);
    const added: Lease[] = [];
    const removed: Lease[] = before ? [before] : [];
    if (before && seed % 3 === 0) byKey.delete(k);
    else {
      // A new object for the key: another endpoint, or (k 9) the one admit leaves out.
      const l = lease(`10.244.${k}.0/24`, k === 9 ? '198.51.100.9' : `198.51.${100 + (step % 3)}.${k + 1}`);
      byKey.set(k, l);
      added.push(l);
    }
    const leases = [...byKey.values()];
    withDelta.update(leases, admit, { added, removed });
    whole.update(leases, admit);
    assert.deepEqual(routesOf(withDelta.routes, dsts), routesOf(whole.routes, dsts), `step ${step}`);
    assert.equal(withDelta.peers.length, whole.peers.length);
  }
});

test('the daemon\'s log names every peer of a small cluster, and only what came and went in a large one', () => {
  const peers = Array.from({ length: 20 }, (_, i) => peerFromLease(lease(`10.244.${i}.0/24`, `198.51.100.${i + 1}`)));
  assert.match(describePeerChanges(peers.slice(0, 2), [], []), /^2 peer\(s\): 10\.244\.0\.0\/24 at 198\.51\.100\.1:8285, 10\.244\.1\.0\/24/);
  const line = describePeerChanges(peers, peers.slice(0, 10), [peers[19]]);
  assert.match(line, /^20 peers; added 10\.244\.0\.0\/24 .*, and 2 more; removed 10\.244\.19\.0\/24 at 198\.51\.100\.20:8285$/);
});
