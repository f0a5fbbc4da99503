// The pure parts of `lab watch`: the snapshot built from daemons' statuses,
// the series it charts, the ten-minute history, how a probe's stages become
// hops, and the parsing of its inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DaemonStatus, OverlayStatus, PeerStatus } from '../control/daemon-status.js';
import type { LabState } from '../lab/state.js';
import { buildSnapshot, HostReading, snapshotSeries } from './cluster-snapshot.js';
import { counterRates, parseEtcdctlLeases } from './lab-reader.js';
import { judgeHops, overlayPlan, relayPlan } from './path-probe.js';
import { SeriesHistory } from './series-history.js';
import { parseWatchListen } from './watch-server.js';

function labState(hosts: number): LabState {
  const nodes: LabState['nodes'] = [{ name: 'underlay', kind: 'switch', netns: 'tdlab-t-underlay', addresses: [] }];
  for (let i = 1; i <= hosts; i++) {
    nodes.push({ name: `host-${i}`, kind: 'host', netns: `tdlab-t-host-${i}`, addresses: [`198.51.100.${i}/24`] });
    nodes.push({ name: `host-${i}-pod1`, kind: 'pod', netns: `tdlab-t-host-${i}-pod1`, host: `host-${i}`, addresses: [`10.244.${i}.2/24`] });
  }
  return { name: 't', createdAt: '', builtBy: 1, topology: { name: 't', segments: [], hosts: [], routers: [] } as unknown as LabState['topology'], nodes };
}

function peer(i: number, txBytesPerSecond: number, extra: Partial<PeerStatus> = {}): PeerStatus {
  return { subnet: `10.244.${i}.0/24`, publicIp: `198.51.100.${i}`, port: 8285, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, txPacketsPerSecond: txBytesPerSecond / 1000, txBytesPerSecond, rxPacketsPerSecond: 0, rxBytesPerSecond: 0, ...extra };
}

function overlay(i: number, peers: PeerStatus[], dropped: Record<string, number> = {}): DaemonStatus {
  const status = { mode: 'overlay', device: 'flannel0', pid: 100 + i, startedAt: '', uptimeSeconds: 5, network: '10.244.0.0/16', subnet: `10.244.${i}.0/24`, endpoint: '', publicIp: `198.51.100.${i}`, port: 8285, counters: { sent: 0, delivered: 0, errorsGenerated: 0, fragmented: 0, dropped }, peers } as unknown as OverlayStatus;
  return status as DaemonStatus;
}

const up = (status: DaemonStatus, dropsPerSecond: Record<string, number> = {}): HostReading => ({ daemons: [{ status, dropsPerSecond }], answeredBefore: true });

test('a tunnel per pair of peering hosts, each way at the rate its sender counts', () => {
  const readings = new Map([
    ['host-1', up(overlay(1, [peer(2, 1000), peer(3, 0)]))],
    ['host-2', up(overlay(2, [peer(1, 250), peer(3, 0)]))],
    ['host-3', up(overlay(3, [peer(1, 0), peer(2, 0)]))],
  ]);
  const s = buildSnapshot(labState(3), readings, undefined, 42);
  assert.deepEqual(s.tunnels.map((t) => t.id), ['host-1~host-2', 'host-1~host-3', 'host-2~host-3']);
  const t12 = s.tunnels[0];
  assert.deepEqual([t12.aToB.bps, t12.bToA.bps, t12.state], [8000, 2000, 'ok']);
  assert.deepEqual(s.nodes.map((n) => [n.name, n.state, n.subnet, n.pods.map((p) => p.addresses[0])]), [
    ['host-1', 'up', '10.244.1.0/24', ['10.244.1.2/24']],
    ['host-2', 'up', '10.244.2.0/24', ['10.244.2.2/24']],
    ['host-3', 'up', '10.244.3.0/24', ['10.244.3.2/24']],
  ]);
  assert.equal(s.nodes[0].daemons[0].tx.bps, 8000);
  assert.equal(s.etcd, undefined);
});

test('a host whose daemon stopped answering is down, and so are its tunnels; rates fall back to the receiver', () => {
  const readings = new Map<string, HostReading>([
    ['host-1', up(overlay(1, [peer(2, 0, { rxBytesPerSecond: 500, rxPacketsPerSecond: 1 })]))],
    ['host-2', { daemons: [], answeredBefore: true }],
    ['host-3', { daemons: [{ device: 'flannel0', error: 'no daemon behind its control socket' }], answeredBefore: false }],
  ]);
  const s = buildSnapshot(labState(3), readings, [{ subnet: '10.244.2.0/24', publicIp: '198.51.100.2' }]);
  assert.deepEqual(s.nodes.map((n) => n.state), ['up', 'down', 'down']);
  assert.equal(s.nodes[1].subnet, '10.244.2.0/24', 'the subnet of a host whose daemon is down comes from its etcd lease');
  assert.match(s.nodes[2].problem!, /no daemon behind/);
  assert.equal(s.tunnels.length, 1);
  assert.equal(s.tunnels[0].state, 'down');
  assert.match(s.tunnels[0].problem!, /host-2's daemon is down/);
  assert.equal(s.tunnels[0].bToA.bps, 4000, "host-2's side, counted by host-1 as received");
  assert.deepEqual(s.etcd, { leases: 1 });
  const never = buildSnapshot(labState(1), new Map([['host-1', { daemons: [], answeredBefore: false }]]), { error: 'etcdctl: context deadline exceeded' });
  assert.equal(never.nodes[0].state, 'none');
  assert.deepEqual(never.etcd, { leases: 0, error: 'etcdctl: context deadline exceeded' });
});

test('a WireGuard peer with no handshake, or a refused one, marks its tunnel', () => {
  const wg = { publicKey: 'k', latestHandshake: null, latestHandshakeAgeSeconds: null, transferTx: 0, transferRx: 0, keypairAgeSeconds: null, initiationsSent: 3, handshakeAttempts: 3, unansweredSeconds: 12 };
  const readings = new Map([
    ['host-1', up(overlay(1, [peer(2, 0, { security: 'wireguard', wireguard: wg })]))],
    ['host-2', up(overlay(2, [peer(1, 0, { security: 'refused: no key' })]))],
  ]);
  const t = buildSnapshot(labState(2), readings, undefined).tunnels[0];
  assert.equal(t.state, 'no-handshake');
  assert.match(t.problem!, /host-1: no WireGuard handshake yet; host-2: refused: no key/);
});

test('the charted series: per node and per tunnel, drops by reason', () => {
  const readings = new Map([
    ['host-1', up(overlay(1, [peer(2, 1000)]), { malformed: 2.5 })],
    ['host-2', up(overlay(2, [peer(1, 0)]))],
  ]);
  const series = snapshotSeries(buildSnapshot(labState(2), readings, undefined));
  assert.equal(series['node:host-1:tx.bps'], 8000);
  assert.equal(series['node:host-1:tx.pps'], 1);
  assert.equal(series['node:host-1:drop:malformed'], 2.5);
  assert.equal(series['tunnel:host-1~host-2:ab.bps'], 8000);
  assert.equal(series['tunnel:host-1~host-2:ba.pps'], 0);
});

test('the history keeps the last N samples aligned, null where a series had no value', () => {
  const h = new SeriesHistory(3);
  h.record(1000, { a: 1 });
  h.record(2000, { a: 2, b: 20 });
  h.record(3000, { b: 30 });
  assert.deepEqual(h.since(0), { t: [1, 2, 3], series: { a: [1, 2, null], b: [null, 20, 30] } });
  for (let i = 4; i <= 10; i++) h.record(i * 1000, { b: i });
  assert.equal(h.size, 3);
  assert.deepEqual(h.since(0), { t: [8, 9, 10], series: { b: [8, 9, 10] } }, 'a series with no value left is dropped');
  assert.deepEqual(h.since(9), { t: [10], series: { b: [10] } });
});

test('rates from two readings of cumulative counters (drops by reason, a relay\'s bytes)', () => {
  assert.deepEqual(counterRates(undefined, { a: 5 }, 1000), {});
  assert.deepEqual(counterRates({ at: 1000, counts: { a: 5 } }, { a: 15, b: 1 }, 3000), { a: 5, b: 0.5 });
  assert.deepEqual(counterRates({ at: 1000, counts: { a: 5 } }, { a: 5 }, 2000), {});
  assert.deepEqual(counterRates({ at: 1000, counts: { a: 50 } }, { a: 5 }, 2000), {}, 'a daemon that restarted counts from 0: no negative rate');
});

test("a relay's byte rates come from the reader, its packet rates from the relay", () => {
  const relay = { mode: 'relay', device: 'tun19', pid: 7, startedAt: '', uptimeSeconds: 1, subnet: '10.244.1.0/24', counters: { dropped: {} }, rates: { requestsPerSecond: 10, repliesPerSecond: 9 }, flowCount: 1, flows: [] } as unknown as DaemonStatus;
  const s = buildSnapshot(labState(1), new Map([['host-1', { daemons: [{ status: relay, dropsPerSecond: {}, bytesPerSecond: { tx: 840, rx: 756 } }], answeredBefore: true }]]), undefined);
  assert.deepEqual([s.nodes[0].daemons[0].tx, s.nodes[0].daemons[0].rx], [{ pps: 10, bps: 6720 }, { pps: 9, bps: 6048 }]);
  assert.deepEqual(s.tunnels, [], 'a relay has no tunnels');
});

test('etcd leases from etcdctl -w json, both families; a value that is not a lease is left out', () => {
  const kv = (key: string, value: string): { key: string; value: string } => ({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  const json = JSON.stringify({ kvs: [
    kv('/coreos.com/network/config', '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/48"}'),
    kv('/coreos.com/network/subnets/10.244.1.0-24', '{"PublicIP":"198.51.100.1"}'),
    kv('/coreos.com/network/subnets/10.244.2.0-24&fd00:10:244:2::-64', '{"PublicIP":"198.51.100.2","PublicIPv6":"2001:db8::2"}'),
    kv('/coreos.com/network/subnets/10.244.3.0-24', 'not json'),
  ] });
  assert.deepEqual(parseEtcdctlLeases(json), [
    { subnet: '10.244.1.0/24', subnet6: undefined, publicIp: '198.51.100.1' },
    { subnet: '10.244.2.0/24', subnet6: 'fd00:10:244:2::/64', publicIp: '198.51.100.2' },
  ]);
  assert.deepEqual(parseEtcdctlLeases('{}'), []);
});

test("a probe's hops: passed while reached, red at the first stage missing, the rest not reached", () => {
  const plan = overlayPlan({ pod: 'host-1-pod1', host: 'host-1', device: 'flannel0' }, { pod: 'host-2-pod1', host: 'host-2', device: 'flannel0' });
  const near = { armedAt: 1000, reached: { 'tun-in': 15, sent: 16 } };
  const far = { armedAt: 1010, reached: {} };
  const hops = judgeHops(plan, near, far, false, 1005);
  assert.deepEqual(hops.map((h) => h.status), ['passed', 'passed', 'failed', 'not-reached', 'not-reached', 'not-reached', 'not-reached', 'not-reached', 'not-reached']);
  assert.equal(hops[2].host, 'host-2', 'the UDP hop into host-2 is host-2\'s');
  assert.deepEqual([hops[0].atMs, hops[1].atMs], [10, 11], 'times count from the ping');
  const all = { reached: { 'tun-in': 1, sent: 1, 'from-network': 2, 'tun-out': 2 } };
  assert.ok(judgeHops(plan, all, all, true).every((h) => h.status === 'passed'));
  assert.equal(judgeHops(plan, all, all, false).at(-1)!.status, 'failed', 'every daemon stage reached but ping got nothing: the last hop');
  assert.deepEqual(judgeHops(relayPlan('host-1', 'tun19', '198.51.100.2'), { reached: { 'tun-in': 0 } }, undefined, false).map((h) => h.status), ['passed', 'failed', 'not-reached', 'not-reached', 'not-reached']);
});

test('--listen: loopback IPv4 and a port, or a one-line usage error', () => {
  assert.deepEqual(parseWatchListen('127.0.0.1:9180'), { host: '127.0.0.1', port: 9180 });
  assert.throws(() => parseWatchListen('0.0.0.0:9180'), /loopback only/);
  assert.throws(() => parseWatchListen('127.0.0.1'), /expected IPV4:PORT/);
  assert.throws(() => parseWatchListen('127.0.0.1:70000'), /expected IPV4:PORT/);
});

test("a kernel backend's node: its backend on the map, its rates from its VTEPs (the kernel counts per device, not per peer)", () => {
  const device = (rates: { txBytesPerSecond: number; rxBytesPerSecond: number }) => ({
    name: 'flannel.1', index: 4, mtu: 1450, up: true, rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, rxDropped: 0, txDropped: 0,
    rates: { txPacketsPerSecond: rates.txBytesPerSecond / 100, rxPacketsPerSecond: rates.rxBytesPerSecond / 100, ...rates },
  });
  const vxlan = (i: number, txBytesPerSecond: number): DaemonStatus => {
    const s = overlay(i, [peer(3 - i, 0)]) as OverlayStatus;
    return { ...s, device: 'flannel.1', backend: 'vxlan', kernel: { type: 'vxlan', devices: [device({ txBytesPerSecond, rxBytesPerSecond: 500 })], vni: 1, port: 8472, peers: [], skipped: {}, adopted: { kept: 0, removed: 0 } } } as unknown as DaemonStatus;
  };
  const s = buildSnapshot(labState(2), new Map([['host-1', up(vxlan(1, 2000))], ['host-2', up(vxlan(2, 500))]]), undefined, 1);
  const d = s.nodes[0].daemons[0];
  assert.equal(d.backend, 'vxlan');
  assert.deepEqual([d.tx, d.rx], [{ pps: 20, bps: 16000 }, { pps: 5, bps: 4000 }]);
  const hostGw = { ...(overlay(1, [peer(2, 0)]) as OverlayStatus), backend: 'host-gw', kernel: { type: 'host-gw', devices: [device({ txBytesPerSecond: 9999, rxBytesPerSecond: 9999 })], peers: [], skipped: {}, adopted: { kept: 0, removed: 0 } } } as unknown as DaemonStatus;
  // host-gw's device is the underlay, which carries everything of the node: not counted as the backend's traffic.
  assert.deepEqual(buildSnapshot(labState(2), new Map([['host-1', up(hostGw)]]), undefined, 1).nodes[0].daemons[0].tx, { pps: 0, bps: 0 });
});

test("a kernel backend's node with peer counters: its rates and its tunnels' are its peers', as a user-space node's", () => {
  const withCounters = (i: number, bytesPerSecond: number): DaemonStatus => {
    const s = overlay(i, [peer(3 - i, bytesPerSecond)]) as OverlayStatus;
    return { ...s, device: 'host-gw', backend: 'host-gw', kernel: { type: 'host-gw', devices: [], peers: [], skipped: {}, adopted: { kept: 0, removed: 0 }, peerCounters: true } } as unknown as DaemonStatus;
  };
  const s = buildSnapshot(labState(2), new Map([['host-1', up(withCounters(1, 1000))], ['host-2', up(withCounters(2, 250))]]), undefined, 1);
  assert.deepEqual(s.nodes[0].daemons[0].tx, { pps: 1, bps: 8000 });
  assert.deepEqual([s.tunnels[0].aToB, s.tunnels[0].bToA], [{ pps: 1, bps: 8000 }, { pps: 0.25, bps: 2000 }]);
});
