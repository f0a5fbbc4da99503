// npm run bench:relay — our relay against the tutorial's Go program,
// in the same two-hosts lab, in one run:
//   (a) RTT under load: ping -c 2000 -i 0 -I tun19 host-2 (median, p99);
//   (b) throughput: 4 concurrent ping -f -I tun19 host-2 for a fixed time
//       (replies per second, loss).
// Rounds alternate ours / seed (BENCH_ROUNDS, default 3) so drift and
// warm-up hit both alike; each figure is the median over the rounds.
// Each round also runs ours in IPv6 (ping -6 through the same TUN; the
// seed program has no IPv6), reported against ours in IPv4.
// Prints each figure and the ratios ours/seed. Bounded in count and time.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab } from '../src/lab/lab.js';
import { presetTopology } from '../src/lab/presets.js';
import { validateTopology } from '../src/lab/topology.js';
import { parsePing, startRelay } from '../harness/daemon-harness.js';
import { quantile } from '../harness/quantile.js';

const LAB = `bench-relay`;
const FLOOD_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RTT_COUNT = Number(process.env.BENCH_COUNT ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SEED_BIN = process.env.SEED_BIN ?? `${ROOT}build/seed-tun-driver`;
const SEED_BUILD = `${ROOT}../shared/anchors/seed-go/build.sh`;

interface Figures { medianMs: number; p99Ms: number; rttLoss: number; repliesPerSecond: number; floodLoss: number }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const HOST2_V6 = '2001:db8:1::2';

async function measure(lab: Lab, host2: string): Promise<Figures> {
  const family = host2.includes(':') ? ['-6'] : [];
  const rtt = parsePing(...(await (async () => {
    const r = await lab.run('host-1', 'ping', [...family, '-c', String(RTT_COUNT), '-i', '0', '-W', '1', '-I', 'tun19', host2], 120_000);
    return [r.code, r.stdout + r.stderr] as const;
  })()));
  if (rtt.rttsMs.length === 0) throw new Error(`no replies in the RTT run: ${rtt.output.slice(-300)}`);
  const floods = await Promise.all(
    [0, 1, 2, 3].map(() => lab.run('host-1', 'ping', [...family, '-f', '-q', '-w', String(FLOOD_SECONDS), '-I', 'tun19', host2], (FLOOD_SECONDS + 10) * 1000)),
  );
  let tx = 0;
  let rx = 0;
  for (const f of floods) {
    const p = parsePing(f.code, f.stdout + f.stderr);
    tx += p.transmitted;
    rx += p.received;
  }
  return {
    medianMs: quantile(rtt.rttsMs, 0.5),
    p99Ms: quantile(rtt.rttsMs, 0.99),
    rttLoss: 1 - rtt.received / rtt.transmitted,
    repliesPerSecond: rx / FLOOD_SECONDS,
    floodLoss: tx ? 1 - rx / tx : 1,
  };
}

async function withSeed<T>(lab: Lab, fn: () => Promise<T>): Promise<T> {
  // The seed program needs rp_filter 0 or 2 (a fresh namespace has 0) and
  // prints several lines per packet: its stdout goes to /dev/null.
  const child = lab.spawn('host-1', SEED_BIN, ['-eth0', lab.address('host-1'), '-tunIP', '10.244.1.3', '-tunName', 'tun19'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100; i++) {
      const r = await lab.run('host-1', 'ip', ['-o', 'addr', 'show', 'dev', 'tun19']);
      if (/10\.244\.1\.3/.test(r.stdout)) break;
      await sleep(50);
    }
    await sleep(300);
    return await fn();
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    await lab.run('host-1', 'ip', ['link', 'del', 'tun19']);
  }
}

async function withOurs<T>(lab: Lab, fn: () => Promise<T>, address = '10.244.1.3/24'): Promise<T> {
  const relay = await startRelay(lab, 'host-1', ['--address', address]);
  try {
    return await fn();
  } finally {
    await relay.stop();
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:relay needs root (it builds a tdlab- lab)');
  if (!existsSync(SEED_BIN)) {
    console.log(`building the seed's Go program into ${SEED_BIN} (Debian's Go packages)...`);
    const b = spawnSync('bash', [SEED_BUILD, SEED_BIN], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error(`could not build the seed program with ${SEED_BUILD}`);
  }
  await Lab.down(LAB);
  // The two-hosts preset, dual-stack: the IPv6 run pings host-2 at 2001:db8:1::2.
  const base = presetTopology('two-hosts', { name: LAB }) as { segments: object[]; hosts: object[] };
  const topology = validateTopology({
    ...base,
    segments: base.segments.map((s) => ({ ...s, subnet6: '2001:db8:1::/64' })),
    hosts: base.hosts.map((h, i) => ({ ...h, address6: `2001:db8:1::${i + 1}` })),
  });
  const lab = await Lab.up(topology);
  try {
    const host2 = lab.address('host-2');
    const rounds: Record<'ours' | 'seed' | 'ours6', Figures[]> = { ours: [], seed: [], ours6: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      rounds.ours.push(await withOurs(lab, () => measure(lab, host2)));
      rounds.seed.push(await withSeed(lab, () => measure(lab, host2)));
      rounds.ours6.push(await withOurs(lab, () => measure(lab, HOST2_V6), 'fd00:1::3/64'));
      const say = (name: string, f: Figures): string => `${name} median ${f.medianMs.toFixed(3)} ms, ${Math.round(f.repliesPerSecond)} replies/s`;
      console.log(`round ${round}: ${say('ours', rounds.ours.at(-1)!)}; ${say('seed', rounds.seed.at(-1)!)}; ${say('ours IPv6', rounds.ours6.at(-1)!)}`);
    }
    const combine = (fs: Figures[]): Figures => ({
      medianMs: quantile(fs.map((f) => f.medianMs), 0.5),
      p99Ms: quantile(fs.map((f) => f.p99Ms), 0.5),
      rttLoss: Math.max(...fs.map((f) => f.rttLoss)),
      repliesPerSecond: quantile(fs.map((f) => f.repliesPerSecond), 0.5),
      floodLoss: Math.max(...fs.map((f) => f.floodLoss)),
    });
    const ours = combine(rounds.ours);
    const seed = combine(rounds.seed);
    const ours6 = combine(rounds.ours6);
    const row = (name: string, f: Figures): string =>
      `${name.padEnd(6)} ${f.medianMs.toFixed(3).padStart(9)} ${f.p99Ms.toFixed(3).padStart(9)} ${pct(f.rttLoss).padStart(8)} ${Math.round(f.repliesPerSecond).toString().padStart(12)} ${pct(f.floodLoss).padStart(9)}`;
    console.log(`\nrelay benchmark: ping -c ${RTT_COUNT} -i 0, and 4 x ping -f for ${FLOOD_SECONDS} s, through tun19; median of ${ROUNDS} alternating rounds, worst loss (node ${process.version})`);
    console.log('impl   median ms    p99 ms  rttloss  replies/s  floodloss');
    console.log(row('ours', ours));
    console.log(row('seed', seed));
    console.log(row('ours6', ours6));
    console.log(`ratios ours/seed: replies/s ${(ours.repliesPerSecond / seed.repliesPerSecond).toFixed(2)}x, median RTT ${(ours.medianMs / seed.medianMs).toFixed(2)}x, p99 RTT ${(ours.p99Ms / seed.p99Ms).toFixed(2)}x`);
    const bar = ours.repliesPerSecond >= seed.repliesPerSecond && ours.medianMs <= 1.25 * seed.medianMs;
    console.log(`bar (replies/s >= 1.0x seed, median RTT <= 1.25x seed): ${bar ? 'met' : 'NOT met'}`);
    console.log(`IPv6 against IPv4 (ours6/ours): replies/s ${(ours6.repliesPerSecond / ours.repliesPerSecond).toFixed(2)}x, median RTT ${(ours6.medianMs / ours.medianMs).toFixed(2)}x, p99 RTT ${(ours6.p99Ms / ours.p99Ms).toFixed(2)}x`);
  } finally {
    await Lab.down(LAB);
  }
}

main().catch(async (err) => {
  console.error(`bench:relay: ${err instanceof Error ? err.message : err}`);
  await Lab.down(LAB);
  process.exitCode = 1;
});
