// npm run bench:overlay — pod to pod across two nodes of a cluster lab, in
// one run, for our overlay and its peers (DESIGN.md section 5):
//   ours            tun-driver overlay on each node (UDP, flannel's format)
//   socat           socat TUN <-> UDP on each node
//   wireguard-go    user-space WireGuard on each node
//   vxlan           the kernel's VXLAN (what a cluster would use instead)
//   veth            iperf3 host to host on the underlay: the lab's ceiling
// Figures: iperf3 TCP (one stream, BENCH_TCP_SECONDS, default 10 s),
// iperf3 UDP with 64-byte payloads (packets per second delivered, loss),
// and ping RTT (median of 300 at 10 ms), twice: right after start, before
// any load (a JIT-compiled daemon is still cold then), and again after the
// TCP and UDP runs (warm). Bounded in count and time.
import { ChildProcess, spawnSync } from 'node:child_process';
import { Lab } from '../src/lab/lab.js';
import { sysctlWrite } from '../src/netns/sysctl.js';
import { OverlayCluster } from '../test/support/overlay-cluster.js';
import { parsePing } from '../test/support/daemon-harness.js';

const TCP_SECONDS = Number(process.env.BENCH_TCP_SECONDS ?? 10);
const UDP_SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 5);
const LAB = 'bench-ovl';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Figures { tcpGbps: number; udpPps: number; udpLoss: number; rttMs: number; warmRttMs: number }
interface Impl { name: string; up: (c: OverlayCluster) => Promise<() => Promise<void>>; client: string; server: string; target: string }

async function sh(lab: Lab, node: string, cmd: string, ...args: string[]): Promise<string> {
  const r = await lab.run(node, cmd, args, 60_000);
  if (r.code !== 0) throw new Error(`${node}: ${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A TUN-based peer: address h.0/16 on `dev` so the cluster network routes into it (like flannel0). */
async function addressDevice(lab: Lab, host: number, dev: string, mtu: number): Promise<void> {
  await sh(lab, `host-${host}`, 'ip', 'addr', 'add', `10.244.${host}.0/16`, 'dev', dev);
  await sh(lab, `host-${host}`, 'ip', 'link', 'set', dev, 'mtu', String(mtu), 'up');
}

async function waitForLink(lab: Lab, node: string, dev: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await lab.run(node, 'ip', ['link', 'show', dev])).code === 0) return;
    await sleep(50);
  }
  throw new Error(`${node}: ${dev} did not appear`);
}

const IMPLS: Impl[] = [
  {
    name: 'ours',
    client: 'host-1-pod1', server: 'host-2-pod1', target: '10.244.2.2',
    up: async (c) => {
      await c.start(1);
      await c.start(2);
      return async () => {
        await c.stop(1);
        await c.stop(2);
      };
    },
  },
  {
    name: 'socat',
    client: 'host-1-pod1', server: 'host-2-pod1', target: '10.244.2.2',
    up: async (c) => {
      // DESIGN.md's recipe (UDP:, a connected socket). A connected socat dies
      // on the first port-unreachable, and a new t0 sends IPv6 router
      // solicitations before the other end listens: so new devices get no
      // IPv6 while socat runs, and host-2's socat starts after host-1's.
      for (const h of [1, 2]) sysctlWrite('net.ipv6.conf.default.disable_ipv6', 1, c.lab.ns(`host-${h}`));
      const procs: ChildProcess[] = [];
      for (const h of [1, 2]) {
        procs.push(c.lab.spawn(`host-${h}`, 'socat', [`UDP:198.51.100.${3 - h}:8285,bind=198.51.100.${h}:8285`, `TUN:10.244.${h}.0/16,tun-name=t0,iff-no-pi,tun-type=tun,iff-up`], { stdio: 'ignore' }));
        await waitForLink(c.lab, `host-${h}`, 't0');
      }
      for (const h of [1, 2]) {
        await waitForLink(c.lab, `host-${h}`, 't0');
        await sh(c.lab, `host-${h}`, 'ip', 'link', 'set', 't0', 'mtu', '1472');
      }
      return async () => {
        for (const p of procs) p.kill();
        for (const h of [1, 2]) sysctlWrite('net.ipv6.conf.default.disable_ipv6', 0, c.lab.ns(`host-${h}`));
        await sleep(200);
      };
    },
  },
  {
    name: 'wireguard-go',
    client: 'host-1-pod1', server: 'host-2-pod1', target: '10.244.2.2',
    up: async (c) => {
      const keys = await Promise.all([1, 2].map(async () => {
        const priv = (await sh(c.lab, 'host-1', 'wg', 'genkey')).trim();
        const pub = (await c.lab.run('host-1', 'sh', ['-c', `echo ${priv} | wg pubkey`])).stdout.trim();
        return { priv, pub };
      }));
      for (const h of [1, 2]) {
        const dev = `wg-h${h}`; // one name per instance: the UAPI socket dir is shared across namespaces
        const child = c.lab.spawn(`host-${h}`, 'wireguard-go', [dev], { stdio: 'ignore', env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' } });
        await new Promise((r) => child.on('exit', r)); // it daemonizes
        await waitForLink(c.lab, `host-${h}`, dev);
        const other = 3 - h;
        await c.lab.run(`host-${h}`, 'sh', ['-c', `echo ${keys[h - 1].priv} > /tmp/wg-${LAB}-${h}.key && wg set ${dev} listen-port 51820 private-key /tmp/wg-${LAB}-${h}.key peer ${keys[other - 1].pub} endpoint 198.51.100.${other}:51820 allowed-ips 10.244.${other}.0/24 && rm /tmp/wg-${LAB}-${h}.key`]);
        await addressDevice(c.lab, h, dev, 1420);
      }
      return async () => {
        for (const h of [1, 2]) await c.lab.run(`host-${h}`, 'ip', ['link', 'del', `wg-h${h}`]);
        await sleep(300);
      };
    },
  },
  {
    name: 'vxlan',
    client: 'host-1-pod1', server: 'host-2-pod1', target: '10.244.2.2',
    up: async (c) => {
      for (const h of [1, 2]) {
        const other = 3 - h;
        await sh(c.lab, `host-${h}`, 'ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'remote', `198.51.100.${other}`, 'dstport', '4789', 'dev', 'eth0');
        await addressDevice(c.lab, h, 'vx0', 1450);
      }
      for (const h of [1, 2]) await sh(c.lab, `host-${h}`, 'ip', 'route', 'add', `10.244.${3 - h}.0/24`, 'via', `10.244.${3 - h}.0`, 'dev', 'vx0');
      return async () => {
        for (const h of [1, 2]) await c.lab.run(`host-${h}`, 'ip', ['link', 'del', 'vx0']);
      };
    },
  },
  {
    name: 'veth',
    client: 'host-1', server: 'host-2', target: '198.51.100.2',
    up: async () => async () => {},
  },
];

async function measure(lab: Lab, impl: Impl): Promise<Figures> {
  const server = lab.spawn(impl.server, 'iperf3', ['-s'], { stdio: 'ignore' });
  try {
    await sleep(400);
    const medianRtt = async (): Promise<number> => {
      const r = await lab.run(impl.client, 'ping', ['-c', '300', '-i', '0.01', '-W', '1', impl.target], 30_000);
      const sorted = [...parsePing(r.code, r.stdout).rttsMs].sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)] ?? NaN;
    };
    const rttMs = await medianRtt();
    const tcp = JSON.parse((await lab.run(impl.client, 'iperf3', ['-c', impl.target, '-t', String(TCP_SECONDS), '-J'], (TCP_SECONDS + 30) * 1000)).stdout);
    const udp = JSON.parse((await lab.run(impl.client, 'iperf3', ['-c', impl.target, '-u', '-l', '64', '-b', '0', '-t', String(UDP_SECONDS), '-J'], (UDP_SECONDS + 30) * 1000)).stdout);
    if (tcp.error || udp.error) throw new Error(`${impl.name}: iperf3: ${tcp.error ?? udp.error}`);
    const warmRttMs = await medianRtt();
    const u = udp.end.sum;
    return {
      tcpGbps: tcp.end.sum_received.bits_per_second / 1e9,
      udpPps: (u.packets - u.lost_packets) / u.seconds,
      udpLoss: u.lost_percent,
      rttMs,
      warmRttMs,
    };
  } finally {
    server.kill();
    await sleep(200);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:overlay needs root (it builds a tdlab- lab)');
  const missing = ['socat', 'wireguard-go', 'wg', 'iperf3'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: run bash scripts/setup-debian.sh --bench`);
  await Lab.down(LAB);
  const cluster = await OverlayCluster.up(LAB, 2, 1);
  const results = new Map<string, Figures>();
  const only = process.env.BENCH_IMPLS?.split(',');
  try {
    for (const impl of IMPLS.filter((i) => !only || only.includes(i.name))) {
      const down = await impl.up(cluster);
      try {
        const f = await measure(cluster.lab, impl);
        results.set(impl.name, f);
        console.log(`${impl.name.padEnd(13)} TCP ${f.tcpGbps.toFixed(3)} Gbit/s, UDP-64 ${Math.round(f.udpPps)} pkt/s (${f.udpLoss.toFixed(1)} % lost), RTT ${f.rttMs.toFixed(3)} ms (warm ${f.warmRttMs.toFixed(3)} ms)`);
      } finally {
        await down();
      }
    }
  } finally {
    await cluster.down();
  }
  const ours = results.get('ours')!;
  console.log(`\noverlay benchmark, pod to pod across two nodes (TCP ${TCP_SECONDS} s one stream; UDP 64-byte payloads ${UDP_SECONDS} s; ping median of 300; node ${process.version})`);
  console.log('impl           TCP Gbit/s   UDP-64 pkt/s  UDP loss   RTT ms  warm RTT   ours/impl: TCP   UDP pps   RTT  warm RTT');
  for (const [name, f] of results) {
    console.log(`${name.padEnd(14)} ${f.tcpGbps.toFixed(3).padStart(10)} ${String(Math.round(f.udpPps)).padStart(14)} ${f.udpLoss.toFixed(1).padStart(8)} % ${f.rttMs.toFixed(3).padStart(8)} ${f.warmRttMs.toFixed(3).padStart(9)}   ${(ours.tcpGbps / f.tcpGbps).toFixed(2).padStart(13)}x ${(ours.udpPps / f.udpPps).toFixed(2).padStart(8)}x ${(ours.rttMs / f.rttMs).toFixed(2).padStart(5)}x ${(ours.warmRttMs / f.warmRttMs).toFixed(2).padStart(8)}x`);
  }
  const socat = results.get('socat')!;
  const wg = results.get('wireguard-go')!;
  const vxlan = results.get('vxlan')!;
  const bar = [ours.tcpGbps >= 2 * socat.tcpGbps, ours.tcpGbps >= 2 * wg.tcpGbps, ours.rttMs <= 1.5 * vxlan.rttMs, ours.warmRttMs <= 1.5 * vxlan.warmRttMs];
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log(`bar: TCP >= 2x socat ${verdict(bar[0])}, TCP >= 2x wireguard-go ${verdict(bar[1])}, median RTT <= 1.5x VXLAN ${verdict(bar[2])} (warm: ${verdict(bar[3])})`);
}

main().catch(async (err) => {
  console.error(`bench:overlay: ${err instanceof Error ? err.message : err}`);
  await Lab.down(LAB);
  process.exitCode = 1;
});
