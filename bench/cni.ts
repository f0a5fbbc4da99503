// npm run bench:cni — how long a container runtime waits for a pod's
// network: CNI ADD latency of 50 pods, one after another, on a node whose
// overlay daemon is up, measured from spawning the plugin to its exit. In
// one run, three figures:
//   node-start       `node -e 0`: the floor any Node.js plugin pays
//   bridge-direct    the bridge plugin (+ host-local) called directly with
//                    the configuration tun-driver-cni would build
//   tun-driver-cni   the plugin as a runtime calls it (reads subnet.env,
//                    stores the delegate, runs bridge)
// Bounded: 50 pods per plugin, 20 node start-ups; all inside a tdlab- lab.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { delegateConf } from '../src/cni/delegate-conf.js';
import { findPlugin, invokePlugin } from '../src/cni/invoke-plugin.js';
import { parseNetConf } from '../src/cni/net-conf.js';
import { readSubnetEnv } from '../src/subnet/etcd/subnet-env.js';
import { Lab } from '../src/lab/lab.js';
import { labSubnetFile } from '../src/lab/lab-etcd.js';
import { addPod, deletePod, labCniConf, labCniPath, podsOf } from '../src/lab/lab-pods.js';
import { netnsPath, withNetns } from '../src/netns/netns.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { quantile } from '../harness/quantile.js';

const LAB = 'bench-cni';
const PODS = 50;

const row = (name: string, xs: number[]): string => `${name.padEnd(16)} median ${quantile(xs, 0.5).toFixed(1).padStart(6)} ms   p99 ${quantile(xs, 0.99).toFixed(1).padStart(6)} ms   (n=${xs.length})`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:cni needs root (it builds a tdlab- lab)');
  await Lab.down(LAB);
  const cluster = await OverlayCluster.up(LAB, 1, PODS);
  cluster.autoPods = false;
  try {
    await cluster.start(1);
    const lab = cluster.lab;
    const pods = podsOf(lab, 'host-1');

    const nodeStart: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      spawnSync(process.execPath, ['-e', '0']);
      nodeStart.push(performance.now() - t0);
    }

    const ours: number[] = [];
    for (const pod of pods) ours.push(await timed(() => addPod(lab, pod)));
    for (const pod of pods) await deletePod(lab, pod);

    // The same delegate configuration, given straight to bridge.
    const conf = labCniConf(lab, 'host-1');
    const delegate = delegateConf(parseNetConf(JSON.stringify(conf)), readSubnetEnv(labSubnetFile(lab, 'host-1'))!);
    const cniPath = labCniPath(lab);
    const bridge = findPlugin('bridge', cniPath);
    const direct: number[] = [];
    for (const pod of pods) {
      const env = { ...process.env, CNI_CONTAINERID: `direct-${pod}`, CNI_NETNS: netnsPath(lab.ns(pod)), CNI_IFNAME: 'eth0', CNI_PATH: cniPath };
      direct.push(await timed(() => withNetns(lab.ns('host-1'), () => invokePlugin(bridge, 'ADD', delegate, env))));
    }

    process.stdout.write(`CNI ADD latency, ${PODS} pods one after another on one node (${new Date().toISOString()}):\n`);
    process.stdout.write(`${row('node-start', nodeStart)}\n${row('bridge-direct', direct)}\n${row('tun-driver-cni', ours)}\n`);
    process.stdout.write(`tun-driver-cni / bridge-direct: median ${(quantile(ours, 0.5) / quantile(direct, 0.5)).toFixed(2)}x; ours minus bridge: ${(quantile(ours, 0.5) - quantile(direct, 0.5)).toFixed(1)} ms at the median\n`);
  } finally {
    await cluster.down();
  }
}

main().catch(async (err) => {
  process.stderr.write(`bench:cni failed: ${err instanceof Error ? err.message : err}\n`);
  await Lab.down(LAB);
  process.exitCode = 1;
});
