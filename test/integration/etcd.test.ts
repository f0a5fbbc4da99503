// The overlay's etcd control plane against a real 3-member etcd
// inside a cluster lab: flannel's key layout, subnet leases, live routes,
// restarts, etcd faults and the errors that stop a node before it starts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labEtcdEndpoints, labSubnetFile, startEtcdMember, stopEtcdMember, waitForEtcd } from '../../src/lab/lab-etcd.js';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { DaemonRun, ping, startDaemon } from '../../harness/daemon-harness.js';
import { startCapture } from '../../harness/capture.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

let cluster: OverlayCluster;
let scratch: string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PREFIX = '/coreos.com/network';
// The subnet each host's daemon took (etcd chooses; nothing is pre-seeded),
// learnt from its start-up log in test 1.
const subnets = new Map<number, string>();
const sub = (host: number): string => subnets.get(host)!;
/** Host's key under subnets/ ("10.244.7.0-24"). */
const key = (host: number): string => sub(host).replace('/', '-');
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const others = (host: number): string[] => [1, 2, 3].filter((h) => h !== host).map(sub).sort();
// Nodes the tests put by hand: subnets no daemon takes (a daemon picks among the 100 lowest free ones).
const FAKE = { a: '10.244.209.0', b: '10.244.208.0', c: '10.244.207.0', d: '10.244.206.0' };

async function pings(fromHost: number, toHost: number, count = 3): Promise<number> {
  return (await ping(cluster.lab, `host-${fromHost}-pod1`, ['-c', String(count), '-i', '0.1', '-W', '2', cluster.podIp(toHost, 1)])).received;
}

/** Polls host's route table (status --json) until `want` holds; returns the last peers seen. */
async function waitForPeers(host: number, want: (peers: string[]) => boolean, timeoutMs = 5000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let peers = await cluster.peers(host);
  while (!want(peers) && Date.now() < deadline) {
    await sleep(100);
    peers = await cluster.peers(host);
  }
  return peers;
}

/** The JSON log lines of a daemon run with a given field. */
function logLines(run: DaemonRun, field: string): Array<Record<string, unknown>> {
  return run.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((o) => field in o);
}

async function subnetKeys(prefix = PREFIX): Promise<Map<string, string>> {
  const out = (await cluster.etcdctl('get', '--prefix', `${prefix}/subnets/`)).trim().split('\n').filter(Boolean);
  const keys = new Map<string, string>();
  for (let i = 0; i + 1 < out.length; i += 2) keys.set(out[i].slice(`${prefix}/subnets/`.length), JSON.parse(out[i + 1]).PublicIP);
  return keys;
}

async function leaseOf(key: string): Promise<string> {
  // Lease IDs are 64-bit: read the digits, not a JSON number (which rounds them).
  const m = /"lease":(\d+)/.exec(await cluster.etcdctl('get', key, '-w', 'json'));
  assert.ok(m, `${key} has no lease`);
  return BigInt(m[1]).toString(16);
}

/** doctor's finding about the etcd lease of host's daemon. */
async function doctorEtcdLease(host: number): Promise<{ status: string; evidence: string; fix?: string } | undefined> {
  const r = await runCli(host, ['doctor', '--json', '--tun', 'flannel0']);
  return (JSON.parse(r.stdout) as Array<{ check: string; status: string; evidence: string; fix?: string }>).find((f) => f.check === 'etcd lease');
}

/** Runs `tun-driver ARGS` to completion in a host (for the start-up errors). */
function runCli(host: number, args: string[]) {
  return cluster.lab.run(`host-${host}`, process.execPath, [CLI, ...args], 20_000);
}

describe('tun-driver overlay with etcd', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('etcd'), 3, 1, { etcd: true });
    scratch = mkdtempSync(join(tmpdir(), 'tdlab-etcd-'));
  });
  after(async () => {
    await cluster?.down();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('1. nodes read the config, take their subnets, write subnet.env and reach each other', async () => {
    const runs = await Promise.all([1, 2, 3].map((h) => cluster.start(h)));
    runs.forEach((run, i) => subnets.set(i + 1, logLines(run, 'how')[0].subnet as string));
    assert.equal(new Set(subnets.values()).size, 3, `three distinct subnets: ${[...subnets.values()]}`);
    for (const s of subnets.values()) assert.match(s, /^10\.244\.\d+\.0\/24$/);
    for (const h of [1, 2, 3]) assert.deepEqual(await waitForPeers(h, (p) => p.length === 2), others(h), `host-${h}'s routes`);
    for (const [a, b] of [[1, 2], [2, 3], [3, 1], [2, 1]]) assert.equal(await pings(a, b), 3, `pod on host-${a} -> pod on host-${b}`);
    assert.deepEqual(Object.fromEntries(await subnetKeys()), { [key(1)]: '198.51.100.1', [key(2)]: '198.51.100.2', [key(3)]: '198.51.100.3' });
    assert.equal(readFileSync(labSubnetFile(cluster.lab, 'host-2'), 'utf8'), `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${sub(2).replace('.0/24', '.1/24')}\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n`);
    // The pods were added after that, through the plugin, in the subnet the daemon took.
    assert.equal(cluster.podIp(2, 1), sub(2).replace('.0/24', '.2'));
    // The key is held by an etcd lease with the TTL the daemon asked for.
    const ttl = await cluster.etcdctl('lease', 'timetolive', await leaseOf(`${PREFIX}/subnets/${key(2)}`));
    assert.match(ttl, /granted with TTL\(30s\)/);
    // `status` says where the leases come from.
    const status = await cluster.lab.run('host-2', process.execPath, [CLI, 'status']);
    assert.match(status.stdout, new RegExp(`2 peer\\(s\\) from etcd\\n  etcd http://198\\.51\\.100\\.1:2379,\\S+: /coreos\\.com/network/subnets/${escape(key(2))}, lease [0-9a-f]+ \\(TTL 30 s\\), last renewed `));
  });

  test('1. a restart (SIGTERM, SIGKILL, subnet.env lost) gets the same subnet back; SIGTERM keeps the key', async () => {
    assert.equal(await cluster.stop(3, 'SIGTERM'), 0);
    assert.equal((await subnetKeys()).get(key(3)), '198.51.100.3', 'the key outlives a clean stop');
    assert.equal(logLines(await cluster.start(3), 'how')[0].how, 'still ours');
    await cluster.stop(3, 'SIGKILL');
    rmSync(labSubnetFile(cluster.lab, 'host-3'));
    const again = await cluster.start(3);
    assert.deepEqual(logLines(again, 'how')[0], { ...logLines(again, 'how')[0], subnet: sub(3), how: 'still ours' });
    assert.ok(readFileSync(labSubnetFile(cluster.lab, 'host-3'), 'utf8').includes(`FLANNEL_SUBNET=${sub(3).replace('.0/24', '.1/24')}`));
    assert.equal(await pings(1, 3), 3);
    assert.deepEqual(await cluster.peers(1), others(1), 'host-1 never lost its route to host-3');
  });

  test('2. a revoked lease: its node stops, every other node drops the route; a node that joins is reachable', async () => {
    const run = cluster.daemons.get(3)!;
    await cluster.etcdctl('lease', 'revoke', await leaseOf(`${PREFIX}/subnets/${key(3)}`));
    for (const h of [1, 2]) assert.deepEqual(await waitForPeers(h, (p) => !p.includes(sub(3))), others(h).filter((s) => s !== sub(3)));
    assert.equal(await run.stop(), 1, 'host-3 exits 1');
    assert.ok(run.stderr().includes(`${key(3)} was deleted (its lease revoked or expired)`), run.stderr());
    cluster.daemons.delete(3);
    const joined = await cluster.start(3);
    assert.equal(logLines(joined, 'how')[0].how, 'remembered', 'the free subnet from subnet.env');
    for (const h of [1, 2]) assert.deepEqual(await waitForPeers(h, (p) => p.length === 2), others(h));
    assert.equal(await pings(1, 3), 3);
  });

  test('2. a live node renews its lease; an expired lease (SIGKILLed node) disappears from every route table', async () => {
    await cluster.stop(3);
    await cluster.start(3, ['--subnet-lease-ttl', '2']);
    // Two TTLs later the key is still there: the daemon renews it.
    await sleep(4500);
    assert.equal((await subnetKeys()).get(key(3)), '198.51.100.3');
    assert.match(await cluster.etcdctl('lease', 'timetolive', await leaseOf(`${PREFIX}/subnets/${key(3)}`)), /granted with TTL\(2s\), remaining\(\d+s\)/);
    await cluster.stop(3, 'SIGKILL');
    for (const h of [1, 2]) assert.deepEqual(await waitForPeers(h, (p) => !p.includes(sub(3)), 8000), others(h).filter((s) => s !== sub(3)));
    await cluster.start(3);
    for (const h of [1, 2]) assert.deepEqual(await waitForPeers(h, (p) => p.length === 2), others(h));
  });

  test('3. etcd down: forwarding goes on; etcd back: the nodes reconnect and converge', async () => {
    for (const m of ['host-1', 'host-2', 'host-3']) await stopEtcdMember(cluster.lab, m);
    await sleep(500);
    assert.equal(await pings(1, 2, 5), 5);
    assert.equal(await pings(3, 1, 5), 5);
    // doctor names it, with the command that checks etcd from the node.
    const down = await doctorEtcdLease(1);
    assert.equal(down?.status, 'problem', JSON.stringify(down));
    assert.ok(down!.evidence.includes(`cannot renew /coreos.com/network/subnets/${key(1)}`), down!.evidence);
    assert.match(down!.fix!, /^etcdctl --endpoints http:\/\/198\.51\.100\.1:2379,\S+ endpoint health$/);
    for (const m of ['host-1', 'host-2', 'host-3']) startEtcdMember(cluster.lab, m, 'existing');
    await waitForEtcd(cluster.lab);
    await cluster.etcdctl('put', `${PREFIX}/subnets/${FAKE.a}-24`, '{"PublicIP":"198.51.100.9","BackendType":"udp","BackendData":null}');
    for (const h of [1, 2, 3]) assert.ok((await waitForPeers(h, (p) => p.includes(`${FAKE.a}/24`), 8000)).includes(`${FAKE.a}/24`), `host-${h} learnt the new node`);
    assert.match(cluster.daemons.get(1)!.stderr(), /lost the watch on etcd/);
    await cluster.etcdctl('del', `${PREFIX}/subnets/${FAKE.a}-24`);
    for (const h of [1, 2, 3]) assert.deepEqual(await waitForPeers(h, (p) => p.length === 2), others(h));
    let back = await doctorEtcdLease(1);
    for (let i = 0; i < 50 && back?.status !== 'ok'; i++) {
      await sleep(100);
      back = await doctorEtcdLease(1);
    }
    assert.equal(back?.status, 'ok', JSON.stringify(back));
  });

  test('3. a watch lost across a compaction: the node lists again and converges', async () => {
    // host-1's daemon talks to member host-1 only; changes and a
    // compaction happen through the others while that member is down.
    await cluster.stop(1);
    const host1 = await cluster.start(1, ['--etcd-endpoints', labEtcdEndpoints(cluster.lab)[0]]);
    await cluster.etcdctl('put', `${PREFIX}/subnets/${FAKE.a}-24`, '{"PublicIP":"198.51.100.9","BackendType":"udp","BackendData":null}');
    assert.ok((await waitForPeers(1, (p) => p.includes(`${FAKE.a}/24`))).includes(`${FAKE.a}/24`));
    await stopEtcdMember(cluster.lab, 'host-1');
    const via2 = async (...args: string[]): Promise<string> => {
      const r = await cluster.lab.run('host-2', 'etcdctl', ['--endpoints', labEtcdEndpoints(cluster.lab)[1], ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    await via2('del', `${PREFIX}/subnets/${FAKE.a}-24`);
    await via2('put', `${PREFIX}/subnets/${FAKE.b}-24`, '{"PublicIP":"198.51.100.8","BackendType":"udp","BackendData":null}');
    const revision = JSON.parse(await via2('get', `${PREFIX}/config`, '-w', 'json')).header.revision;
    await via2('compact', String(revision));
    startEtcdMember(cluster.lab, 'host-1', 'existing');
    const peers = await waitForPeers(1, (p) => p.includes(`${FAKE.b}/24`) && !p.includes(`${FAKE.a}/24`), 10_000);
    assert.deepEqual(peers, [sub(2), sub(3), `${FAKE.b}/24`].sort());
    assert.match(host1.stderr(), /listed again/);
    await waitForEtcd(cluster.lab);
    await cluster.etcdctl('del', `${PREFIX}/subnets/${FAKE.b}-24`);
    await cluster.stop(1);
    await cluster.start(1);
  });

  test('2. malformed keys under subnets/ are logged and skipped; the daemons keep running', async () => {
    await cluster.etcdctl('put', `${PREFIX}/subnets/${FAKE.d}-24`, 'not json');
    await cluster.etcdctl('put', `${PREFIX}/subnets/garbage`, '{"PublicIP":"198.51.100.6"}');
    await cluster.etcdctl('put', `${PREFIX}/subnets/10.99.0.0-24`, '{"PublicIP":"198.51.100.6"}');
    await sleep(300);
    for (const h of [1, 2, 3]) {
      assert.deepEqual(await cluster.peers(h), others(h));
      assert.ok(cluster.daemons.get(h)!.stderr().includes(`ignoring /coreos.com/network/subnets/${FAKE.d}-24: value has no valid `));
      assert.match(cluster.daemons.get(h)!.stderr(), /ignoring \/coreos\.com\/network\/subnets\/10\.99\.0\.0-24: subnet outside the network/);
    }
    await cluster.etcdctl('del', `${PREFIX}/subnets/${FAKE.d}-24`);
    await cluster.etcdctl('del', `${PREFIX}/subnets/10.99.0.0-24`);
    await cluster.etcdctl('del', `${PREFIX}/subnets/garbage`);
    assert.equal(await pings(1, 3), 3);
  });

  test('3. losing one of three etcd members: the overlay does not notice', async () => {
    await stopEtcdMember(cluster.lab, 'host-2');
    const load = ping(cluster.lab, 'host-1-pod1', ['-c', '20', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)]);
    const put = Date.now();
    await cluster.etcdctl('put', `${PREFIX}/subnets/${FAKE.c}-24`, '{"PublicIP":"198.51.100.7","BackendType":"udp","BackendData":null}');
    for (const h of [1, 2, 3]) assert.ok((await waitForPeers(h, (p) => p.includes(`${FAKE.c}/24`))).includes(`${FAKE.c}/24`), `host-${h} learnt the new node`);
    console.log(`fault: one of three etcd members down: a new lease reached all three nodes ${Date.now() - put} ms after the put`);
    await cluster.etcdctl('del', `${PREFIX}/subnets/${FAKE.c}-24`);
    for (const h of [1, 2, 3]) assert.deepEqual(await waitForPeers(h, (p) => p.length === 2), others(h));
    assert.equal((await load).received, 20, 'no ping lost');
    console.log('fault: one of three etcd members down: 20 of 20 pings answered meanwhile');
    for (const h of [1, 2, 3]) assert.equal(cluster.daemons.get(h)!.child.exitCode, null, `host-${h}'s daemon still runs`);
    startEtcdMember(cluster.lab, 'host-2', 'existing');
    await waitForEtcd(cluster.lab);
  });

  test('keys in etcd: a node with --private-key publishes its public key in BackendData, and a new one after SIGHUP', async () => {
    const record = async (): Promise<{ BackendData: { PublicKey?: string } | null }> => JSON.parse((await cluster.etcdctl('get', '--print-value-only', `${PREFIX}/subnets/${key(3)}`)).trim());
    const keygen = async (file: string): Promise<string> => {
      const r = await runCli(3, ['keygen', '--out', file]);
      assert.equal(r.code, 0, r.stderr);
      return /public key: (\S+)/.exec(r.stdout)![1];
    };
    const keyFile = join(scratch, 'host-3.key');
    const first = await keygen(keyFile);
    await cluster.stop(3);
    // Hosts 1 and 2 have no keys: host-3 talks plaintext to them only with --allow-plaintext-peers.
    const run = await cluster.start(3, ['--private-key', keyFile, '--allow-plaintext-peers']);
    assert.deepEqual((await record()).BackendData, { PublicKey: first });
    assert.equal(await pings(1, 3), 3);
    const second = await keygen(join(scratch, 'host-3.next'));
    renameSync(join(scratch, 'host-3.next'), keyFile);
    run.child.kill('SIGHUP');
    let published = await record();
    for (let i = 0; i < 50 && published.BackendData?.PublicKey !== second; i++) {
      await sleep(100);
      published = await record();
    }
    assert.deepEqual(published.BackendData, { PublicKey: second }, 'the new key replaced the old in etcd');
    // The log line follows the put's answer: it may reach the pipe a moment after etcd shows the key.
    const said = /published in \/coreos\.com\/network\/subnets\/.* \(BackendData\.PublicKey\)/;
    for (let i = 0; i < 50 && !said.test(run.stderr()); i++) await sleep(100);
    assert.match(run.stderr(), said);
    await cluster.stop(3);
    await cluster.start(3);
    assert.equal((await record()).BackendData, null, 'without a key the record says none');
  });

  test("flannel's wireguard backend: Backend.Type wireguard, ListenPort and PSK from the config; records say BackendType wireguard; a node without a key is refused", async () => {
    const endpoints = labEtcdEndpoints(cluster.lab).join(',');
    const psk = Buffer.alloc(32, 0x42).toString('base64');
    await cluster.etcdctl('put', '/wg/config', JSON.stringify({ Network: '10.252.0.0/16', Backend: { Type: 'wireguard', ListenPort: 51900, PSK: psk } }));
    const args = (h: number, extra: string[]) => ['overlay', '--etcd-endpoints', endpoints, '--etcd-prefix', '/wg', '--public-ip', `198.51.100.${h}`, '--tun', 'wgnet0', '--subnet-file', join(scratch, `wg-${h}.env`), '--json-log', ...extra];
    const keyless = await runCli(1, args(1, []));
    assert.equal(keyless.code, 2, keyless.stderr);
    assert.match(keyless.stderr, /\/wg\/config says "Backend": \{"Type": "wireguard"\}: give this node --private-key FILE/);
    assert.equal(keyless.stderr.trim().split('\n').length, 1, keyless.stderr);
    const runs = [];
    // Each daemon handshakes with its peers as it starts: watch the wire from before.
    const wire = await startCapture(cluster.lab, 'host-2', 'eth0', 'udp port 51900');
    for (const h of [1, 2]) {
      const file = join(scratch, `wg-${h}.key`);
      assert.equal((await runCli(h, ['keygen', '--out', file])).code, 0);
      runs.push(await startDaemon(cluster.lab, `host-${h}`, args(h, ['--private-key', file]), /overlay up/));
    }
    try {
      const records = await subnetKeys('/wg');
      assert.equal(records.size, 2);
      for (const [k] of records) {
        const value = JSON.parse((await cluster.etcdctl('get', '--print-value-only', `/wg/subnets/${k}`)).trim());
        assert.equal(value.BackendType, 'wireguard');
        assert.match(value.BackendData.PublicKey, /^[A-Za-z0-9+/]{43}=$/);
      }
      // host-1 pings host-2's TUN address across the WireGuard overlay (port 51900, the PSK mixed in).
      const env2 = readFileSync(join(scratch, 'wg-2.env'), 'utf8');
      const target = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\//.exec(env2)![1] + '.0';
      const r = await cluster.lab.run('host-1', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', target]);
      const lines = await wire.stop();
      assert.match(r.stdout, / 3 received/, r.stdout);
      for (const [what, length] of [['initiation', 148], ['response', 92], ['transport message of a ping', 128]] as const) {
        assert.ok(lines.some((l) => l.includes(`UDP, length ${length}`)), `a WireGuard ${what} on port 51900: ${lines.join('\n')}`);
      }
    } finally {
      for (const run of runs) await run.stop();
    }
  });

  test('1. nodes that race for the last free subnets never get the same one', async () => {
    // Three subnets to lease, three nodes starting at once, each with no memory.
    await cluster.etcdctl('put', '/race/config', '{"Network":"10.250.0.0/16","SubnetMin":"10.250.50.0","SubnetMax":"10.250.52.0","Backend":{"Type":"udp","Port":8399}}');
    const endpoints = labEtcdEndpoints(cluster.lab).join(',');
    const runs = await Promise.all([1, 2, 3].map((h) => startDaemon(cluster.lab, `host-${h}`, ['overlay', '--etcd-endpoints', endpoints, '--etcd-prefix', '/race', '--public-ip', `198.51.100.${h}`, '--tun', 'race0', '--subnet-file', join(scratch, `race-${h}.env`), '--json-log'], /overlay up/)));
    const keys = await subnetKeys('/race');
    for (const r of runs) assert.equal(await r.stop(), 0);
    assert.deepEqual([...keys.keys()].sort(), ['10.250.50.0-24', '10.250.51.0-24', '10.250.52.0-24']);
    assert.deepEqual([...keys.values()].sort(), ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  });

  test('4. bad or missing config, a full network, wrong endpoints: one line, exit 2, nothing left behind', async () => {
    const endpoints = labEtcdEndpoints(cluster.lab).join(',');
    await cluster.etcdctl('put', '/bad-json/config', '{"Network": 10.244');
    await cluster.etcdctl('put', '/ipip/config', '{"Network":"10.251.0.0/16","Backend":{"Type":"ipip"}}');
    await cluster.etcdctl('put', '/tiny/config', '{"Network":"10.251.0.0/16","SubnetLen":24,"SubnetMin":"10.251.1.0","SubnetMax":"10.251.2.0"}');
    await cluster.etcdctl('put', '/tiny/subnets/10.251.1.0-24', '{"PublicIP":"198.51.100.21","BackendType":"udp","BackendData":null}');
    await cluster.etcdctl('put', '/tiny/subnets/10.251.2.0-24', '{"PublicIP":"198.51.100.22","BackendType":"udp","BackendData":null}');
    const leaseList = async (): Promise<string[]> => (await cluster.etcdctl('lease', 'list')).trim().split('\n').slice(1).sort();
    const leasesBefore = await leaseList();
    const cases: Array<[string[], RegExp]> = [
      [['--etcd-prefix', '/nothing'], /no network config at \/nothing\/config in etcd: put one, e\.g\. etcdctl put/],
      [['--etcd-prefix', '/bad-json'], /\/bad-json\/config: not valid JSON/],
      [['--etcd-prefix', '/ipip'], /Backend\.Type "ipip" is not supported: tun-driver carries "udp", "wireguard", "vxlan", "host-gw"/],
      [['--etcd-prefix', '/tiny'], /no free subnet: all 2 \/24 subnets from 10\.251\.1\.0 to 10\.251\.2\.0 are leased/],
    ];
    for (const [extra, message] of cases) {
      const r = await runCli(1, ['overlay', '--etcd-endpoints', endpoints, '--public-ip', '198.51.100.1', '--tun', 'bad0', '--subnet-file', join(scratch, 'bad.env'), ...extra]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const startedAt = Date.now();
    const unreachable = await runCli(1, ['overlay', '--etcd-endpoints', 'http://198.51.100.1:9', '--etcd-timeout', '1', '--public-ip', '198.51.100.1', '--tun', 'bad0']);
    const tookMs = Date.now() - startedAt;
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /cannot reach etcd at http:\/\/198\.51\.100\.1:9 within 1 s .*check --etcd-endpoints/);
    assert.doesNotMatch(unreachable.stderr, /after 3\.0/, 'the message does not contradict the timeout');
    // --etcd-timeout 1 gives up after about 1 s (plus Node's start-up), not after a 3 s call deadline.
    assert.ok(tookMs < 3000, `--etcd-timeout 1 took ${tookMs} ms`);
    for (const [args, message] of [
      [['--etcd-endpoints', endpoints, '--subnet', sub(1)], /--subnet is for leases file mode/],
      [['--etcd-endpoints', 'ftp://x'], /"ftp:\/\/x" must be http:\/\/HOST:PORT/],
      [[], /give --network, --subnet, --leases \(leases file mode\), or --etcd-endpoints/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli(1, ['overlay', '--public-ip', '198.51.100.1', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    // Leases of earlier tests' killed nodes may expire meanwhile; a lease granted by these failed starts would be new.
    assert.deepEqual((await leaseList()).filter((l) => !leasesBefore.includes(l)), [], 'no lease was left granted');
    assert.deepEqual([...(await subnetKeys('/tiny')).keys()].sort(), ['10.251.1.0-24', '10.251.2.0-24']);
    assert.equal(existsSync(join(scratch, 'bad.env')), false);
    const links = await cluster.lab.run('host-1', 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /bad0/);
  });
});
