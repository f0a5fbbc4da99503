// The overlay's data-plane behaviours in a cluster lab: three
// nodes with two pods each, one daemon per node, real ping, traceroute
// and iperf3 between pods.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { leaseFor, lastCounters, OverlayCluster } from '../../harness/overlay-cluster.js';
import { ping, startDaemon } from '../../harness/daemon-harness.js';
import { fetchInNode, labName, metricValue, ROOT_SKIP } from './helpers.js';

let cluster: OverlayCluster;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const podIp = (host: number, pod: number): string => cluster.podIp(host, pod);
const pod = (host: number, n: number): string => `host-${host}-pod${n}`;

async function counters(host: number) {
  const run = cluster.daemons.get(host)!;
  run.child.kill('SIGUSR1');
  await sleep(200);
  return lastCounters(run);
}

async function pings(from: string, to: string, count = 3): Promise<number> {
  return (await ping(cluster.lab, from, ['-c', String(count), '-i', '0.1', '-W', '2', to])).received;
}

// Every behaviour holds with the offload edges on (the default, auto) and
// with them off: the edges must be invisible above the device and socket.
for (const offload of ['auto', 'off']) describe(`tun-driver overlay (--offload ${offload})`, { skip: ROOT_SKIP }, () => {
  before(async () => {
    // Pods with an MTU above the overlay's (1500 > 1472), so that path MTU
    // discovery and fragmentation through the daemons are exercised.
    cluster = await OverlayCluster.up(labName(`ovl${offload}`), 3, 2, { podDelegate: { mtu: 1500 } });
    cluster.commonArgs = ['--offload', offload];
    await cluster.startAll();
  });
  after(async () => {
    await cluster?.down();
  });

  test('1. pods on different nodes: ping, TCP and UDP both ways; same-node pods need no daemon', async () => {
    for (const [a, b] of [[pod(1, 1), podIp(2, 1)], [pod(2, 2), podIp(3, 1)], [pod(3, 2), podIp(1, 2)], [pod(2, 1), podIp(1, 1)]]) {
      assert.equal(await pings(a, b), 3, `${a} -> ${b}`);
    }
    const lab = cluster.lab;
    for (const reverse of [[], ['-R']]) {
      const server = lab.spawn(pod(2, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
      await sleep(300);
      const tcp = await lab.run(pod(1, 1), 'iperf3', ['-c', podIp(2, 1), '-t', '2', '-J', ...reverse], 30_000);
      server.kill();
      assert.equal(tcp.code, 0, tcp.stderr + tcp.stdout.slice(-300));
      const bps = JSON.parse(tcp.stdout).end.sum_received.bits_per_second;
      assert.ok(bps > 10e6, `TCP ${reverse.join('')} moved ${bps} bit/s`);
    }
    const udpServer = lab.spawn(pod(3, 1), 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    // Datagrams that fit the overlay's path MTU (1472): iperf3 sends UDP with DF.
    const udp = await lab.run(pod(1, 2), 'iperf3', ['-c', podIp(3, 1), '-u', '-b', '20M', '-l', '1400', '-t', '2', '-J'], 30_000);
    udpServer.kill();
    assert.equal(udp.code, 0, udp.stderr + udp.stdout.slice(-300));
    const sum = JSON.parse(udp.stdout).end.sum;
    assert.ok(sum.packets > 1000 && sum.lost_percent < 1, `UDP: ${sum.packets} packets, ${sum.lost_percent}% lost`);
    // Same node: the bridge carries it, even with the node's daemon stopped.
    await cluster.stop(1);
    assert.equal(await pings(pod(1, 1), podIp(1, 2)), 3);
    await cluster.start(1);
  });

  test('2. the receiving daemon is a hop: TTL decremented, traceroute shows it; unknown subnets get Net Unreachable', async () => {
    const lab = cluster.lab;
    const r = await ping(lab, pod(1, 1), ['-c', '1', '-W', '2', podIp(2, 1)]);
    // 64, minus host-1's kernel, host-2's daemon, host-2's kernel.
    assert.match(r.output, /ttl=61/, r.output);
    const tr = await lab.run(pod(1, 1), 'traceroute', ['-n', '-q', '1', '-w', '2', '-m', '6', podIp(2, 1)]);
    const hops = tr.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]);
    assert.deepEqual(hops, ['10.244.1.1', '10.244.2.0', '10.244.2.0', podIp(2, 1)], tr.stdout);
    const unreachable = await ping(lab, pod(1, 1), ['-c', '1', '-W', '2', '10.244.9.9']);
    assert.match(unreachable.output, /From 10\.244\.9\.9 icmp_seq=1 Destination Net Unreachable/);
    const c = await counters(2);
    assert.ok(c.dropped['ttl-expired'] >= 1 && c.errorsGenerated >= 1, JSON.stringify(c));
  });

  test('3. path MTU: Fragmentation Needed with the right MTU; oversize non-DF packets are fragmented', async () => {
    // Each check uses a pod and destination that no earlier step sent big
    // packets between: pods cache a learned path MTU per destination.
    const lab = cluster.lab;
    const tooBig = await ping(lab, pod(1, 2), ['-c', '1', '-W', '2', '-M', 'do', '-s', '1472', podIp(2, 2)]);
    assert.match(tooBig.output, /Frag needed and DF set \(mtu = 1472\)/, tooBig.output);
    assert.equal((await ping(lab, pod(1, 2), ['-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '1444', podIp(2, 2)])).received, 2);
    // With a TUN MTU above the path (--mtu 1500) the daemon itself must say so, and fragment non-DF packets.
    await cluster.stop(1);
    await cluster.start(1, ['--mtu', '1500']);
    const before = await counters(1);
    const daemonSays = await ping(lab, pod(1, 1), ['-c', '1', '-W', '2', '-M', 'do', '-s', '1472', podIp(3, 2)]);
    assert.match(daemonSays.output, /From 10\.244\.3\.3 icmp_seq=1 Frag needed and DF set \(mtu = 1472\)/, daemonSays.output);
    const fragmented = await ping(lab, pod(1, 2), ['-c', '2', '-i', '0.2', '-W', '2', '-M', 'dont', '-s', '1472', podIp(3, 1)]);
    assert.equal(fragmented.received, 2, fragmented.output);
    const after = await counters(1);
    assert.equal((after.dropped['too-big'] ?? 0) - (before.dropped['too-big'] ?? 0), 1, 'the daemon answered the DF packet');
    assert.equal(after.fragmented - before.fragmented, 2, 'and fragmented the two non-DF ones');
    await cluster.stop(1);
    await cluster.start(1);
  });

  test('4. nobody outside the cluster, and no node outside its subnet, can inject into a pod', async () => {
    const lab = cluster.lab;
    // host-3 stops its daemon and forges datagrams to host-1 from its own port 8285 and from another port.
    await cluster.stop(3);
    const before = await counters(1);
    const script = `
      const dgram = require('node:dgram');
      function packet(src, dst) {           // an ICMP echo request, checksums filled in
        const b = Buffer.alloc(28);
        b[0] = 0x45; b.writeUInt16BE(28, 2); b[8] = 64; b[9] = 1;
        src.split('.').forEach((o, i) => (b[12 + i] = +o)); dst.split('.').forEach((o, i) => (b[16 + i] = +o));
        const sum = (s, e) => { let x = 0; for (let i = s; i < e; i += 2) x += b.readUInt16BE(i); while (x > 0xffff) x = (x & 0xffff) + (x >>> 16); return ~x & 0xffff; };
        b.writeUInt16BE(sum(0, 20), 10); b[20] = 8; b.writeUInt16BE(sum(20, 28), 22);
        return b;
      }
      const node = dgram.createSocket('udp4'), other = dgram.createSocket('udp4');
      node.bind(8285, '198.51.100.3', () => other.bind(9999, '198.51.100.3', () => {
        const send = (s, p) => new Promise((r) => s.send(p, 8285, '198.51.100.1', r));
        (async () => {
          await send(node, packet('10.244.1.77', '10.244.1.2'));   // inner source outside host-3's subnet
          await send(node, packet('10.244.3.2', '10.244.2.2'));    // inner destination not on host-1
          await send(node, Buffer.from('garbage, not an IP packet'));
          await send(other, packet('10.244.3.2', '10.244.1.2'));   // not a node's address:port
          await send(node, packet('10.244.3.2', '10.244.1.2'));    // legitimate: delivered
          node.close(); other.close();
        })();
      }));`;
    const r = await lab.run('host-3', process.execPath, ['-e', script]);
    assert.equal(r.code, 0, r.stderr);
    await sleep(300);
    const after = await counters(1);
    const delta = (k: string): number => (after.dropped[k] ?? 0) - (before.dropped[k] ?? 0);
    assert.equal(delta('spoofed-source'), 1);
    assert.equal(delta('not-for-this-node'), 1);
    assert.equal(delta('malformed'), 1);
    assert.equal(delta('unknown-peer'), 1);
    assert.equal(after.delivered - before.delivered, 1, 'only the legitimate packet reached host-1');
    await cluster.start(3);
  });

  test('5. restarting one daemon (SIGTERM; SIGKILL then start) restores traffic without touching the others', async () => {
    const lab = cluster.lab;
    const flannel = async (host: number): Promise<boolean> => /flannel0/.test((await lab.run(`host-${host}`, 'ip', ['-o', 'link'])).stdout);
    assert.equal(await cluster.stop(2, 'SIGTERM'), 0);
    assert.equal(await flannel(2), false, 'SIGTERM removed flannel0');
    assert.equal(await pings(pod(1, 1), podIp(2, 1), 1), 0, 'host-2 is down');
    assert.equal(await pings(pod(1, 1), podIp(3, 1)), 3, 'host-1 <-> host-3 unaffected');
    await cluster.start(2);
    assert.equal(await pings(pod(1, 1), podIp(2, 1)), 3);
    await cluster.stop(2, 'SIGKILL');
    await cluster.start(2);
    assert.equal(await pings(pod(1, 1), podIp(2, 1)), 3, 'back after SIGKILL and start');
  });

  test('6. counters per peer on SIGUSR1; --trace prints one line per packet; --pcap records them', async () => {
    assert.equal(await pings(pod(1, 1), podIp(2, 1)), 3);
    const c = await counters(1);
    const peer2 = c.peers.find((p) => p.subnet === '10.244.2.0/24')!;
    assert.ok(peer2.txPackets > 0 && peer2.rxPackets > 0, JSON.stringify(c.peers));
    // The same through `tun-driver status` (control socket, mode 0600), with per-peer rates.
    await sleep(1100);
    const st = await cluster.lab.run('host-1', process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, 'status', '--tun', 'flannel0', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const [s] = JSON.parse(st.stdout);
    assert.deepEqual([s.mode, s.device, s.subnet, s.endpoint], ['overlay', 'flannel0', '10.244.1.0/24', '198.51.100.1:8285']);
    // How the data plane waited for those pings (the default --io-wait auto), in JSON and in words.
    assert.equal(s.ioWait.adaptive, true);
    assert.ok(s.ioWait.wakes >= 3 && s.ioWait.heated >= 1 && s.ioWait.spins >= s.ioWait.spinHits, JSON.stringify(s.ioWait));
    const words = await cluster.lab.run('host-1', process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, 'status', '--tun', 'flannel0']);
    assert.match(words.stdout, /\n  io-wait auto: (idle|hot); \d+ wakes \(\d+\/s\), \d+ poll slices \(\d+ empty\), \d+ answer spins \(\d+ caught, [\d.]+ ms\); hot \d+ times, busy \d+\n/, words.stdout);
    const statusPeer = s.peers.find((p: { subnet: string }) => p.subnet === '10.244.2.0/24');
    assert.ok(statusPeer.txPackets >= peer2.txPackets && 'txPacketsPerSecond' in statusPeer, JSON.stringify(statusPeer));
    const { readdirSync, statSync } = await import('node:fs');
    for (const f of readdirSync('/run/tun-driver').filter((n) => n.endsWith('.sock'))) assert.equal(statSync(`/run/tun-driver/${f}`).mode & 0o777, 0o600, f);
    // A traced node: four lines for one ping (request out, reply in) as seen by host-3.
    await cluster.stop(3);
    const pcap = `${cluster.leasesFile}.pcap`;
    const traced = await startDaemon(cluster.lab, 'host-3', cluster.args(3, ['--trace', '--pcap', pcap, '--metrics', '127.0.0.1:9101']), /overlay up/);
    try {
      assert.equal(await pings(pod(3, 1), podIp(1, 1), 1), 1);
      const metrics = await fetchInNode(cluster.lab, 'host-3', 9101, '/metrics');
      assert.equal(metricValue(metrics, 'tun_driver_peer_packets_total{peer="10.244.1.0/24",direction="tx",daemon="overlay"}'), 1, metrics);
      assert.equal(metricValue(metrics, 'tun_driver_peer_packets_total{peer="10.244.1.0/24",direction="rx",daemon="overlay"}'), 1);
      assert.equal(metricValue(metrics, 'tun_driver_peers{daemon="overlay"}'), 2);
      assert.equal(metricValue(metrics, 'tun_driver_bytes_total{direction="tun_to_net",daemon="overlay"}'), 84);
      await sleep(200);
      const lines = traced.stdout().trim().split('\n').filter((l) => /ICMP echo/.test(l));
      assert.equal(lines.length, 2, traced.stdout());
      assert.match(lines[0], /tun>net IP 10\.244\.3\.2 > 10\.244\.1\.2: ICMP echo request, id \d+, seq 1, length 64 ttl 63 to 198\.51\.100\.1:8285/);
      assert.match(lines[1], /net>tun IP 10\.244\.1\.2 > 10\.244\.3\.2: ICMP echo reply, id \d+, seq 1, length 64 ttl 6[0-9]/);
    } finally {
      await traced.stop();
    }
    const read = await cluster.lab.run('host-3', 'tcpdump', ['-r', pcap, '-nn']);
    assert.equal(read.stdout.split('\n').filter((l) => /IP 10\.244\.(3\.2 > 10\.244\.1\.2|1\.2 > 10\.244\.3\.2): ICMP echo/.test(l)).length, 2, `--pcap: ${read.stdout}`);
    await cluster.start(3);
  });

  test('leases: edits apply without a restart; an invalid edit keeps the old leases; bad files exit 2', async () => {
    cluster.writeLeases([leaseFor(1), leaseFor(2)]);
    await sleep(600);
    const gone = await ping(cluster.lab, pod(1, 1), ['-c', '1', '-W', '2', podIp(3, 1)]);
    assert.match(gone.output, /Destination Net Unreachable/, 'host-3 left the leases: no route');
    cluster.writeLeases([leaseFor(1), leaseFor(2), leaseFor(3)]);
    await sleep(600);
    assert.equal(await pings(pod(1, 1), podIp(3, 1)), 3, 'host-3 is back');
    cluster.writeLeases([leaseFor(1), leaseFor(2), leaseFor(3), { subnet: '10.244.3.128/25', publicIp: '198.51.100.9' }]);
    await sleep(600);
    assert.match(cluster.daemons.get(1)!.stderr(), /ignoring the new .*overlaps 10\.244\.3\.0\/24; keeping the previous leases/);
    assert.equal(await pings(pod(1, 1), podIp(3, 1)), 3, 'old leases kept');
    cluster.writeLeases([leaseFor(1), leaseFor(2), leaseFor(3)]);
    await sleep(300);
    for (const [nodes, message] of [
      [[leaseFor(1), { subnet: '10.245.0.0/24', publicIp: '198.51.100.7' }], /outside the network 10\.244\.0\.0\/16/],
      [[leaseFor(1), { subnet: '10.244.7.0/24', publicIp: '198.51.100.1' }], /public IP 198\.51\.100\.1 is listed twice/],
    ] as const) {
      const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
      const dir = mkdtempSync('/tmp/tdlab-bad-leases-');
      writeFileSync(`${dir}/l.json`, JSON.stringify({ nodes }));
      after(() => rmSync(dir, { recursive: true, force: true }));
      const r = await cluster.lab.run('host-2', process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, 'overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.2.0/24', '--public-ip', '198.51.100.2', '--port', '8299', '--tun', 'flannel9', '--leases', `${dir}/l.json`]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});

// A node with offloads and one without (an older tun-driver, or flannel's
// own proxy) carry everything both ways: the wire format is the same. The
// node without also waits the other way (--io-wait libuv; every other
// overlay test runs the default, poll), so both ways of waiting carry
// TCP, UDP and ICMP here.
describe('tun-driver overlay: one node with offloads, one without', { skip: ROOT_SKIP }, () => {
  let mixed: OverlayCluster;
  before(async () => {
    mixed = await OverlayCluster.up(labName('ovlmix'), 2, 1);
    await mixed.start(1, ['--offload', 'on']);
    await mixed.start(2, ['--offload', 'off', '--io-wait', 'libuv']);
  });
  after(async () => {
    await mixed?.down();
  });

  test('TCP, UDP and ICMP both ways; the offloading node really split and merged super-packets', async () => {
    const lab = mixed.lab;
    for (const [from, to] of [['host-1-pod1', '10.244.2.2'], ['host-2-pod1', '10.244.1.2']]) {
      assert.equal((await ping(lab, from, ['-c', '3', '-i', '0.1', '-W', '2', to])).received, 3, `ping ${from} -> ${to}`);
    }
    for (const reverse of [[], ['-R']]) {
      const server = lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
      await sleep(300);
      const tcp = await lab.run('host-1-pod1', 'iperf3', ['-c', '10.244.2.2', '-t', '2', '-J', ...reverse], 30_000);
      server.kill();
      assert.equal(tcp.code, 0, tcp.stderr + tcp.stdout.slice(-300));
      const end = JSON.parse(tcp.stdout).end;
      assert.ok(end.sum_received.bits_per_second > 100e6, `TCP ${reverse.join('')}: ${end.sum_received.bits_per_second} bit/s`);
    }
    for (const reverse of [[], ['-R']]) {
      const server = lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
      await sleep(300);
      const udp = await lab.run('host-1-pod1', 'iperf3', ['-c', '10.244.2.2', '-u', '-b', '50M', '-l', '1400', '-t', '2', '-J', ...reverse], 30_000);
      server.kill();
      assert.equal(udp.code, 0, udp.stderr + udp.stdout.slice(-300));
      const sum = JSON.parse(udp.stdout).end.sum;
      assert.ok(sum.packets > 1000 && sum.lost_percent < 1, `UDP ${reverse.join('')}: ${sum.packets} packets, ${sum.lost_percent}% lost`);
    }
    const status = async (host: number) => {
      const r = await lab.run(`host-${host}`, process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, 'status', '--tun', 'flannel0', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout)[0].offloads;
    };
    const on = await status(1);
    assert.match(on.tun, /csum tso4/);
    assert.equal(on.udpGso, true);
    assert.ok(on.superPacketsRead > 0 && on.segmentsSplit > on.superPacketsRead, `split: ${JSON.stringify(on)}`);
    assert.ok(on.runsWritten > 0 && on.segmentsMerged > on.runsWritten, `merged: ${JSON.stringify(on)}`);
    assert.deepEqual(on.drops, {});
    const show = await lab.run('host-1', process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, 'tun', 'show', 'flannel0']);
    assert.match(show.stdout, /offloads csum tso4/, show.stdout + show.stderr);
    const off = await status(2);
    assert.equal(off.tun, 'off');
    assert.equal(off.udpGso, false);
    assert.equal(off.superPacketsRead, 0);
  });
});
