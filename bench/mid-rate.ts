// npm run bench:mid-rate — what the daemons' wait costs between a ping and
// a flood: their CPU while pod-to-pod traffic runs at a fixed, modest rate,
// with the default --io-wait auto (its own poll() slices and answer spins
// while the wake rate is under 3,000 a second) and with --io-wait libuv,
// in two alternating rounds. Loads (8 s each, iperf3 pod to pod): TCP at
// 20 and at 100 Mbit/s, and UDP at 1,000 datagrams a second. For auto it
// also prints each daemon's wake rate and the answer spins the load added
// (caught / made, ms spent). Bounded in count and time; everything stays
// in the lab.
import { Lab } from '../src/lab/lab.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { cpuSeconds } from './proc-cpu.js';

const LAB = 'bench-mid';
const ROUNDS = 2;
const SECONDS = 8;
const LOADS: Array<[string, string[]]> = [
  ['TCP 20 Mbit/s', ['-b', '20M']],
  ['TCP 100 Mbit/s', ['-b', '100M']],
  ['UDP 1,000 pkt/s', ['-u', '-l', '1000', '-b', '8M']],
];
type Wait = 'auto' | 'libuv';

/** Answer spins made and caught, and ms spent in them, by host-1's and host-2's daemons. */
async function spinsOf(c: OverlayCluster): Promise<Array<{ spins: number; caught: number; ms: number; wakesPerSecond: number }>> {
  const out = [];
  for (const h of [1, 2]) {
    const w = (await c.status(h)).ioWait;
    out.push(w && w.mode !== 'libuv' ? { spins: w.spins, caught: w.spinHits, ms: w.spinMs, wakesPerSecond: w.wakesPerSecond } : { spins: 0, caught: 0, ms: 0, wakesPerSecond: 0 });
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:mid-rate needs root (it builds a tdlab- lab)');
  await Lab.down(LAB).catch(() => undefined);
  const c = await OverlayCluster.up(LAB, 2, 1);
  const cpu: Record<Wait, Record<string, number[]>> = { auto: {}, libuv: {} };
  try {
    await c.addPodsWithoutDaemons(1500);
    const server = c.lab.spawn('host-2-pod1', 'iperf3', ['-s'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    try {
      for (let round = 0; round < ROUNDS; round++) {
        for (const wait of ['auto', 'libuv'] as const) {
          c.commonArgs = ['--io-wait', wait];
          await c.start(1);
          await c.start(2);
          const pids = [1, 2].map((h) => c.daemons.get(h)?.child.pid ?? 0).filter((p) => p > 0);
          const used = (): number => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
          for (const [name, args] of LOADS) {
            const before = wait === 'auto' ? await spinsOf(c) : [];
            const [cpu0, t0] = [used(), performance.now()];
            const r = await c.lab.run('host-1-pod1', 'iperf3', ['-c', '10.244.2.2', '-t', String(SECONDS), '-J', ...args], (SECONDS + 30) * 1000);
            const percent = (100 * (used() - cpu0)) / ((performance.now() - t0) / 1000);
            const result = JSON.parse(r.stdout);
            if (result.error) throw new Error(`iperf3 ${args.join(' ')}: ${result.error}`);
            (cpu[wait][name] ??= []).push(percent);
            let spins = '';
            if (wait === 'auto') {
              const after = await spinsOf(c);
              spins = after.map((a, i) => `host-${i + 1} ${a.wakesPerSecond} wakes/s, ${a.caught - before[i].caught}/${a.spins - before[i].spins} spins caught, ${(a.ms - before[i].ms).toFixed(1)} ms`).join('; ');
            }
            const mbps = (result.end.sum_received ?? result.end.sum).bits_per_second / 1e6;
            console.log(`round ${round + 1} ${wait.padEnd(5)} ${name.padEnd(16)} ${mbps.toFixed(1)} Mbit/s, daemons ${percent.toFixed(1)} % of a core${spins ? ` (${spins})` : ''}`);
          }
          await c.stop(1);
          await c.stop(2);
        }
      }
    } finally {
      server.kill();
    }
  } finally {
    await c.down();
  }
  console.log(`\nboth daemons' CPU (% of one core) at a fixed rate, ${ROUNDS} alternating rounds of ${SECONDS} s (node ${process.version})`);
  for (const [name] of LOADS) {
    const [a, l] = [cpu.auto[name], cpu.libuv[name]];
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    console.log(`${name.padEnd(16)} auto ${a.map((x) => x.toFixed(1)).join(' / ')}  libuv ${l.map((x) => x.toFixed(1)).join(' / ')}  auto - libuv ${(mean(a) - mean(l)).toFixed(1)} points`);
  }
}

main().catch(async (err) => {
  console.error(`bench:mid-rate: ${err instanceof Error ? err.message : err}`);
  await Lab.down(LAB).catch(() => undefined);
  process.exitCode = 1;
});
