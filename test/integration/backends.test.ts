// The kernel backends (vxlan, host-gw) in a cluster lab against a real
// etcd with flannel's records: pods ping across three nodes, a node that
// "flannel" configured by hand (ip, bridge, etcdctl, as flannel's vxlan
// code does) and nodes tun-driver configured reach each other, a lease that
// goes takes its kernel entries with it, the data plane outlives the agent
// and a restarted agent adopts it, and the wire shows what each backend
// sends (VXLAN in UDP 8472; bare pod addresses for host-gw).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { ping, startDaemon } from '../../harness/daemon-harness.js';
import { startCapture } from '../../harness/capture.js';
import { addPod } from '../../src/lab/lab-pods.js';
import { probePath } from '../../src/watch/path-probe.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import { writeSubnetEnv } from '../../src/subnet/etcd/subnet-env.js';
import { parseCidr } from '../../src/packet/addr.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PREFIX = '/coreos.com/network';

/** Runs a command in a lab node; throws with its stderr when it fails. */
async function sh(c: OverlayCluster, node: string, cmd: string, ...args: string[]): Promise<string> {
  const r = await c.lab.run(node, cmd, args);
  if (r.code !== 0) throw new Error(`${node}: ${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The routes, permanent neighbours and FDB entries of `dev` in a node, as `ip`/`bridge` print them. */
async function kernelState(c: OverlayCluster, node: string, dev: string): Promise<{ routes: string[]; neigh: string[]; fdb: string[] }> {
  const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter(Boolean);
  const hasDev = (await c.lab.run(node, 'ip', ['link', 'show', dev])).code === 0;
  return {
    routes: lines(await sh(c, node, 'ip', 'route', 'show', 'proto', '75')),
    neigh: hasDev ? lines(await sh(c, node, 'ip', 'neigh', 'show', 'dev', dev, 'nud', 'permanent')) : [],
    fdb: hasDev ? lines(await sh(c, node, 'bridge', 'fdb', 'show', 'dev', dev)).filter((l) => l.includes(' dst ')) : [],
  };
}

async function pings(c: OverlayCluster, from: string, to: string, count = 3): Promise<number> {
  return (await ping(c.lab, from, ['-c', String(count), '-i', '0.1', '-W', '2', to])).received;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(100);
    v = await read();
  }
  return v;
}

const taken = new Map<string, string>();
/** The subnet a node's daemon took (its JSON ready log), remembered past its stop. */
function subnetOf(c: OverlayCluster, host: number): string {
  const name = `${c.lab.name}/${host}`;
  const run = c.daemons.get(host);
  if (run) {
    const line = run.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((o) => 'how' in o);
    taken.set(name, line.subnet as string);
  }
  return taken.get(name)!;
}

describe('the vxlan backend against etcd, beside a node configured by hand as flannel does', { skip: ROOT_SKIP }, () => {
  let c: OverlayCluster;
  // host-3 is "flannel": its flannel.1 has the random MAC flannel's kernel gives it.
  const FLANNEL_MAC = '9a:3c:11:5e:2f:03';
  const FLANNEL_SUBNET = '10.244.203.0/24';
  before(async () => {
    c = await OverlayCluster.up(labName('bvx'), 3, 1, { etcd: true, backend: 'vxlan' });
  });
  after(async () => {
    await c?.down();
  });

  test("two tun-driver nodes and one flannel node share etcd: records in flannel's JSON, pods ping across all three", async () => {
    await c.start(1);
    await c.start(2);
    // host-3, as flannel's vxlan backend would set it up: the device, its record, then the entries of the other nodes from theirs.
    await sh(c, 'host-3', 'ip', 'link', 'add', 'flannel.1', 'address', FLANNEL_MAC, 'type', 'vxlan', 'id', '1', 'local', '198.51.100.3', 'dev', 'eth0', 'dstport', '8472', 'nolearning');
    await sh(c, 'host-3', 'ip', 'addr', 'add', '10.244.203.0/32', 'dev', 'flannel.1');
    await sh(c, 'host-3', 'ip', 'link', 'set', 'flannel.1', 'up');
    await c.etcdctl('put', `${PREFIX}/subnets/10.244.203.0-24`, JSON.stringify({ PublicIP: '198.51.100.3', PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: FLANNEL_MAC } }));
    const records = (await c.etcdctl('get', '--prefix', `${PREFIX}/subnets/`)).trim().split('\n');
    for (const h of [1, 2]) {
      const key = `${PREFIX}/subnets/${subnetOf(c, h).replace('/', '-')}`;
      const record = JSON.parse(records[records.indexOf(key) + 1]);
      const mac = JSON.parse(await sh(c, `host-${h}`, 'ip', '-j', 'link', 'show', 'flannel.1'))[0].address;
      assert.deepEqual(record, { PublicIP: `198.51.100.${h}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } }, `host-${h}'s record names its flannel.1's MAC`);
      const net = subnetOf(c, h).replace('/24', '');
      await sh(c, 'host-3', 'ip', 'neigh', 'replace', net, 'lladdr', mac, 'dev', 'flannel.1', 'nud', 'permanent');
      await sh(c, 'host-3', 'bridge', 'fdb', 'replace', mac, 'dev', 'flannel.1', 'dst', `198.51.100.${h}`, 'self', 'permanent');
      await sh(c, 'host-3', 'ip', 'route', 'replace', subnetOf(c, h), 'via', net, 'dev', 'flannel.1', 'onlink');
    }
    writeSubnetEnv(labSubnetFile(c.lab, 'host-3'), { network: parseCidr('10.244.0.0/16'), subnet: parseCidr(FLANNEL_SUBNET), mtu: 1450, ipMasq: false });
    await addPod(c.lab, 'host-3-pod1', { ipMasq: false });
    // tun-driver's nodes pick up the flannel node from etcd.
    for (const h of [1, 2]) {
      const s = await until(() => c.status(h), (st) => st.kernel!.peers.length === 2);
      assert.deepEqual(s.kernel!.peers.map((p) => p.subnet).sort(), [subnetOf(c, 3 - h), FLANNEL_SUBNET].sort());
      assert.equal(s.backend, 'vxlan');
    }
    const pod = (h: number): string => c.podIp(h, 1);
    for (const [a, b] of [[1, 2], [2, 1], [1, 3], [3, 1], [2, 3], [3, 2]]) assert.equal(await pings(c, `host-${a}-pod1`, pod(b)), 3, `pod on host-${a} -> pod on host-${b}`);
    // host-1's entries for the flannel node name the MAC flannel published.
    const k = await kernelState(c, 'host-1', 'flannel.1');
    assert.ok(k.neigh.includes(`10.244.203.0 lladdr ${FLANNEL_MAC} PERMANENT`), k.neigh.join('\n'));
    assert.ok(k.fdb.includes(`${FLANNEL_MAC} dst 198.51.100.3 self permanent`), k.fdb.join('\n'));
    assert.ok(k.routes.includes(`${FLANNEL_SUBNET} via 10.244.203.0 dev flannel.1 onlink`), k.routes.join('\n'));
    assert.equal(k.routes.length, 2);
  });

  test('the wire between nodes carries VXLAN in UDP 8472, the pods\' ICMP inside', async () => {
    const cap = await startCapture(c.lab, 'host-2', 'eth0', 'udp port 8472', undefined, 'vxlan');
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 2), 2);
    const lines = await cap.stop();
    const out = lines.filter((l) => /198\.51\.100\.1\.\d+ > 198\.51\.100\.2\.8472: VXLAN, flags \[I\] \(0x08\), vni 1$/.test(l));
    assert.ok(out.length >= 2, `VXLAN datagrams from host-1 to host-2: ${lines.join('\n')}`);
    // Inside: host-1's VTEP MAC to host-2's, and the pods' ICMP.
    assert.ok(lines.some((l) => l.includes('0e:4c:c6:33:64:01 > 0e:4c:c6:33:64:02') || /IP 10\.244\.\d+\.2 > 10\.244\.\d+\.2: ICMP echo request/.test(l)), lines.join('\n'));
    // Nothing between nodes travels unencapsulated.
    const plain = await startCapture(c.lab, 'host-2', 'eth0', 'icmp and net 10.244.0.0/16');
    await pings(c, 'host-1-pod1', c.podIp(2, 1), 2);
    assert.deepEqual(await plain.stop(), []);
  });

  test('a lease of another backend is skipped and counted; a lease that goes takes its neighbour, FDB entry and route along', async () => {
    await c.etcdctl('put', `${PREFIX}/subnets/10.244.204.0-24`, JSON.stringify({ PublicIP: '198.51.100.4', BackendType: 'udp', BackendData: null }));
    const s = await until(() => c.status(1), (st) => Object.keys(st.kernel!.skipped).length > 0);
    assert.deepEqual(Object.entries(s.kernel!.skipped), [['its record is BackendType "udp", not vxlan (flannel ignores it too)', 1]]);
    assert.equal(s.kernel!.peers.length, 2);
    const said = c.daemons.get(1)!.stderr().split('\n').filter((l) => l.includes('skipping the lease of 10.244.204.0/24'));
    assert.equal(said.length, 1, `said once: ${said.join('\n')}`);
    assert.match(JSON.parse(said[0]).msg, /skipping the lease of 10\.244\.204\.0\/24 at 198\.51\.100\.4: its record is BackendType "udp", not vxlan/);
    await c.etcdctl('del', `${PREFIX}/subnets/10.244.204.0-24`);
    await c.etcdctl('del', `${PREFIX}/subnets/10.244.203.0-24`);
    for (const h of [1, 2]) {
      const k = await until(() => kernelState(c, `host-${h}`, 'flannel.1'), (st) => st.routes.length === 1);
      assert.equal(k.routes.length, 1, k.routes.join('\n'));
      assert.ok(!k.neigh.some((l) => l.includes(FLANNEL_MAC)) && !k.fdb.some((l) => l.includes(FLANNEL_MAC)), `host-${h} still names the flannel node: ${[...k.neigh, ...k.fdb].join('\n')}`);
    }
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 2), 2);
  });

  test('stopping the agent leaves the data plane: pods keep talking; a restarted agent adopts it and adds nothing twice', async () => {
    const before = await kernelState(c, 'host-1', 'flannel.1');
    assert.equal(await c.stop(1), 0);
    assert.deepEqual(await kernelState(c, 'host-1', 'flannel.1'), before, 'the entries stay when the agent stops');
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 3), 3, 'pods talk while the agent is down');
    await c.start(1);
    const s = await c.status(1);
    assert.deepEqual(s.kernel!.adopted, { kept: 3, removed: 0 });
    assert.deepEqual(await kernelState(c, 'host-1', 'flannel.1'), before, 'nothing added twice');
    assert.equal(await pings(c, 'host-2-pod1', c.podIp(1, 1), 3), 3);
  });

  test('status shows the backend, the device with its counters and each peer with its entries', async () => {
    const r = await c.lab.run('host-1', process.execPath, [CLI, 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^overlay \(vxlan\) on flannel\.1 /);
    assert.match(r.stdout, /backend vxlan vni 1 port 8472 vtep 0e:4c:c6:33:64:01/);
    assert.match(r.stdout, /device flannel\.1 0e:4c:c6:33:64:01 mtu 1450: rx [1-9]\d* pkts/);
    assert.match(r.stdout, new RegExp(`bridge fdb 0e:4c:c6:33:64:02 dev flannel\\.1 dst 198\\.51\\.100\\.2 self permanent`));
  });

  test("doctor names a lease's missing FDB entry and a stale neighbour, each with the command that fixes it", async () => {
    const healthy = await doctor(c, 'host-1');
    assert.deepEqual(healthy.filter((f) => f.status === 'problem'), []);
    assert.ok(healthy.some((f) => f.check === 'flannel.1 entries' && f.status === 'ok'), JSON.stringify(healthy));
    assert.ok(healthy.some((f) => f.check === 'flannel.1 firewall' && f.status === 'ok'));
    await sh(c, 'host-1', 'bridge', 'fdb', 'del', '0e:4c:c6:33:64:02', 'dev', 'flannel.1', 'dst', '198.51.100.2', 'self');
    await sh(c, 'host-1', 'ip', 'neigh', 'replace', '10.244.250.0', 'lladdr', '0e:00:00:00:00:fa', 'dev', 'flannel.1', 'nud', 'permanent');
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 1), 0, 'without its FDB entry, host-2 is unreachable');
    const sick = await doctor(c, 'host-1');
    const missing = sick.find((f) => f.status === 'problem' && /FDB entry/.test(f.evidence));
    assert.equal(missing?.fix, 'bridge fdb replace 0e:4c:c6:33:64:02 dev flannel.1 dst 198.51.100.2 self permanent');
    const stale = sick.find((f) => f.check === 'flannel.1 stale entry');
    assert.equal(stale?.fix, 'ip neigh del 10.244.250.0 lladdr 0e:00:00:00:00:fa dev flannel.1');
    // lab watch's probe: the ping entered flannel.1 and never left as VXLAN; doctor, run there, gives the fix.
    const stuck = await probePath(c.lab.name, 'host-1-pod1', c.podIp(2, 1));
    assert.equal(stuck.backend, 'vxlan');
    assert.deepEqual(stuck.hops.slice(0, 3).map((h) => [h.step, h.host, h.status]), [['pod-to-vtep', 'host-1', 'passed'], ['vtep-to-wire', 'host-1', 'failed'], ['wire-to-host', 'host-2', 'not-reached']]);
    assert.equal(stuck.doctor?.host, 'host-1');
    assert.ok(stuck.doctor!.findings.some((f) => f.fix === missing!.fix), JSON.stringify(stuck.doctor));
    // The fixes as doctor gave them.
    for (const fix of [missing!.fix!, stale!.fix!]) await sh(c, 'host-1', 'sh', '-c', fix);
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 2), 2);
    const through = await probePath(c.lab.name, 'host-1-pod1', c.podIp(2, 1));
    assert.equal(through.delivered, true);
    assert.deepEqual(through.hops.map((h) => h.status), Array(9).fill('passed'), JSON.stringify(through.hops));
    assert.equal((await sh(c, 'host-1', 'nft', 'list', 'tables')).includes('tdlab-probe'), false, 'the probe removes its counting table');
    assert.deepEqual((await doctor(c, 'host-1')).filter((f) => f.status !== 'ok'), []);
  });
});

/** doctor's findings in a node, as JSON. */
async function doctor(c: OverlayCluster, node: string): Promise<Array<{ check: string; status: string; evidence: string; fix?: string }>> {
  const r = await c.lab.run(node, process.execPath, [CLI, 'doctor', '--json']);
  return JSON.parse(r.stdout);
}

describe('the host-gw backend against etcd', { skip: ROOT_SKIP }, () => {
  let c: OverlayCluster;
  before(async () => {
    c = await OverlayCluster.up(labName('bhg'), 3, 1, { etcd: true, backend: 'host-gw' });
  });
  after(async () => {
    await c?.down();
  });

  test('routes via each node\'s public IP; pods ping across three nodes with their own addresses on the wire', async () => {
    await c.startAll();
    for (const h of [1, 2, 3]) {
      const k = await until(() => kernelState(c, `host-${h}`, 'eth0'), (st) => st.routes.length === 2);
      const want = [1, 2, 3].filter((o) => o !== h).map((o) => `${subnetOf(c, o)} via 198.51.100.${o} dev eth0`).sort();
      assert.deepEqual(k.routes.sort(), want);
    }
    const records = (await c.etcdctl('get', '--prefix', `${PREFIX}/subnets/`)).trim().split('\n');
    assert.deepEqual(JSON.parse(records[1]).BackendType, 'host-gw');
    for (const [a, b] of [[1, 2], [2, 3], [3, 1]]) assert.equal(await pings(c, `host-${a}-pod1`, c.podIp(b, 1)), 3, `pod on host-${a} -> pod on host-${b}`);
    const cap = await startCapture(c.lab, 'host-2', 'eth0', 'icmp');
    await pings(c, 'host-1-pod1', c.podIp(2, 1), 2);
    const lines = await cap.stop();
    assert.ok(lines.some((l) => l.includes(`${c.podIp(1, 1)} > ${c.podIp(2, 1)}: ICMP echo request`)), `bare pod addresses on the wire: ${lines.join('\n')}`);
    const encapsulated = await startCapture(c.lab, 'host-2', 'eth0', 'udp');
    await pings(c, 'host-1-pod1', c.podIp(2, 1), 2);
    assert.deepEqual(await encapsulated.stop(), []);
    assert.equal((await c.status(1)).kernel!.devices[0].mtu, 1500);
    const probe = await probePath(c.lab.name, 'host-1-pod1', c.podIp(3, 1));
    assert.deepEqual([probe.backend, probe.delivered, probe.hops.map((h) => `${h.step} ${h.host} ${h.status}`)], ['host-gw', true, [
      'pod-to-wire host-1 passed', 'wire-to-host host-3 passed', 'host-to-pod host-3 passed', 'pod-replies host-3 passed', 'reply-to-wire host-3 passed', 'reply-wire-to-host host-1 passed', 'reply-to-pod host-1 passed',
    ]]);
  });

  test("doctor: strict reverse-path filtering passes while each peer's route leaves by the device its pods' packets arrive on, and is named when another route wins", async () => {
    const before = (await sh(c, 'host-1', 'sysctl', '-n', 'net.ipv4.conf.eth0.rp_filter')).trim();
    await sh(c, 'host-1', 'sysctl', '-w', 'net.ipv4.conf.eth0.rp_filter=1');
    const finding = async (): Promise<{ check: string; status: string; evidence: string; fix?: string } | undefined> => (await doctor(c, 'host-1')).find((f) => f.check === 'eth0 reverse-path filter');
    try {
      const ok = await finding();
      assert.equal(ok?.status, 'ok', JSON.stringify(ok));
      assert.match(ok!.evidence, /effective 1 \(strict: each peer's route leaves by the device its packets arrive on\)/);
      // A more specific route for half of host-2's subnet, into the pods' bridge: replies to those pods would leave by cni0.
      const half = subnetOf(c, 2).replace(/\.0\/24$/, '.0/25');
      await sh(c, 'host-1', 'ip', 'route', 'add', half, 'dev', 'cni0');
      try {
        const sick = await finding();
        assert.equal(sick?.status, 'problem', JSON.stringify(sick));
        assert.ok(sick!.evidence.includes(`packets from ${subnetOf(c, 2)}'s pods arrive on eth0, but the route back to ${subnetOf(c, 2)} leaves by cni0 (${half})`), sick!.evidence);
        assert.match(sick!.fix!, /^sysctl -w net\/ipv4\/conf\/eth0\/rp_filter=2/);
      } finally {
        await sh(c, 'host-1', 'ip', 'route', 'del', half, 'dev', 'cni0');
      }
    } finally {
      await sh(c, 'host-1', 'sysctl', '-w', `net.ipv4.conf.eth0.rp_filter=${before}`);
    }
  });

  test('a lease that goes takes its route; the agent\'s stop keeps the routes and a restart adopts them', async () => {
    await c.stop(3);
    await c.etcdctl('del', `${PREFIX}/subnets/${subnetOf(c, 3).replace('/', '-')}`);
    const k = await until(() => kernelState(c, 'host-1', 'eth0'), (st) => st.routes.length === 1);
    assert.deepEqual(k.routes, [`${subnetOf(c, 2)} via 198.51.100.2 dev eth0`]);
    assert.equal(await c.stop(1), 0);
    assert.deepEqual((await kernelState(c, 'host-1', 'eth0')).routes, k.routes);
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 2), 2);
    await c.start(1);
    assert.deepEqual((await c.status(1)).kernel!.adopted, { kept: 1, removed: 0 });
    // The explicit teardown, for users who want it gone.
    await c.stop(1);
    const r = await c.lab.run('host-1', process.execPath, [CLI, 'overlay-teardown', '--backend', 'host-gw']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'removed 1 route(s) of proto 75\n');
    assert.deepEqual((await kernelState(c, 'host-1', 'eth0')).routes, []);
  });
});

describe('kernel backends from a leases file: IPv6 pods over vxlan, DirectRouting, host-gw off-link, bad input', { skip: ROOT_SKIP }, () => {
  let c: OverlayCluster;
  let scratch: string;
  before(async () => {
    c = await OverlayCluster.up(labName('bfile'), 2, 1, { dualStack: true, underlay6: true, backend: 'vxlan' });
    scratch = mkdtempSync(join(tmpdir(), 'tdlab-backends-'));
  });
  after(async () => {
    await c?.down();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('dual-stack vxlan: flannel.1 and flannel-v6.1, pods ping over IPv4 and IPv6, the IPv6 underlay carries IPv6 pods; --peer-counters counts both', async () => {
    c.commonArgs = ['--peer-counters'];
    await c.startAll();
    c.commonArgs = [];
    const s = await c.status(1);
    assert.deepEqual(s.kernel!.devices.map((d) => [d.name, d.mtu]), [['flannel.1', 1450], ['flannel-v6.1', 1430]]);
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1)), 3);
    const cap = await startCapture(c.lab, 'host-2', 'eth0', 'ip6 and udp port 8472');
    assert.equal((await ping(c.lab, 'host-1-pod1', ['-6', '-c', '3', '-i', '0.1', '-W', '2', c.podIp6(2, 1)])).received, 3);
    const lines = await cap.stop();
    assert.ok(lines.some((l) => /2001:db8:100::1\.\d+ > 2001:db8:100::2\.8472: /.test(l)), lines.join('\n'));
    const k6 = (await sh(c, 'host-1', 'ip', '-6', 'route', 'show', 'proto', '75')).trim();
    assert.equal(k6, 'fd00:10:244:2::/64 via fd00:10:244:2:: dev flannel-v6.1 metric 1024 onlink pref medium');
    // --peer-counters: the six requests out and six replies in, counted on host-2's peer entry over both families (read once a second).
    const counted = await until(() => c.status(1), (st) => st.peers[0]?.rxPackets === 6, 4000);
    assert.equal(counted.kernel!.peerCounters, true);
    assert.deepEqual([counted.peers[0].subnet, counted.peers[0].subnet6, counted.peers[0].txPackets, counted.peers[0].rxPackets], ['10.244.2.0/24', 'fd00:10:244:2::/64', 6, 6]);
    assert.ok(counted.peers[0].txBytes >= 3 * 84 + 3 * 104, `inner bytes: ${counted.peers[0].txBytes}`);
    const text = await c.lab.run('host-1', process.execPath, [CLI, 'status']);
    assert.match(text.stdout, /peer 10\.244\.2\.0\/24 and fd00:10:244:2::\/64 at 198\.51\.100\.2 \[2001:db8:100::2\] \(vxlan\): tx 6 pkts/);
    assert.match(await sh(c, 'host-1', 'nft', 'list', 'tables'), /table inet tun-driver-flannel\.1-peers/);
    await c.stop(1);
    assert.doesNotMatch(await sh(c, 'host-1', 'nft', 'list', 'tables'), /-peers/, 'the agent removes its counters on exit');
    await c.stop(2);
  });

  test('DirectRouting: a peer on the same link gets a plain route via its public IP; nothing is encapsulated', async () => {
    for (const h of [1, 2]) await c.lab.run(`host-${h}`, process.execPath, [CLI, 'overlay-teardown', '--backend', 'vxlan']);
    c.commonArgs = ['--direct-routing'];
    await c.start(1, []);
    await c.start(2, []);
    assert.deepEqual((await kernelState(c, 'host-1', 'flannel.1')).routes, ['10.244.2.0/24 via 198.51.100.2 dev eth0']);
    assert.equal((await c.status(1)).kernel!.peers[0].via, 'direct');
    const cap = await startCapture(c.lab, 'host-2', 'eth0', 'udp port 8472');
    assert.equal(await pings(c, 'host-1-pod1', c.podIp(2, 1), 2), 2);
    assert.deepEqual(await cap.stop(), []);
    await c.stop(1);
    await c.stop(2);
    c.commonArgs = [];
    for (const h of [1, 2]) await c.lab.run(`host-${h}`, process.execPath, [CLI, 'overlay-teardown', '--backend', 'vxlan']);
  });

  test('host-gw: a peer that is not on this node\'s link is refused by name, the others are routed', async () => {
    const leases = join(scratch, 'leases.json');
    writeFileSync(leases, JSON.stringify({ network: '10.244.0.0/16', nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }, { subnet: '10.244.2.0/24', publicIp: '198.51.100.2' }, { subnet: '10.244.9.0/24', publicIp: '203.0.113.9' }] }));
    const run = await startDaemon(c.lab, 'host-1', ['overlay', '--backend', 'host-gw', '--network', '10.244.0.0/16', '--subnet', '10.244.1.0/24', '--public-ip', '198.51.100.1', '--leases', leases, '--subnet-file', join(scratch, 'subnet.env'), '--remove-on-exit'], /overlay up/);
    assert.deepEqual((await kernelState(c, 'host-1', 'eth0')).routes, ['10.244.2.0/24 via 198.51.100.2 dev eth0']);
    assert.equal(await run.stop(), 0);
    assert.deepEqual((await kernelState(c, 'host-1', 'eth0')).routes, [], '--remove-on-exit took the route along');
    assert.match(run.stderr(), /skipping the lease of 10\.244\.9\.0\/24 at 203\.0\.113\.9: host-gw needs layer-2 adjacency: 203\.0\.113\.9 is not on eth0's subnet; use vxlan with DirectRouting/);
    assert.match(run.stderr(), /overlay up: backend host-gw on eth0 mtu 1500/);
  });

  test('bad input: one line, exit 2, nothing configured', async () => {
    const base = ['overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.1.0/24', '--public-ip', '198.51.100.1', '--leases', c.leasesFile, '--subnet-file', join(scratch, 'bad.env')];
    const cases: Array<[string[], RegExp]> = [
      [['--backend', 'ipip'], /--backend ipip: use udp, wireguard, vxlan, host-gw/],
      [['--backend', 'vxlan', '--vni', '0'], /--vni/],
      [['--backend', 'vxlan', '--vni', '16777216'], /--vni/],
      [['--vni', '3'], /--vni, --direct-routing and --gbp are for --backend vxlan/],
      [['--backend', 'host-gw', '--trace'], /the host-gw backend has the kernel carry the packets/],
      [['--backend', 'vxlan', '--vni', '12345678'], /VNI 12345678 makes the device name flannel\.12345678 longer than 15 characters/],
      [['--peer-counters'], /--peer-counters is for the kernel backends \(vxlan, host-gw\): the udp backend counts each peer's traffic itself/],
    ];
    for (const [extra, message] of cases) {
      const r = await c.lab.run('host-1', process.execPath, [CLI, ...base, ...extra]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    // A device of that name that is not a VXLAN is not ours: refused, left alone, nothing added.
    await sh(c, 'host-1', 'ip', 'link', 'add', 'flannel.1', 'type', 'bridge');
    const r = await c.lab.run('host-1', process.execPath, [CLI, ...base, '--backend', 'vxlan']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /device flannel\.1 exists and is not a VXLAN \(kind bridge\): it is not ours/);
    assert.equal(JSON.parse(await sh(c, 'host-1', 'ip', '-d', '-j', 'link', 'show', 'flannel.1'))[0].linkinfo.info_kind, 'bridge');
    assert.deepEqual((await kernelState(c, 'host-1', 'flannel.1')).routes, []);
    await sh(c, 'host-1', 'ip', 'link', 'del', 'flannel.1');
    // A VXLAN of that name with another VNI: named, left alone.
    await sh(c, 'host-1', 'ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '9', 'local', '198.51.100.1', 'dstport', '8472', 'nolearning');
    const other = await c.lab.run('host-1', process.execPath, [CLI, ...base, '--backend', 'vxlan', '--peer-counters']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /device flannel\.1 exists with VNI 9, port 8472, local 198\.51\.100\.1, not this node's VNI 1/);
    assert.doesNotMatch(await sh(c, 'host-1', 'nft', 'list', 'tables'), /-peers/, 'the peer counters made first are gone with the failed start');
    await sh(c, 'host-1', 'ip', 'link', 'del', 'flannel.1');
  });
});

describe('dual-stack over etcd: vxlan and host-gw on three nodes, IPv4 and IPv6 pods', { skip: ROOT_SKIP }, () => {
  for (const backend of ['vxlan', 'host-gw'] as const) {
    test(`${backend}: each node's record carries its IPv6 data, every pod pings every other over both families`, async () => {
      const c = await OverlayCluster.up(labName(`bd${backend === 'vxlan' ? 'v' : 'h'}`), 3, 1, { etcd: true, dualStack: true, underlay6: true, backend });
      try {
        await c.startAll();
        const records = (await c.etcdctl('get', '--prefix', `${PREFIX}/subnets/`)).trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
        assert.equal(records.length, 3);
        for (const r of records) {
          assert.equal(r.BackendType, backend);
          assert.match(r.PublicIPv6, /^2001:db8:100::[123]$/);
          if (backend === 'vxlan') assert.match(r.BackendV6Data?.VtepMAC ?? '', /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, JSON.stringify(r));
        }
        for (const h of [1, 2, 3]) {
          const routes6 = await until(async () => (await sh(c, `host-${h}`, 'ip', '-6', 'route', 'show', 'proto', '75')).trim().split('\n').filter(Boolean), (r) => r.length === 2);
          assert.equal(routes6.length, 2, routes6.join('\n'));
          for (const r of routes6) assert.match(r, backend === 'vxlan' ? / dev flannel-v6\.1 .*onlink/ : / via 2001:db8:100::[123] dev eth0 /);
        }
        for (const a of [1, 2, 3]) {
          for (const b of [1, 2, 3]) {
            if (a === b) continue;
            assert.equal(await pings(c, `host-${a}-pod1`, c.podIp(b, 1), 2), 2, `IPv4 pod on host-${a} -> host-${b}`);
            assert.equal((await ping(c.lab, `host-${a}-pod1`, ['-6', '-c', '2', '-i', '0.1', '-W', '2', c.podIp6(b, 1)])).received, 2, `IPv6 pod on host-${a} -> host-${b}`);
          }
        }
        // lab watch's probe over IPv6 (ICMPv6 counted inside VXLAN over the IPv6 underlay, or routed bare).
        const probe = await probePath(c.lab.name, 'host-2-pod1', c.podIp6(3, 1));
        assert.equal(probe.delivered, true);
        assert.deepEqual(probe.hops.map((h) => h.status), Array(backend === 'vxlan' ? 9 : 7).fill('passed'), JSON.stringify(probe.hops));
        if (backend === 'vxlan') assert.deepEqual(probe.hops[0].via, ['host-2-pod1', 'cni0', 'flannel-v6.1']);
      } finally {
        await c.down();
      }
    });
  }
});
