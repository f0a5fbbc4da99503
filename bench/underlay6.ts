// npm run bench:underlay6 — the overlay over an IPv4 and over an IPv6
// underlay, in one run: two dual-stack nodes (a pod each), iperf3 TCP pod
// to pod over IPv4 and over IPv6, with the nodes' leases naming IPv6
// public addresses or not, offloads on (and, for the IPv6 underlay, off:
// what UDP GSO/GRO and the TUN offloads are worth there). Prints Gbit/s
// and the IPv6-underlay / IPv4-underlay ratios. Bounded: BENCH_TCP_SECONDS
// (default 8) per run, six runs.
import { Lab } from '../src/lab/lab.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';

const LAB = 'bench-u6';
const SECONDS = Number(process.env.BENCH_TCP_SECONDS ?? 8);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row { underlay: '4' | '6'; offload: string; tcp4: number; tcp6: number }

async function measure(c: OverlayCluster, underlay: '4' | '6', offload: string): Promise<Row> {
  c.underlay6 = underlay === '6';
  c.commonArgs = ['--offload', offload];
  c.writeLeases([1, 2].map((h) => ({ subnet: `10.244.${h}.0/24`, subnetV6: `fd00:10:244:${h}::/64`, publicIp: `198.51.100.${h}`, ...(underlay === '6' ? { publicIpV6: `2001:db8:100::${h}` } : {}) })));
  await c.start(1);
  await c.start(2);
  const server = c.lab.spawn('host-2-pod1', 'iperf3', ['-s'], { stdio: 'ignore' });
  try {
    await sleep(400);
    const tcp = async (target: string): Promise<number> => {
      const r = JSON.parse((await c.lab.run('host-1-pod1', 'iperf3', ['-c', target, '-t', String(SECONDS), '-J'], (SECONDS + 30) * 1000)).stdout);
      if (r.error) throw new Error(`iperf3 to ${target}: ${r.error}`);
      return r.end.sum_received.bits_per_second / 1e9;
    };
    return { underlay, offload, tcp4: await tcp(c.podIp(2, 1)), tcp6: await tcp(c.podIp6(2, 1)) };
  } finally {
    server.kill();
    await c.stop(1);
    await c.stop(2);
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:underlay6 needs root (it builds a tdlab- lab)');
  await Lab.down(LAB);
  const c = await OverlayCluster.up(LAB, 2, 1, { dualStack: true, underlay6: true });
  const rows: Row[] = [];
  try {
    for (const [underlay, offload] of [['4', 'auto'], ['6', 'auto'], ['6', 'off']] as const) rows.push(await measure(c, underlay, offload));
  } finally {
    await c.down();
  }
  console.log(`\noverlay over each underlay, pod to pod iperf3 TCP ${SECONDS} s (node ${process.version})`);
  console.log('underlay  offload  TCP over IPv4 Gbit/s  TCP over IPv6 Gbit/s');
  for (const r of rows) console.log(`IPv${r.underlay}      ${r.offload.padEnd(7)} ${r.tcp4.toFixed(3).padStart(20)} ${r.tcp6.toFixed(3).padStart(21)}`);
  const [v4, v6] = rows;
  console.log(`IPv6 underlay / IPv4 underlay: pods over IPv4 ${(v6.tcp4 / v4.tcp4).toFixed(2)}x, pods over IPv6 ${(v6.tcp6 / v4.tcp6).toFixed(2)}x`);
}

main().catch(async (err) => {
  console.error(`bench:underlay6: ${err instanceof Error ? err.message : err}`);
  await Lab.down(LAB);
  process.exitCode = 1;
});
