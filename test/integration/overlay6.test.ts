// The dual-stack overlay in a cluster lab: hosts 1 and 2 run IPv4 and
// IPv6 pod networks (10.244.i.0/24 and fd00:10:244:i::/64, leases-file
// mode), host 3 stays IPv4-only; IPv6 pod traffic crosses the IPv4
// underlay. Real ping -6, traceroute -6 and iperf3 -6 between pods.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { leaseFor, OverlayCluster, publicIpv6For } from '../../harness/overlay-cluster.js';
import { ping, startDaemon } from '../../harness/daemon-harness.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import type { Lab } from '../../src/lab/lab.js';
import { probePath } from '../../src/watch/path-probe.js';
import { LabReader } from '../../src/watch/lab-reader.js';
import { labName, ROOT_SKIP } from './helpers.js';

let cluster: OverlayCluster;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pod = (host: number, n: number): string => `host-${host}-pod${n}`;
const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

/**
 * Pings (two each, from a pod: its extra ping arguments) while tcpdump
 * watches host-1's underlay: every ping must be answered, and every
 * overlay datagram seen (8 at least) must be UDP over IPv6 between the
 * nodes' IPv6 addresses.
 */
async function answeredOverIPv6Underlay(lab: Lab, pings: Array<[string, string[]]>): Promise<void> {
  const capture = lab.run('host-1', 'timeout', ['5', 'tcpdump', '-i', 'eth0', '-nn', '-l', '-c', '8', 'udp port 8285'], 10_000);
  await sleep(500);
  for (const [from, args] of pings) {
    const r = await ping(lab, from, ['-c', '2', '-i', '0.2', '-W', '2', ...args]);
    assert.equal(r.received, 2, r.output);
  }
  const wire = (await capture).stdout;
  const lines = wire.trim().split('\n').filter(Boolean);
  assert.ok(lines.length >= 8, wire);
  assert.ok(lines.every((l) => / IP6 2001:db8:100::[12]\.8285 > 2001:db8:100::[12]\.8285: UDP/.test(l)), `every datagram on the underlay is IPv6:\n${wire}`);
}

/** Two nodes of one pod each, their daemons started before the describe's tests and the lab taken down after them. */
function twoNodesRunning(name: string, options: Parameters<typeof OverlayCluster.up>[3]): () => OverlayCluster {
  let c: OverlayCluster | undefined;
  before(async () => {
    c = await OverlayCluster.up(labName(name), 2, 1, options);
    await c.startAll();
  });
  after(async () => {
    await c?.down();
  });
  return () => c!;
}

describe('tun-driver overlay, dual-stack', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('ovl6'), 3, 1, { dualStack: true, ipv4Only: [3] });
    await cluster.startAll();
  });
  after(async () => {
    await cluster?.down();
  });

  test('1. pods get an address of each family from subnet.env; pods on different nodes ping over IPv6 both ways', async () => {
    const env = readFileSync(labSubnetFile(cluster.lab, 'host-2'), 'utf8');
    assert.match(env, /^FLANNEL_IPV6_NETWORK=fd00:10:244::\/48$/m);
    assert.match(env, /^FLANNEL_IPV6_SUBNET=fd00:10:244:2::1\/64$/m);
    assert.equal(cluster.podIp6(1, 1).startsWith('fd00:10:244:1::'), true);
    assert.equal(cluster.lab.node(pod(3, 1)).addresses.some((a) => a.includes(':')), false, 'the IPv4-only host gives its pods no IPv6 address');
    for (const [from, to] of [[pod(1, 1), cluster.podIp6(2, 1)], [pod(2, 1), cluster.podIp6(1, 1)]]) {
      const r = await ping(cluster.lab, from, ['-6', '-c', '3', '-i', '0.1', '-W', '2', to]);
      assert.equal(r.received, 3, `${from} -> ${to}: ${r.output}`);
      assert.equal(r.duplicates, 0);
    }
  });

  test('2. TCP and UDP over IPv6 between pods on different nodes', async () => {
    const lab = cluster.lab;
    for (const reverse of [[], ['-R']]) {
      const server = lab.spawn(pod(2, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
      await sleep(300);
      const tcp = await lab.run(pod(1, 1), 'iperf3', ['-6', '-c', cluster.podIp6(2, 1), '-t', '2', '-J', ...reverse], 30_000);
      server.kill();
      assert.equal(tcp.code, 0, tcp.stderr + tcp.stdout.slice(-300));
      const bps = JSON.parse(tcp.stdout).end.sum_received.bits_per_second;
      assert.ok(bps > 10e6, `TCP over IPv6 ${reverse.join('')} moved ${bps} bit/s`);
    }
    const udpServer = lab.spawn(pod(1, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    // 1,400-byte datagrams fit the path (1,472 - 40 - 8 leaves 1,424).
    const udp = await lab.run(pod(2, 1), 'iperf3', ['-6', '-c', cluster.podIp6(1, 1), '-u', '-b', '20M', '-l', '1400', '-t', '2', '-J'], 30_000);
    udpServer.kill();
    assert.equal(udp.code, 0, udp.stderr + udp.stdout.slice(-300));
    const sum = JSON.parse(udp.stdout).end.sum;
    assert.ok(sum.packets > 1000, `UDP over IPv6 sent ${sum.packets} datagrams`);
    assert.ok(sum.lost_percent < 5, `UDP over IPv6 lost ${sum.lost_percent}%`);
  });

  test('3. the receiving daemon is an IPv6 hop: traceroute -6 shows it, hop limit 2 expires there', async () => {
    const to = cluster.podIp6(2, 1);
    const tr = await cluster.lab.run(pod(1, 1), 'traceroute', ['-6', '-n', '-q', '1', '-w', '2', '-m', '6', to]);
    assert.equal(tr.code, 0, tr.stderr);
    const hops = tr.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]);
    // host-1's kernel (cni0), host-2's daemon (its IPv6 hop address), host-2's kernel (which answers from the TUN's address), the pod: as in IPv4.
    assert.deepEqual(hops, ['fd00:10:244:1::1', 'fd00:10:244:2::', 'fd00:10:244:2::', to], tr.stdout);
    const r = await ping(cluster.lab, pod(1, 1), ['-6', '-c', '1', '-W', '2', to]);
    assert.match(r.output, /ttl=61/, `64, minus host-1's kernel, host-2's daemon, host-2's kernel: ${r.output}`);
    const expired = await ping(cluster.lab, pod(1, 1), ['-6', '-c', '1', '-W', '2', '-t', '2', to]);
    assert.match(expired.output, /From fd00:10:244:2:: icmp_seq=1 Time exceeded: Hop limit/, expired.output);
  });

  test('4. a mixed cluster: the IPv4-only node keeps working for IPv4, and IPv6 to it is unreachable, not lost', async () => {
    for (const [from, to] of [[pod(1, 1), cluster.podIp(3, 1)], [pod(3, 1), cluster.podIp(2, 1)]]) {
      const r = await ping(cluster.lab, from, ['-c', '2', '-i', '0.1', '-W', '2', to]);
      assert.equal(r.received, 2, `${from} -> ${to}: ${r.output}`);
    }
    const r = await ping(cluster.lab, pod(1, 1), ['-6', '-c', '1', '-W', '2', 'fd00:10:244:3::2']);
    assert.match(r.output, /Destination unreachable: No route/, r.output);
    const st = await cluster.lab.run('host-1', process.execPath, [CLI, 'status', '--tun', 'flannel0', '--json']);
    const [s] = JSON.parse(st.stdout);
    assert.equal(s.subnet6, 'fd00:10:244:1::/64');
    assert.deepEqual(s.peers.map((p: { subnet: string; subnet6?: string }) => `${p.subnet} ${p.subnet6 ?? '-'}`).sort(), ['10.244.2.0/24 fd00:10:244:2::/64', '10.244.3.0/24 -']);
    assert.ok((s.counters.dropped['no-route'] ?? 0) >= 1);
  });

  test('5. doctor on a dual-stack node: IPv6 forwarding off is a problem with its fix', async () => {
    const finding = async (): Promise<{ status: string; evidence: string; fix?: string }> =>
      (JSON.parse((await cluster.lab.run('host-1', process.execPath, [CLI, 'doctor', '--json', '--tun', 'flannel0'])).stdout) as Array<{ check: string; status: string; evidence: string; fix?: string }>).find((f) => f.check === 'ipv6 forwarding')!;
    assert.equal((await finding()).status, 'ok');
    await cluster.lab.run('host-1', 'sysctl', ['-w', 'net.ipv6.conf.all.forwarding=0']);
    try {
      const off = await finding();
      assert.equal(off.status, 'problem');
      assert.match(off.evidence, /fd00:10:244:1::\/64/);
      assert.equal(off.fix, 'sysctl -w net.ipv6.conf.all.forwarding=1');
    } finally {
      await cluster.lab.run('host-1', 'sysctl', ['-w', 'net.ipv6.conf.all.forwarding=1']);
    }
  });

  test('6. bad IPv6 flags are one line, exit 2, nothing created', async () => {
    const base = ['overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.9.0/24', '--public-ip', '198.51.100.1', '--leases', cluster.leasesFile, '--tun', 'tdbad0'];
    for (const [extra, message] of [
      [['--network', 'fd00:10:244::/48'], /needs this node's IPv6 --subnet/],
      [['--network', 'fd00:10:244::/48', '--subnet', 'fd00:99::/64'], /outside --network/],
      [['--network', 'fd00:10:244::/48', '--subnet', 'fd00:10:244:9::/80'], /\/64 or shorter/],
      [['--network', 'fd00:10:244::1/48', '--subnet', 'fd00:10:244:9::/64'], /host bits/],
      [['--network', 'fd00:10:244::/48', '--network', 'fd00:10:245::/48', '--subnet', 'fd00:10:244:9::/64'], /one IPv6 --network only/],
    ] as const) {
      const r = await cluster.lab.run('host-1', process.execPath, [CLI, ...base, ...extra]);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const link = await cluster.lab.run('host-1', 'ip', ['link', 'show', 'tdbad0']);
    assert.notEqual(link.code, 0);
  });
});

describe('tun-driver overlay, dual-stack with etcd', { skip: ROOT_SKIP }, () => {
  const cluster = twoNodesRunning('etcd6', { etcd: true, dualStack: true });

  test("each node takes one key for both subnets, in flannel's format, and pods reach each other over IPv6", async () => {
    const etcdCluster = cluster();
    const keys = (await etcdCluster.etcdctl('get', '--prefix', '--keys-only', '/coreos.com/network/subnets/')).trim().split('\n').filter(Boolean).sort();
    assert.equal(keys.length, 2, keys.join(', '));
    for (const key of keys) {
      const m = /^\/coreos\.com\/network\/subnets\/10\.244\.(\d+)\.0-24&fd00:10:244:([0-9a-f]+)::-64$/.exec(key);
      assert.ok(m, `${key} is flannel's dual-stack key`);
      assert.equal(Number(m![1]), parseInt(m![2], 16), 'the IPv6 subnet is paired with the IPv4 one');
    }
    const value = JSON.parse(await etcdCluster.etcdctl('get', '--print-value-only', keys[0]));
    assert.deepEqual(Object.keys(value).sort(), ['BackendData', 'BackendType', 'BackendV6Data', 'PublicIP']);
    const r = await ping(etcdCluster.lab, pod(1, 1), ['-6', '-c', '3', '-i', '0.1', '-W', '2', etcdCluster.podIp6(2, 1)]);
    assert.equal(r.received, 3, r.output);
    const back = await ping(etcdCluster.lab, pod(2, 1), ['-c', '2', '-i', '0.1', '-W', '2', etcdCluster.podIp(1, 1)]);
    assert.equal(back.received, 2, back.output);
  });
});

describe('tun-driver overlay over an IPv6 underlay', { skip: ROOT_SKIP }, () => {
  let c6: OverlayCluster;
  before(async () => {
    c6 = await OverlayCluster.up(labName('ovlu6'), 2, 1, { dualStack: true, underlay6: true, internet: true });
    c6.commonArgs = ['--ip6-masq'];
    await c6.startAll();
  });
  after(async () => {
    await c6?.down();
  });

  test('nodes that both have IPv6 public addresses carry both families over IPv6 UDP', async () => {
    const lab = c6.lab;
    await answeredOverIPv6Underlay(lab, [[pod(1, 1), ['-6', c6.podIp6(2, 1)]], [pod(1, 1), [c6.podIp(2, 1)]]]);
    const st = await lab.run('host-1', process.execPath, [CLI, 'status', '--tun', 'flannel0', '--json']);
    const [s] = JSON.parse(st.stdout);
    assert.equal(s.publicIpv6, '2001:db8:100::1');
    const mtu = (JSON.parse((await lab.run('host-1', process.execPath, [CLI, 'doctor', '--json', '--tun', 'flannel0'])).stdout) as Array<{ check: string; status: string; evidence: string }>).find((f) => f.check === 'flannel0 MTU')!;
    assert.equal(mtu.status, 'ok');
    assert.match(mtu.evidence, /flannel0 mtu 1452 \+ 48 bytes of UDP\/IP <= eth0 mtu 1500/, 'the IPv6 underlay leaves 1,452 bytes inside');
    assert.deepEqual(s.peers.map((p: { publicIp: string }) => p.publicIp), ['[2001:db8:100::2]']);
    const server = lab.spawn(pod(2, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    const tcp = await lab.run(pod(1, 1), 'iperf3', ['-6', '-c', c6.podIp6(2, 1), '-t', '2', '-J'], 30_000);
    server.kill();
    assert.equal(tcp.code, 0, tcp.stderr + tcp.stdout.slice(-300));
    assert.ok(JSON.parse(tcp.stdout).end.sum_received.bits_per_second > 10e6);
    // UDP over IPv6 too; 1,380-byte datagrams fit the path (1,500 - 48 outer - 48 inner headers).
    const udpServer = lab.spawn(pod(1, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    const udp = await lab.run(pod(2, 1), 'iperf3', ['-6', '-c', c6.podIp6(1, 1), '-u', '-b', '20M', '-l', '1380', '-t', '2', '-J'], 30_000);
    udpServer.kill();
    assert.equal(udp.code, 0, udp.stderr + udp.stdout.slice(-300));
    const sum = JSON.parse(udp.stdout).end.sum;
    assert.ok(sum.packets > 1000 && sum.lost_percent < 5, `UDP over IPv6 over IPv6: ${sum.packets} datagrams, ${sum.lost_percent}% lost`);
  });

  test('--ip6-masq: outside the cluster a pod is its node over IPv6; inside it keeps its address', async () => {
    const lab = c6.lab;
    const watch = (node: string): Promise<{ stdout: string }> => lab.run(node, 'timeout', ['4', 'tcpdump', '-i', 'eth0', '-nn', '-l', '-c', '2', 'icmp6 and ip6[40] == 128'], 10_000);
    const outside = watch('internet');
    await sleep(500);
    const r = await ping(lab, pod(1, 1), ['-6', '-c', '2', '-i', '0.2', '-W', '2', '2001:db8:200::1']);
    assert.equal(r.received, 2, r.output);
    assert.deepEqual((await outside).stdout.trim().split('\n').map((l) => / IP6 (\S+) > /.exec(l)?.[1]), ['2001:db8:100::1', '2001:db8:100::1'], 'the internet sees the node, not the pod');
    const inside = watch(pod(2, 1));
    await sleep(500);
    assert.equal((await ping(lab, pod(1, 1), ['-6', '-c', '2', '-i', '0.2', '-W', '2', c6.podIp6(2, 1)])).received, 2);
    assert.deepEqual((await inside).stdout.trim().split('\n').map((l) => / IP6 (\S+) > /.exec(l)?.[1]), [c6.podIp6(1, 1), c6.podIp6(1, 1)], 'pod to pod keeps its address');
    const table = await lab.run('host-1', 'nft', ['list', 'table', 'ip6', 'tun-driver-flannel0']);
    assert.match(table.stdout, /ip6 saddr fd00:10:244:1::\/64 masquerade fully-random/);
    // doctor shows the ip6 rules, and flags them when they are gone.
    const doctor = async (): Promise<{ status: string; evidence: string }> =>
      JSON.parse((await lab.run('host-1', process.execPath, [CLI, 'doctor', '--json', '--tun', 'flannel0'])).stdout).find((f: { check: string }) => f.check === 'ip6 masquerade');
    assert.equal((await doctor()).status, 'ok');
    await lab.run('host-1', 'nft', ['delete', 'table', 'ip6', 'tun-driver-flannel0']);
    const gone = await doctor();
    assert.equal(gone.status, 'problem');
    assert.match(gone.evidence, /table ip6 tun-driver-flannel0 is missing/);
    // SIGTERM removes the ip6 table with the ip one.
    assert.equal(await c6.stop(2), 0);
    assert.doesNotMatch((await lab.run('host-2', 'nft', ['list', 'ruleset'])).stdout, /tun-driver/);
    await c6.start(2);
  });

  test('a mixed-up or foreign --public-ipv6 is one line, exit 2', async () => {
    // host-1's own lease, so that the address is the only thing wrong.
    const base = ['overlay', '--network', '10.244.0.0/16', '--network', 'fd00:10:244::/48', '--subnet', '10.244.1.0/24', '--subnet', 'fd00:10:244:1::/64', '--public-ip', '198.51.100.1', '--leases', c6.leasesFile, '--tun', 'tdbad0'];
    for (const [value, message] of [['10.0.0.1', /not an IPv6 address \(an IPv4 one goes to --public-ip\)/], ['2001:db8:100::99', /not an address of this host/]] as const) {
      const r = await c6.lab.run('host-1', process.execPath, [CLI, ...base, '--public-ipv6', value]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('WireGuard over the IPv6 underlay: handshakes and sealed datagrams of both inner families travel in UDP over IPv6', async () => {
    const lab = c6.lab;
    const keyOf = new Map<number, string>();
    for (const h of [1, 2]) {
      const file = `${c6.leasesFile}.key${h}`;
      const made = await lab.run(`host-${h}`, process.execPath, [CLI, 'keygen', '--out', file]);
      assert.equal(made.code, 0, made.stderr);
      const pub = await lab.run(`host-${h}`, 'sh', ['-c', `"${process.execPath}" "${CLI}" pubkey < "${file}"`]);
      assert.equal(pub.code, 0, pub.stderr);
      keyOf.set(h, pub.stdout.trim());
      await c6.stop(h);
    }
    c6.writeLeases([1, 2].map((h) => ({ ...leaseFor(h, true), publicIpV6: publicIpv6For(h), publicKey: keyOf.get(h)! })));
    for (const h of [1, 2]) await c6.start(h, ['--private-key', `${c6.leasesFile}.key${h}`]);
    const capture = lab.run('host-1', 'timeout', ['6', 'tcpdump', '-i', 'eth0', '-nn', '-l', '-c', '10', 'udp port 8285'], 12_000);
    await sleep(500);
    const v6 = await ping(lab, pod(1, 1), ['-6', '-c', '3', '-i', '0.2', '-W', '3', c6.podIp6(2, 1)]);
    const v4 = await ping(lab, pod(1, 1), ['-c', '3', '-i', '0.2', '-W', '3', c6.podIp(2, 1)]);
    const wire = (await capture).stdout.trim().split('\n').filter(Boolean);
    assert.equal(v6.received, 3, v6.output);
    assert.equal(v4.received, 3, v4.output);
    assert.ok(wire.length >= 10 && wire.every((l) => / IP6 2001:db8:100::[12]\.8285 > 2001:db8:100::[12]\.8285: UDP, length \d+/.test(l)), `every datagram is UDP over IPv6:\n${wire.join('\n')}`);
    // Every datagram is a WireGuard message: handshake (148, 92, 64 bytes) or transport (32 bytes of header and tag around a
    // payload padded to 16): an 84-byte IPv4 echo travels as 128 bytes, a 104-byte IPv6 one as 144. Never a plaintext echo.
    const lengths = wire.map((l) => Number(/length (\d+)/.exec(l)![1]));
    assert.ok(lengths.every((n) => [148, 92, 64].includes(n) || (n - 32) % 16 === 0), `WireGuard sizes only: ${lengths.join(' ')}`);
    assert.ok(lengths.includes(128) && lengths.includes(144), `sealed echoes of both families: ${lengths.join(' ')}`);
    const [st] = JSON.parse((await lab.run('host-1', process.execPath, [CLI, 'status', '--tun', 'flannel0', '--json'])).stdout);
    assert.equal(st.peers[0].security, 'wireguard');
    assert.equal(st.peers[0].publicIp, '[2001:db8:100::2]');
    assert.notEqual(st.peers[0].wireguard.latestHandshake, null);
    assert.match(JSON.parse((await lab.run('host-1', process.execPath, [CLI, 'doctor', '--json', '--tun', 'flannel0'])).stdout).find((f: { check: string }) => f.check === 'flannel0 MTU').evidence, /flannel0 mtu 1420 \+ 48 bytes of UDP\/IP and 32 of WireGuard header and tag <= eth0 mtu 1500/);
  });
});

describe('tun-driver overlay, IPv6-only', { skip: ROOT_SKIP }, () => {
  let v6cluster: OverlayCluster;
  before(async () => {
    v6cluster = await OverlayCluster.up(labName('only6'), 2, 1, { etcd: true, ipv6Only: true });
    await v6cluster.startAll();
  });
  after(async () => {
    await v6cluster?.down();
  });

  test("etcd with \"EnableIPv4\": false: flannel's key with an empty IPv4 half, pods with only an IPv6 address, ping -6 across nodes", async () => {
    const keys = (await v6cluster.etcdctl('get', '--prefix', '--keys-only', '/coreos.com/network/subnets/')).trim().split('\n').filter(Boolean).sort();
    assert.equal(keys.length, 2, keys.join(', '));
    for (const key of keys) assert.match(key, /^\/coreos\.com\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:[0-9a-f]+::-64$/);
    for (const h of [1, 2]) {
      const env = readFileSync(labSubnetFile(v6cluster.lab, `host-${h}`), 'utf8');
      assert.doesNotMatch(env, /FLANNEL_NETWORK=|FLANNEL_SUBNET=/, 'no IPv4 in subnet.env');
      assert.match(env, /^FLANNEL_IPV6_NETWORK=fd00:10:244::\/48$/m);
      assert.deepEqual(v6cluster.lab.node(pod(h, 1)).addresses.map((a) => a.includes(':')), [true], `${pod(h, 1)} has one address, IPv6`);
      const tun = await v6cluster.lab.run(`host-${h}`, 'ip', ['-j', 'addr', 'show', 'flannel0']);
      const families = (JSON.parse(tun.stdout)[0].addr_info as Array<{ family: string; scope: string }>).filter((a) => a.scope === 'global').map((a) => a.family);
      assert.deepEqual(families, ['inet6'], 'flannel0 has no IPv4 address');
    }
    const r = await ping(v6cluster.lab, pod(1, 1), ['-6', '-c', '3', '-i', '0.1', '-W', '2', v6cluster.podIp6(2, 1)]);
    assert.equal(r.received, 3, r.output);
    const back = await ping(v6cluster.lab, pod(2, 1), ['-6', '-c', '2', '-i', '0.1', '-W', '2', v6cluster.podIp6(1, 1)]);
    assert.equal(back.received, 2, back.output);
    const status = JSON.parse((await v6cluster.lab.run('host-1', process.execPath, [CLI, 'status', '--tun', 'flannel0', '--json'])).stdout)[0];
    assert.match(status.subnet, /^fd00:10:244:[0-9a-f]+::\/64$/);
    assert.equal(status.subnet, status.subnet6);
    assert.equal(status.peers.length, 1);
    assert.equal(status.peers[0].subnet, status.peers[0].subnet6);
    // IPv4 the kernel sends into the TUN has nowhere to go: counted as "ipv4", never sent.
    const doctor = JSON.parse((await v6cluster.lab.run('host-1', process.execPath, [CLI, 'doctor', '--json'])).stdout) as Array<{ check: string; status: string; evidence: string }>;
    assert.ok(!doctor.some((f) => f.check === 'ip_forward'), 'doctor does not ask an IPv6-only node to forward IPv4');
    // The live probe in ICMPv6, to the peer's TUN address: every stage seen.
    const live = doctor.find((f) => f.check === 'flannel0 live probe')!;
    assert.equal(live.status, 'ok', live.evidence);
    assert.match(live.evidence, /^ping -e \d+ fd00:10:244:[0-9a-f]+::: read from the TUN by the daemon .* -> answer delivered to ping by the kernel$/);
  });

  test("lab watch reads the IPv6-only lab: etcd's leases, each node's IPv6 subnet once, the tunnel between them", async () => {
    const reader = new LabReader(v6cluster.lab.name);
    let snapshot = await reader.read();
    for (let i = 0; i < 100 && snapshot.etcd?.leases !== 2; i++) {
      await sleep(100);
      snapshot = await reader.read();
    }
    assert.deepEqual(snapshot.etcd, { leases: 2 }, 'the leases read through etcdctl inside the lab');
    assert.deepEqual(snapshot.nodes.map((n) => [n.state, /^fd00:10:244:[0-9a-f]+::\/64$/.test(n.subnet ?? ''), n.subnet6]), [['up', true, undefined], ['up', true, undefined]]);
    assert.deepEqual(snapshot.tunnels.map((t) => [t.id, t.state]), [['host-1~host-2', 'ok']]);
  });

  test("lab watch's probe in IPv6: pod to pod, all nine hops seen at both nodes", async () => {
    const report = await probePath(v6cluster.lab.name, pod(1, 1), v6cluster.podIp6(2, 1));
    assert.equal(report.kind, 'overlay');
    assert.equal(report.delivered, true);
    assert.deepEqual(report.hops.map((h) => h.status), Array(9).fill('passed'), JSON.stringify(report.hops));
  });

  test('leases-file mode with only an IPv6 --network and --subnet: up with an IPv6 address alone; --ip-masq refused with the flag to use', async () => {
    const lab = v6cluster.lab;
    writeFileSync(v6cluster.leasesFile, JSON.stringify({ networkV6: 'fd00:10:245::/48', nodes: [{ subnetV6: 'fd00:10:245:a::/64', publicIp: '198.51.100.1', port: 8299 }, { subnetV6: 'fd00:10:245:b::/64', publicIp: '198.51.100.2', port: 8299 }] }));
    const flags = ['--network', 'fd00:10:245::/48', '--subnet', 'fd00:10:245:a::/64', '--public-ip', '198.51.100.1', '--leases', v6cluster.leasesFile, '--port', '8299'];
    const refused = await lab.run('host-1', process.execPath, [CLI, 'overlay', '--tun', 'tdv6x', ...flags, '--ip-masq']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--ip-masq masquerades the pods' IPv4 traffic, and this network is IPv6-only: use --ip6-masq/);
    const half = await lab.run('host-1', process.execPath, [CLI, 'overlay', '--tun', 'tdv6x', ...flags, '--network', '10.244.0.0/16']);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /an IPv4 --network needs this node's IPv4 --subnet too/);
    const run = await startDaemon(lab, 'host-1', ['overlay', '--tun', 'tdv6x', ...flags, '--subnet-file', `${v6cluster.leasesFile}.env`], /overlay up/);
    try {
      assert.match(run.stderr(), /overlay up: tdv6x fd00:10:245:a::\/48 mtu \d+ .* 1 peer\(s\): fd00:10:245:b::\/64 at 198\.51\.100\.2:8299/);
      assert.match(readFileSync(`${v6cluster.leasesFile}.env`, 'utf8'), /^FLANNEL_IPV6_SUBNET=fd00:10:245:a::1\/64$/m);
    } finally {
      await run.stop();
    }
  });
});

describe('tun-driver overlay, IPv6-only over an IPv6 underlay', { skip: ROOT_SKIP }, () => {
  const cluster = twoNodesRunning('only6u6', { ipv6Only: true, underlay6: true });

  test('pods with only an IPv6 address reach each other in UDP over IPv6: no IPv4 inside or on the wire', async () => {
    const c = cluster();
    const lab = c.lab;
    for (const h of [1, 2]) {
      const addrs = JSON.parse((await lab.run(pod(h, 1), 'ip', ['-j', 'addr', 'show', 'scope', 'global'])).stdout) as Array<{ addr_info: Array<{ family: string }> }>;
      assert.deepEqual(addrs.flatMap((l) => l.addr_info.map((a) => a.family)).filter(Boolean), ['inet6'], `${pod(h, 1)} has one global address, IPv6`);
    }
    await answeredOverIPv6Underlay(lab, [[pod(1, 1), ['-6', c.podIp6(2, 1)]], [pod(2, 1), ['-6', c.podIp6(1, 1)]]]);
    const s = await c.status(1);
    assert.match(s.subnet, /^fd00:10:244:[0-9a-f]+::\/64$/);
    assert.deepEqual(s.peers.map((p) => [p.publicIp, /^fd00:10:244:[0-9a-f]+::\/64$/.test(p.subnet)]), [['[2001:db8:100::2]', true]]);
  });
});
