// `npm run bench:etcd -- --nodes N [--plain-only] [--tls-without-rbac]`: N simulated nodes
// against the lab's real 3-member etcd, run once over plain http and once
// over TLS with client certificates and RBAC (lab up --etcd --etcd-tls), in
// one run. Nodes are spread over worker processes of 200
// (bench/etcd-scale-worker.ts): each node is the real control plane with
// its own etcd client, as each daemon has. Reported: the time from the last
// join until every node's route table holds every node; a lease put until
// each node's table shows it (p50, p99 over all nodes and 10 changes);
// etcd's CPU; the workers' memory per node; a re-list of every key; and,
// on the data plane's side, a route lookup with 1,000 peers against 2, and
// a leases file of 1,000 entries reloaded. With --soak-minutes M the plain
// run then goes on for M minutes, restarting one etcd member half-way,
// and counts the leases lost (a node whose control plane gave up) and the
// fewest subnet keys seen. With --tls-without-rbac a third run goes over
// TLS with client certificates and RBAC turned off (etcdctl auth disable),
// to tell what TLS costs from what RBAC does. The last line is JSON.
import { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { labEtcdctl, labEtcdEndpoints, startEtcdMember, stopEtcdMember, waitForEtcd } from '../src/lab/lab-etcd.js';
import { labEtcdTls } from '../src/lab/lab-etcd-tls.js';
import { Lab } from '../src/lab/lab.js';
import { netnsPids } from '../src/netns/processes.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { cpuSeconds } from './proc-cpu.js';
import { dataPlaneAtScale } from './route-scale.js';
import { percentile } from './wait-until.js';

const WORKER = fileURLToPath(new URL('./etcd-scale-worker.js', import.meta.url));
const LAB = 'bench-etcd-n';
const PREFIX = '/coreos.com/network';
const PER_WORKER = 200;
const CHANGES = 10;
const PROBE = '10.200.0.0/24'; // the network's first subnet: routable, never leased (SubnetMin is the second)

interface Worker {
  child: ChildProcess;
  next(type: string): Promise<Record<string, any>>;
  send(line: string): void;
}

function worker(lab: Lab, args: string[]): Worker {
  const child = lab.spawn('host-1', process.execPath, [WORKER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: Array<Record<string, any>> = [];
  const waiting: Array<{ type: string; resolve: (o: Record<string, any>) => void; reject: (e: Error) => void }> = [];
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`a worker exited (${code}) before saying ${w.type}`));
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const o = JSON.parse(line);
    if (o.type === 'fatal') process.stderr.write(`etcd-scale worker: ${o.message}\n`);
    const w = waiting.findIndex((x) => x.type === o.type);
    if (w >= 0) waiting.splice(w, 1)[0].resolve(o);
    else queue.push(o);
  });
  return {
    child,
    send: (line) => void child.stdin!.write(`${line}\n`),
    next: (type) => {
      const i = queue.findIndex((o) => o.type === type);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
      return new Promise((resolve, reject) => void waiting.push({ type, resolve, reject }));
    },
  };
}

const pct = percentile;
const r1 = (x: number): number => Math.round(x * 10) / 10;

function etcdCpu(lab: Lab): number {
  let s = 0;
  for (const m of lab.state.topology.etcd!.members) {
    for (const pid of netnsPids(lab.ns(m))) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'etcd') s += cpuSeconds(pid);
      } catch {
        // gone
      }
    }
  }
  return s;
}

export interface ScaleFigures {
  mode: Security;
  nodes: number;
  completeMs: number;
  putToRouteP50Ms: number;
  putToRouteP99Ms: number;
  /** The put itself, until etcd answered it (raft commit): the floor under put -> route. */
  putCommitP50Ms: number;
  etcdCpuJoinS: number;
  etcdCpuChangesS: number;
  workerRssPerNodeKB: number;
  relistMs: number;
  relistRebuildMs: number;
  soak?: SoakFigures;
}

/** What --soak-minutes measured: leases lost, the fewest keys and smallest table seen, and the member restart. */
export interface SoakFigures {
  minutes: number;
  leasesLost: number;
  minKeys: number;
  minTable: number;
  memberDownSeconds: number;
  checks: number;
}

/** Keeps the nodes running for `minutes`, checking every 15 s; stops etcd member host-2 half-way and starts it again 10 s later. */
async function soak(lab: Lab, workers: Worker[], nodes: number, minutes: number): Promise<SoakFigures> {
  const end = Date.now() + minutes * 60_000;
  const halfway = Date.now() + (minutes * 60_000) / 2;
  let restarted = false;
  let memberDownSeconds = 0;
  const f: SoakFigures = { minutes, leasesLost: 0, minKeys: nodes, minTable: nodes, memberDownSeconds: 0, checks: 0 };
  while (Date.now() < end) {
    if (!restarted && Date.now() >= halfway) {
      restarted = true;
      const t0 = Date.now();
      await stopEtcdMember(lab, 'host-2');
      await new Promise((r) => setTimeout(r, 10_000));
      startEtcdMember(lab, 'host-2', 'existing');
      await waitForEtcd(lab, 60_000);
      memberDownSeconds = (Date.now() - t0) / 1000;
      console.log(`soak: etcd member host-2 stopped, started again after 10 s, the cluster healthy ${memberDownSeconds.toFixed(1)} s after the stop`);
    }
    for (const w of workers) w.send('health');
    const health = await Promise.all(workers.map((w) => w.next('health')));
    f.checks++;
    f.leasesLost = health.reduce((n, h) => n + h.lost, 0);
    const tables = health.filter((h) => h.minTable !== undefined).map((h) => h.minTable as number);
    f.minTable = Math.min(f.minTable, ...tables);
    f.minKeys = Math.min(f.minKeys, health[0].keys);
    console.log(`soak ${((minutes * 60_000 - (end - Date.now())) / 60_000).toFixed(1)} min: ${health[0].keys} subnet keys, smallest table ${Math.min(...tables)}, leases lost ${f.leasesLost}`);
    await new Promise((r) => setTimeout(r, Math.min(15_000, Math.max(0, end - Date.now()))));
  }
  f.memberDownSeconds = Math.round(memberDownSeconds * 10) / 10;
  return f;
}

/** How a run reaches etcd: plain http, TLS with client certificates and RBAC, or TLS with RBAC turned off. */
type Security = 'plain' | 'tls' | 'tls-without-rbac';

async function once(nodes: number, mode: Security, soakMinutes = 0): Promise<ScaleFigures> {
  await Lab.down(LAB);
  const tls = mode !== 'plain';
  const cluster = await OverlayCluster.up(LAB, 3, 1, { etcd: true, etcdTls: tls });
  if (mode === 'tls-without-rbac') {
    const r = await labEtcdctl(cluster.lab, ['auth', 'disable']);
    if (r.code !== 0) throw new Error(`etcdctl auth disable: ${r.stderr.trim()}`);
  }
  const workers: Worker[] = [];
  try {
    const network = nodes > 1000 ? '10.200.0.0/13' : '10.200.0.0/14';
    await cluster.etcdctl('put', `${PREFIX}/config`, JSON.stringify({ Network: network, SubnetLen: 24, Backend: { Type: 'udp', Port: 8285 } }));
    await cluster.etcdctl('del', '--prefix', `${PREFIX}/subnets/`);
    const endpoints = labEtcdEndpoints(cluster.lab).join(',');
    const files = labEtcdTls(cluster.lab.name);
    const security = tls ? [files.ca, files.nodeCert, files.nodeKey] : [];
    const cpu0 = etcdCpu(cluster.lab);
    // workers[0] holds no nodes: it makes the changes (see etcd-scale-worker.ts).
    workers.push(worker(cluster.lab, [endpoints, PREFIX, '0', '0', String(nodes), PROBE, ...security]));
    for (let first = 0; first < nodes; first += PER_WORKER) {
      workers.push(worker(cluster.lab, [endpoints, PREFIX, String(first), String(Math.min(PER_WORKER, nodes - first)), String(nodes), PROBE, ...security]));
    }
    const joined = await Promise.all(workers.map((w) => w.next('joined')));
    const complete = await Promise.all(workers.map((w) => w.next('complete')));
    if (complete.some((c) => !c.complete)) throw new Error(`not every table completed within 120 s (smallest: ${Math.min(...complete.map((c) => c.tables))} of ${nodes})`);
    const lastJoin = Math.max(...joined.map((j) => j.at));
    const completeMs = Math.max(...complete.map((c) => c.at)) - lastJoin;
    const cpu1 = etcdCpu(cluster.lab);
    const latencies: number[] = [];
    const commits: number[] = [];
    /** put -> route per worker (each worker's nodes joined in one stretch, so they may sit on other etcd members). */
    const byWorker: number[][] = [];
    for (const w of workers) w.send('profile start');
    for (let k = 0; k < CHANGES; k++) {
      const want = k % 2 === 0 ? 1 : 0;
      for (const w of workers) w.send(`change ${k} ${want}`);
      workers[0].send(`put ${k} ${want}`);
      const put = await workers[0].next('put');
      commits.push(put.committedMs);
      const seen = await Promise.all(workers.map((w) => w.next('seen')));
      if (seen.some((s) => !s.ok)) throw new Error(`change ${k} did not reach every node within 30 s`);
      seen.forEach((s, w) => {
        for (const t of s.times as number[]) {
          latencies.push(Math.max(0, t - put.at));
          (byWorker[w] ??= []).push(Math.max(0, t - put.at));
        }
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    const cpu2 = etcdCpu(cluster.lab);
    console.log(`${mode}: put -> route p90 ${r1(pct(latencies, 90))} ms, max ${r1(Math.max(...latencies))} ms; per worker p50/p99: ${byWorker.filter((l) => l.length > 0).map((l) => `${r1(pct(l, 50))}/${r1(pct(l, 99))}`).join(', ')} ms`);
    for (const w of workers) w.send('profile stop');
    workers[0].send('relist');
    const relist = await workers[0].next('relist');
    const soaked = soakMinutes > 0 ? await soak(cluster.lab, workers, nodes, soakMinutes) : undefined;
    const nodeWorkers = workers.slice(1);
    for (const w of nodeWorkers) w.send('rss');
    const rss = (await Promise.all(nodeWorkers.map((w) => w.next('rss')))).reduce((n, o) => n + o.rss, 0);
    for (const w of workers) w.send('quit');
    await Promise.all(workers.map((w) => w.next('bye')));
    return {
      mode, nodes, completeMs: r1(completeMs), putToRouteP50Ms: r1(pct(latencies, 50)), putToRouteP99Ms: r1(pct(latencies, 99)), putCommitP50Ms: r1(pct(commits, 50)),
      etcdCpuJoinS: r1(cpu1 - cpu0), etcdCpuChangesS: r1(cpu2 - cpu1), workerRssPerNodeKB: Math.round(rss / nodes / 1024),
      relistMs: r1(relist.listMs), relistRebuildMs: r1(relist.rebuildMs), ...(soaked ? { soak: soaked } : {}),
    };
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await cluster.down();
  }
}

/** Runs the scale benchmark: plain, then (unless plainOnly) TLS, then (withoutRbac) TLS with RBAC off, and the data plane's side. */
export async function scaleBench(nodes: number, plainOnly: boolean, soakMinutes = 0, withoutRbac = false): Promise<void> {
  const runs: ScaleFigures[] = [];
  const modes: Security[] = plainOnly ? ['plain'] : withoutRbac ? ['plain', 'tls', 'tls-without-rbac'] : ['plain', 'tls'];
  for (const mode of modes) {
    const f = await once(nodes, mode, mode === 'plain' ? soakMinutes : 0);
    runs.push(f);
    console.log(`${mode} ${nodes} nodes: every table complete ${f.completeMs} ms after the last join; lease put -> route p50 ${f.putToRouteP50Ms} ms, p99 ${f.putToRouteP99Ms} ms (the put itself answered in ${f.putCommitP50Ms} ms, p50); etcd CPU ${f.etcdCpuJoinS} s over the joins, ${f.etcdCpuChangesS} s over ${CHANGES} changes; ${f.workerRssPerNodeKB} KB of worker RSS per node (its client and its ${nodes}-peer table); a re-list of ${nodes} keys ${f.relistMs} ms + ${f.relistRebuildMs} ms to rebuild the table`);
  }
  const dp = dataPlaneAtScale(nodes);
  console.log(`data plane: route lookup ${dp.lookupNsFew.toFixed(1)} ns with 2 peers, ${dp.lookupNsMany.toFixed(1)} ns with ${nodes} (${(dp.lookupNsMany / dp.lookupNsFew).toFixed(2)}x); a leases file of ${nodes} entries reloaded (parse + setLeases) in ${dp.reloadMs.toFixed(1)} ms`);
  const plain = runs[0];
  const tls = runs[1];
  const bare = runs[2];
  if (bare) console.log(`TLS without RBAC / plain, put -> route p50: ${(bare.putToRouteP50Ms / plain.putToRouteP50Ms).toFixed(2)}x; the put itself ${(bare.putCommitP50Ms / plain.putCommitP50Ms).toFixed(2)}x (with RBAC: ${(tls.putToRouteP50Ms / plain.putToRouteP50Ms).toFixed(2)}x and ${(tls.putCommitP50Ms / plain.putCommitP50Ms).toFixed(2)}x)`);
  const soaked = plain.soak;
  if (soaked) console.log(`soak: ${soaked.minutes} min with ${nodes} nodes and one etcd member restarted: ${soaked.leasesLost} leases lost, at least ${soaked.minKeys} subnet keys and ${soaked.minTable} peers in every table at each of ${soaked.checks} checks; bar (zero leases lost) ${soaked.leasesLost === 0 && soaked.minKeys >= nodes ? 'met' : 'NOT met'}`);
  console.log(`bars: complete <= 5 s ${plain.completeMs <= 5000 ? 'met' : 'NOT met'}; put -> route p99 <= 100 ms ${plain.putToRouteP99Ms <= 100 ? 'met' : 'NOT met'}${tls ? `; TLS p50 <= 1.2x plain ${tls.putToRouteP50Ms <= 1.2 * plain.putToRouteP50Ms ? 'met' : 'NOT met'} (${(tls.putToRouteP50Ms / plain.putToRouteP50Ms).toFixed(2)}x)` : ''}; lookup with ${nodes} peers <= 2x with 2 ${dp.lookupNsMany <= 2 * dp.lookupNsFew ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify({ nodes, completeMs: plain.completeMs, putToRouteP99Ms: plain.putToRouteP99Ms, putToRouteP50Ms: plain.putToRouteP50Ms, ...(tls ? { tls: { completeMs: tls.completeMs, putToRouteP50Ms: tls.putToRouteP50Ms, putToRouteP99Ms: tls.putToRouteP99Ms } } : {}), ...(bare ? { tlsWithoutRbac: { putToRouteP50Ms: bare.putToRouteP50Ms, putToRouteP99Ms: bare.putToRouteP99Ms, putCommitP50Ms: bare.putCommitP50Ms } } : {}), lookupNs: { 2: r1(dp.lookupNsFew), [nodes]: r1(dp.lookupNsMany) }, leasesReloadMs: r1(dp.reloadMs), ...(soaked ? { soak: soaked } : {}) }));
}
