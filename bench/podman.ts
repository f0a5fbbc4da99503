// npm run bench:podman — what our CNI plugin adds to a container's start
// under a real runtime: `podman run --rm <busybox> true` on a lab node
// whose overlay daemon is up, timed from spawning podman to its exit, on
// two networks in one run, alternating so both see the same machine:
//   tun-driver    the conflist `tun-driver cni install` writes (tun-driver-cni
//                 delegating to bridge + host-local, then portmap)
//   plain         the same chain with bridge + host-local configured by hand
//                 (another bridge and subnet), what flannel's plugin saves
//                 you from writing
// Bounded: BENCH_PODMAN_RUNS (default 20, at most 100) containers per network.
// podman runs in the lab's sandbox (harness/podman-lab.ts).
import { performance } from 'node:perf_hooks';
import { Lab } from '../src/lab/lab.js';
import { labSubnetFile } from '../src/lab/lab-etcd.js';
import { OverlayCluster } from '../harness/overlay-cluster.js';
import { BUSYBOX_IMAGE, PODMAN_RUN, PodmanLab, PodmanNode, podmanMissing } from '../harness/podman-lab.js';
import { quantile } from '../harness/quantile.js';

const LAB = 'bench-podman';
const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;


/** bridge + host-local by hand, in the same shape as the installed conflist. */
function plainConflist(mtu: number): string {
  return JSON.stringify({
    name: 'plain',
    cniVersion: '1.0.0',
    plugins: [
      { type: 'bridge', bridge: 'cni-plain', isGateway: true, isDefaultGateway: true, hairpinMode: true, ipMasq: false, mtu, ipam: { type: 'host-local', ranges: [[{ subnet: '10.99.1.0/24' }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

async function startOnce(node: PodmanNode, network: string): Promise<number> {
  const t0 = performance.now();
  const r = await node.podman(['run', '--rm', '--network', network, ...PODMAN_RUN, BUSYBOX_IMAGE, 'true']);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`podman run on ${network} failed: ${r.stderr.trim()}`);
  return ms;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:podman needs root (it builds a tdlab- lab)');
  const missing = podmanMissing();
  if (missing) throw new Error(missing);
  const runs = Math.min(100, Math.max(1, Number(process.env.BENCH_PODMAN_RUNS ?? 20)));
  await Lab.down(LAB);
  const cluster = await OverlayCluster.up(LAB, 1, 1);
  cluster.autoPods = false;
  let podman: PodmanLab | undefined;
  try {
    await cluster.start(1);
    podman = await PodmanLab.open(cluster.lab, ['host-1']);
    const node = podman.node('host-1');
    const subnetFile = labSubnetFile(cluster.lab, 'host-1');
    const installed = await node.exec(process.execPath, [CLI, 'cni', 'install', '--subnet-file', subnetFile]);
    if (installed.code !== 0) throw new Error(installed.stderr);
    const mtu = Number(/FLANNEL_MTU=(\d+)/.exec((await node.exec('cat', [subnetFile])).stdout)?.[1] ?? 1500);
    await node.exec('sh', ['-c', `printf '%s\\n' '${plainConflist(mtu)}' > /etc/cni/net.d/20-plain.conflist`]);
    const times: Record<string, number[]> = { 'tun-driver': [], plain: [] };
    // One unrecorded start each: podman's first run pays for caches both share.
    for (const net of Object.keys(times)) await startOnce(node, net);
    for (let i = 0; i < runs; i++) {
      for (const net of i % 2 ? ['plain', 'tun-driver'] : ['tun-driver', 'plain']) times[net].push(await startOnce(node, net));
    }
    const [ours, plain] = [times['tun-driver'], times.plain];
    console.log(`podman run --rm ${BUSYBOX_IMAGE} true, ${runs} per network, alternating (ms, from spawning podman to its exit)`);
    for (const [name, xs] of Object.entries(times)) {
      console.log(`${name.padEnd(11)} median ${quantile(xs, 0.5).toFixed(0).padStart(5)}   p90 ${quantile(xs, 0.9).toFixed(0).padStart(5)}   min ${Math.min(...xs).toFixed(0).padStart(5)}`);
    }
    const extra = quantile(ours, 0.5) - quantile(plain, 0.5);
    console.log(`tun-driver / plain: ${(quantile(ours, 0.5) / quantile(plain, 0.5)).toFixed(2)}x the median start (${extra >= 0 ? '+' : ''}${extra.toFixed(0)} ms; the plugin runs twice per container, ADD and DEL)`);
  } finally {
    await podman?.close();
    await cluster.down();
  }
}

main().catch((err) => {
  console.error(`bench:podman: ${err.message ?? err}`);
  process.exit(1);
});
