// npm run bench:etcd — the etcd control plane's convergence, in a cluster
// lab with a 3-member etcd (the targets in brackets):
//   join       3 real daemons started at once, fresh subnet keys: time from
//              the last daemon's start until every pod pings every other
//              node's pod                                          [<= 2 s]
//   change     a lease put or deleted with etcdctl: time until each real
//              daemon logs its new route table                    [<= 1 s]
//   50 nodes   simulated nodes (the real control plane, no TUNs) in one
//              process (bench/etcd-sim.ts): join and watch-to-route
// Bounded: BENCH_ETCD_RUNS join runs (default 5), 10 changes, 20 changes
// for the 50 nodes; everything inside the lab's namespaces.
// With --nodes N (up to 2,000): the scale benchmark instead, plain and TLS
// (bench/etcd-scale.ts).
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { scaleBench } from './etcd-scale.js';
import { fileURLToPath } from 'node:url';
import { labEtcdEndpoints } from '../src/lab/lab-etcd.js';
import { Lab } from '../src/lab/lab.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { DaemonRun } from '../harness/daemon-harness.js';
import { median } from '../harness/quantile.js';

const RUNS = Math.min(Number(process.env.BENCH_ETCD_RUNS ?? 5), 20);
const CHANGES = 10;
const SIM_NODES = 50;
const LAB = 'bench-etcd';
const SIM = fileURLToPath(new URL('./etcd-sim.js', import.meta.url));
const PAIRS: Array<[number, number]> = [[1, 2], [1, 3], [2, 1], [2, 3], [3, 1], [3, 2]];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (x: number): string => `${Math.round(x)} ms`;

/** One join: start all three daemons at once; ms from the last start to full pod-to-pod reachability. */
async function joinOnce(cluster: OverlayCluster): Promise<{ fromStart: number; fromReady: number }> {
  await cluster.etcdctl('del', '--prefix', '/coreos.com/network/subnets/');
  const spawned: number[] = [];
  const ready: number[] = [];
  await Promise.all([1, 2, 3].map(async (h) => {
    spawned.push(performance.now());
    await cluster.start(h);
    ready.push(performance.now());
  }));
  const lastStart = Math.max(...spawned);
  const pending = new Set(PAIRS.map(([a, b]) => `${a}>${b}`));
  const deadline = performance.now() + 20_000;
  while (pending.size > 0) {
    if (performance.now() > deadline) throw new Error(`no convergence within 20 s: ${[...pending].join(' ')} still fail`);
    await Promise.all([...pending].map(async (pair) => {
      const [a, b] = pair.split('>');
      const r = await cluster.lab.run(`host-${a}-pod1`, 'ping', ['-c', '1', '-W', '1', cluster.podIp(Number(b), 1)], 5000);
      if (r.code === 0) pending.delete(pair);
    }));
  }
  const converged = performance.now();
  for (const h of [1, 2, 3]) await cluster.stop(h);
  return { fromStart: converged - lastStart, fromReady: converged - Math.max(...ready) };
}

/** Lease changes seen by the running daemons: ms from before `etcdctl` until each daemon logged it. */
async function changes(cluster: OverlayCluster, daemons: DaemonRun[]): Promise<number[]> {
  const latencies: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const put = k % 2 === 0;
    const why = `${put ? 'put' : 'delete'} 10.244.209.0-24`;
    const before = Date.now();
    if (put) await cluster.etcdctl('put', '/coreos.com/network/subnets/10.244.209.0-24', '{"PublicIP":"198.51.100.9","BackendType":"udp","BackendData":null}');
    else await cluster.etcdctl('del', '/coreos.com/network/subnets/10.244.209.0-24');
    for (const d of daemons) {
      let line: { time: string } | undefined;
      for (let i = 0; i < 100 && !line; i++) {
        line = d.stderr().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((o) => o.why === why && Date.parse(o.time) >= before - 1).pop();
        if (!line) await sleep(20);
      }
      if (!line) throw new Error(`a daemon never logged "${why}"`);
      latencies.push(Date.parse(line.time) - before);
    }
    await sleep(100);
  }
  return latencies;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { nodes: { type: 'string' }, 'plain-only': { type: 'boolean', default: false }, 'soak-minutes': { type: 'string' }, 'tls-without-rbac': { type: 'boolean', default: false } } });
  if (values.nodes !== undefined) {
    const n = Number(values.nodes);
    if (!(Number.isInteger(n) && n >= 2 && n <= 2000)) throw new Error('--nodes: give a whole number from 2 to 2000');
    const soak = values['soak-minutes'] === undefined ? 0 : Number(values['soak-minutes']);
    if (!(soak >= 0 && soak <= 120)) throw new Error('--soak-minutes: give 0 to 120');
    if (values['tls-without-rbac'] && values['plain-only']) throw new Error('--tls-without-rbac needs the TLS run: leave out --plain-only');
    return scaleBench(n, values['plain-only'] ?? false, soak, values['tls-without-rbac'] ?? false);
  }
  await Lab.down(LAB);
  const cluster = await OverlayCluster.up(LAB, 3, 1, { etcd: true });
  try {
    const joins: Array<{ fromStart: number; fromReady: number }> = [];
    for (let r = 0; r < RUNS; r++) joins.push(await joinOnce(cluster));
    const daemons = await Promise.all([1, 2, 3].map((h) => cluster.start(h)));
    const change = await changes(cluster, daemons);
    for (const h of [1, 2, 3]) await cluster.stop(h);
    const sim = await cluster.lab.run('host-1', process.execPath, [SIM, labEtcdEndpoints(cluster.lab).join(','), String(SIM_NODES), '20'], 120_000);
    if (sim.code !== 0) throw new Error(`etcd-sim failed: ${sim.stderr}`);
    const s = JSON.parse(sim.stdout);

    const joinStart = median(joins.map((j) => j.fromStart));
    const changeMedian = median(change);
    const changeMax = Math.max(...change);
    const rows = [
      ['3-node join, last start -> all pods reach all (median of ' + RUNS + ')', ms(joinStart), '2000 ms', (joinStart / 2000).toFixed(2) + '×'],
      ['  same, from the last daemon ready (median)', ms(median(joins.map((j) => j.fromReady))), '', ''],
      ['  same, slowest run', ms(Math.max(...joins.map((j) => j.fromStart))), '2000 ms', (Math.max(...joins.map((j) => j.fromStart)) / 2000).toFixed(2) + '×'],
      [`lease change -> 3 daemons' routes (median of ${change.length})`, ms(changeMedian), '1000 ms', (changeMedian / 1000).toFixed(2) + '×'],
      ['  same, slowest', ms(changeMax), '1000 ms', (changeMax / 1000).toFixed(2) + '×'],
      [`${s.nodes} simulated nodes: all joined (slowest open)`, ms(s.join.openMax), '', ''],
      [`${s.nodes} simulated nodes: every table has all ${s.nodes}`, ms(s.join.convergedMs), '', ''],
      [`${s.nodes} nodes: watch -> route, per node p50 / p99`, `${s.watchToRoute.p50} / ${s.watchToRoute.p99} ms`, '1000 ms', (s.watchToRoute.p99 / 1000).toFixed(3) + '×'],
      [`${s.nodes} nodes: watch -> route, last node (median / max of ${s.watchToRoute.changes})`, `${s.watchToRoute.lastNodeP50} / ${s.watchToRoute.lastNodeMax} ms`, '1000 ms', (s.watchToRoute.lastNodeMax / 1000).toFixed(3) + '×'],
    ];
    const w = [Math.max(...rows.map((r) => r[0].length)), 16, 9, 8];
    process.stdout.write(`\n${'figure'.padEnd(w[0])}  ${'measured'.padStart(w[1])}  ${'target'.padStart(w[2])}  ${'÷ target'.padStart(w[3])}\n`);
    for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2].padStart(w[2])}  ${r[3].padStart(w[3])}\n`);
    process.stdout.write(`\n${s.nodes} simulated nodes took ${s.distinctSubnets} distinct subnets; joins: ${joins.map((j) => Math.round(j.fromStart)).join(', ')} ms\n`);
    const ok = s.distinctSubnets === s.nodes && s.converged;
    process.stdout.write(`verdict: join ${joinStart <= 2000 ? 'meets' : 'MISSES'} 2 s; lease change ${changeMax <= 1000 ? 'meets' : 'MISSES'} 1 s (slowest)\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    await cluster.down();
  }
}

await main();
