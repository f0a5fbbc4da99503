// The authenticated overlay (issue 14) in a cluster lab: host-1..3 are
// nodes with keys, host-4 is a machine on the underlay that is not a node.
// Pods talk sealed; forged, tampered, replayed and keyless datagrams are
// counted and never reach a pod (a capture in the pod's namespace says so).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastCounters, LeaseEntry, leaseFor, OverlayCluster } from '../support/overlay-cluster.js';
import { ping } from '../support/daemon-harness.js';
import { Capture, startCapture } from '../support/capture.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

let cluster: OverlayCluster;
let dir: string;
const keys = new Map<number, { file: string; publicKey: string; privateKey: string }>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FORGE = new URL('../support/forge-datagrams.js', import.meta.url).pathname;

async function cliIn(node: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (input === undefined) return cluster.lab.run(node, process.execPath, [CLI, ...args]);
  const child = cluster.lab.spawn(node, process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.end(input);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  return { code, stdout, stderr };
}

function leases(overrides: Partial<Record<number, Partial<LeaseEntry> & { publicKey?: string }>> = {}): void {
  cluster.writeLeases([1, 2, 3].map((h) => ({ ...leaseFor(h), publicKey: keys.get(h)!.publicKey, ...overrides[h] })));
}

async function drops(host: number): Promise<Record<string, number>> {
  const run = cluster.daemons.get(host)!;
  run.child.kill('SIGUSR1');
  await sleep(300);
  return lastCounters(run).dropped;
}

async function forge(from: string, spec: Record<string, unknown>): Promise<number> {
  const r = await cluster.lab.run(from, process.execPath, [FORGE, JSON.stringify(spec)], 60_000);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).sent;
}

const capture = (node: string, iface: string, filter: string, write?: string): Promise<Capture> => startCapture(cluster.lab, node, iface, filter, write);

/** The UDP payloads of a pcap file (Ethernet, IPv4), base64 one per line. */
function udpPayloads(pcap: string): string[] {
  const b = readFileSync(pcap);
  const payloads: string[] = [];
  for (let at = 24; at + 16 <= b.length;) {
    const len = b.readUInt32LE(at + 8);
    const frame = b.subarray(at + 16, at + 16 + len);
    at += 16 + len;
    const ip = frame.subarray(14);
    const udp = ip.subarray((ip[0] & 0x0f) * 4);
    payloads.push(udp.subarray(8, udp.readUInt16BE(4)).toString('base64'));
  }
  return payloads;
}

describe('tun-driver overlay --private-key', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('auth'), 4, 1);
    dir = mkdtempSync(join(tmpdir(), 'tdlab-keys-'));
    for (const h of [1, 2, 3]) {
      const file = join(dir, `host-${h}.key`);
      const made = await cliIn(`host-${h}`, ['keygen', '--out', file]);
      assert.equal(made.code, 0, made.stderr);
      const privateKey = readFileSync(file, 'utf8').trim();
      const pub = await cliIn(`host-${h}`, ['pubkey'], privateKey);
      assert.equal(pub.code, 0, pub.stderr);
      keys.set(h, { file, privateKey, publicKey: pub.stdout.trim() });
      assert.match(made.stdout, new RegExp(`public key: ${pub.stdout.trim().replace(/[+/]/g, '\\$&')}`));
    }
    leases();
    for (const h of [1, 2, 3]) await cluster.start(h, ['--private-key', keys.get(h)!.file]);
  });
  after(async () => {
    await cluster?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('keygen writes 0600 and never overwrites; pubkey refuses garbage', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(keys.get(1)!.file).mode & 0o777, 0o600);
    const again = await cliIn('host-1', ['keygen', '--out', keys.get(1)!.file]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /the file exists/);
    const bad = await cliIn('host-1', ['pubkey'], 'hello');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /44 characters of base64/);
  });

  test('pods talk sealed: ICMP, TCP and UDP; the MTU leaves room for the seal; nothing readable on the wire', async () => {
    assert.match(readFileSync(labSubnetFile(cluster.lab, 'host-1'), 'utf8'), /FLANNEL_MTU=1440\n/, '1500 - 28 (UDP/IP) - 32 (seal)');
    const wire = await capture('host-1', 'eth0', 'udp port 8285 and src host 198.51.100.2');
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '3', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)])).received, 3);
    const lines = await wire.stop();
    assert.ok(lines.length >= 3 && lines.every((l) => /UDP, length 116/.test(l)), `84-byte pings sealed into 116-byte payloads: ${lines.join('\n')}`);
    // The pod's MTU is the overlay's: a full 1440 goes, 1441 does not even leave the pod.
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1412', cluster.podIp(3, 1)])).received, 1);
    assert.match((await ping(cluster.lab, 'host-1-pod1', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1413', cluster.podIp(3, 1)])).output, /mtu=1440/);
    for (const [udp, extra] of [[false, []], [true, ['-u', '-b', '50M', '-l', '1400']]] as const) {
      const server = cluster.lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
      await sleep(300);
      const r = await cluster.lab.run('host-1-pod1', 'iperf3', ['-c', cluster.podIp(2, 1), '-t', '2', '-J', ...extra], 30_000);
      server.kill();
      assert.equal(r.code, 0, r.stdout.slice(-300));
      const end = JSON.parse(r.stdout).end;
      if (udp) assert.ok(end.sum.packets > 1000 && end.sum.lost_percent < 1, JSON.stringify(end.sum));
      else assert.ok(end.sum_received.bits_per_second > 50e6, String(end.sum_received.bits_per_second));
    }
    const status = JSON.parse((await cliIn('host-1', ['status', '--tun', 'flannel0', '--json'])).stdout)[0];
    assert.equal(status.publicKey, keys.get(1)!.publicKey);
    assert.deepEqual(status.peers.map((p: { security: string }) => p.security), ['sealed', 'sealed']);
  });

  test('forgery: 10,000 datagrams from a non-node and 10,000 from a node posing as another: none reaches a pod, all are counted', async () => {
    const before = await drops(1);
    const pod = await capture('host-1-pod1', 'eth0', 'icmp and src net 10.244.2.0/24');
    const perKind = 2500;
    const base = { dst: '198.51.100.1', dstPort: 8285, perKind, innerSrc: cluster.podIp(2, 1).replace(/\d+$/, '99'), innerDst: cluster.podIp(1, 1) };
    // host-4 is no node: from its own address, then forging host-2's.
    const fromOwn = await forge('host-4', { ...base, src: '198.51.100.4', kinds: ['plaintext'] });
    const asHost2 = await forge('host-4', { ...base, src: '198.51.100.2', kinds: ['random', 'plaintext', 'sealed-looking'] });
    // host-3 is a node with a key, forging host-2's address, even sealing with its own key.
    const byNode = await forge('host-3', { ...base, src: '198.51.100.2', kinds: ['random', 'plaintext', 'sealed-looking', 'sealed-own-key'], privateKey: keys.get(3)!.privateKey, peerPublicKey: keys.get(1)!.publicKey });
    assert.deepEqual([fromOwn, asHost2, byNode], [perKind, 3 * perKind, 4 * perKind]);
    const seen = await pod.stop();
    assert.deepEqual(seen, [], 'no forged packet reached the pod');
    const after = await drops(1);
    const delta = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
    assert.equal(delta('unknown-peer'), perKind, JSON.stringify(after));
    assert.equal(delta('unauthenticated'), 7 * perKind, JSON.stringify(after));
    console.log(`forgery: ${fromOwn + asHost2 + byNode} forged datagrams, 0 reached the pod; host-1 counted unknown-peer +${delta('unknown-peer')}, unauthenticated +${delta('unauthenticated')}`);
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)])).received, 2, 'real traffic unharmed');
  });

  test('replays: captured datagrams sent again are refused, and still after the sender restarts (a new epoch)', async () => {
    const pcap = join(dir, 'host2.pcap');
    const wire = await capture('host-1', 'eth0', 'udp dst port 8285 and src host 198.51.100.2', pcap);
    assert.equal((await ping(cluster.lab, 'host-2-pod1', ['-c', '5', '-i', '0.1', '-W', '2', cluster.podIp(1, 1)])).received, 5);
    await wire.stop();
    const payloads = udpPayloads(pcap);
    assert.ok(payloads.length >= 5, `captured ${payloads.length} (pcap of ${readFileSync(pcap).length} bytes)`);
    const file = join(dir, 'replay.txt');
    writeFileSync(file, payloads.join('\n'));
    const replayOnce = async (): Promise<number> => {
      const before = await drops(1);
      const pod = await capture('host-1-pod1', 'eth0', 'icmp and src net 10.244.2.0/24');
      const sent = await forge('host-4', { src: '198.51.100.2', dst: '198.51.100.1', dstPort: 8285, kinds: ['payloads'], perKind: payloads.length, payloadsFile: file });
      assert.deepEqual(await pod.stop(), [], 'no replayed packet reached the pod');
      const after = await drops(1);
      assert.equal((after.replayed ?? 0) - (before.replayed ?? 0), sent, JSON.stringify(after));
      return sent;
    };
    await replayOnce();
    await cluster.stop(2);
    await cluster.start(2, ['--private-key', keys.get(2)!.file]);
    assert.equal((await ping(cluster.lab, 'host-2-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(1, 1)])).received, 2, 'host-2 back, in a new epoch');
    const n = await replayOnce();
    console.log(`replay: ${n} captured datagrams replayed before and after their sender restarted: all counted replayed, none delivered`);
  });

  test('key rotation: SIGHUP with a new key file, then the leases file updated: pings both ways go on', async () => {
    const count = 150; // 3 s at 20 ms
    const pings = [ping(cluster.lab, 'host-1-pod1', ['-c', String(count), '-i', '0.02', '-W', '1', cluster.podIp(2, 1)]), ping(cluster.lab, 'host-2-pod1', ['-c', String(count), '-i', '0.02', '-W', '1', cluster.podIp(1, 1)])];
    await sleep(500);
    const fresh = join(dir, 'host-2.next.key');
    assert.equal((await cliIn('host-2', ['keygen', '--out', fresh])).code, 0);
    const privateKey = readFileSync(fresh, 'utf8').trim();
    const publicKey = (await cliIn('host-2', ['pubkey'], privateKey)).stdout.trim();
    renameSync(fresh, keys.get(2)!.file);
    const run2 = cluster.daemons.get(2)!;
    run2.child.kill('SIGHUP');
    await sleep(700); // host-2 seals with the old key and opens both meanwhile
    keys.set(2, { ...keys.get(2)!, privateKey, publicKey });
    leases();
    const [there, back] = await Promise.all(pings);
    console.log(`key rotation: ${there.received}/${count} pings host-1 -> host-2 and ${back.received}/${count} back answered across the change (20 ms apart)`);
    assert.ok(count - there.received <= 50 && count - back.received <= 50, 'at most a second lost each way');
    assert.match(run2.stderr(), /SIGHUP: new key [A-Za-z0-9+/]{43}=, put /);
    const status2 = JSON.parse((await cliIn('host-2', ['status', '--tun', 'flannel0', '--json'])).stdout)[0];
    assert.equal(status2.publicKey, publicKey);
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)])).received, 2, 'traffic under the new key');
  });

  test('a keyless node: refused unless --allow-plaintext-peers, which status shows', async () => {
    await cluster.stop(3);
    leases({ 3: { publicKey: undefined } });
    await cluster.start(3);
    await sleep(300);
    const before = await drops(1);
    assert.equal((await ping(cluster.lab, 'host-3-pod1', ['-c', '2', '-i', '0.1', '-W', '1', cluster.podIp(1, 1)])).received, 0);
    const after = await drops(1);
    assert.ok((after.unauthenticated ?? 0) - (before.unauthenticated ?? 0) >= 2, JSON.stringify(after));
    let status = JSON.parse((await cliIn('host-1', ['status', '--tun', 'flannel0', '--json'])).stdout)[0];
    assert.deepEqual(status.peers.map((p: { subnet: string; security: string }) => p.security), ['sealed', 'refused: no key']);
    await cluster.stop(1);
    await cluster.start(1, ['--private-key', keys.get(1)!.file, '--allow-plaintext-peers']);
    assert.equal((await ping(cluster.lab, 'host-3-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(1, 1)])).received, 2);
    assert.equal((await ping(cluster.lab, 'host-2-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(1, 1)])).received, 2);
    status = JSON.parse((await cliIn('host-1', ['status', '--tun', 'flannel0', '--json'])).stdout)[0];
    assert.deepEqual(status.peers.map((p: { security: string }) => p.security), ['sealed', 'plaintext']);
  });
});
