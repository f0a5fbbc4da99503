// The 50-node half of `npm run bench:etcd`, run by bench/etcd.ts inside a
// lab host (where the lab's etcd is reachable): N simulated nodes in this
// one process, each the real EtcdControlPlane with its own etcd client
// and its peers kept in step with the leases by the daemon's own
// LeasePeers. No TUNs.
//   node dist/bench/etcd-sim.js ENDPOINTS [NODES] [CHANGES]
// Prints one JSON object: join and watch-to-route figures in ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openEtcd } from '../src/subnet/etcd/etcd-connection.js';
import { EtcdControlPlane } from '../src/subnet/etcd/etcd-control-plane.js';
import { Lease } from '../src/subnet/leases.js';
import { LeasePeers } from '../src/overlay/lease-peers.js';
import type { LeaseDelta } from '../src/subnet/control-plane.js';
import { parseCidr } from '../src/packet/addr.js';
import { percentile, waitUntil } from './wait-until.js';

const [endpointsArg, nodesArg = '50', changesArg = '20'] = process.argv.slice(2);
const endpoints = endpointsArg.split(',');
const NODES = Math.min(Number(nodesArg), 2000);
const CHANGES = Math.min(Number(changesArg), 100);
/** Nodes opening at once. */
const JOIN_CONCURRENCY = 50;
const PREFIX = '/bench-sim';
// A /14 of /24s leases 1,022 subnets past the probe's, a /13 2,046.
const NETWORK = { Network: NODES > 1000 ? '10.200.0.0/13' : NODES > 250 ? '10.200.0.0/14' : '10.200.0.0/16', SubnetLen: 24, Backend: { Type: 'udp', Port: 8285 } };
// The network's first subnet: inside it (so it routes), never leased (SubnetMin is the second).
const PROBE_SUBNET = parseCidr('10.200.0.0/24');
const PROBE_KEY = `${PREFIX}/subnets/10.200.0.0-24`;

interface SimNode {
  plane?: EtcdControlPlane;
  peers: LeasePeers;
  /** When this node last updated its routes, and whether the probe key was in them. */
  seenAt: number;
  hasProbe: boolean;
}

function leasesChanged(node: SimNode, leases: Lease[], delta?: LeaseDelta): void {
  node.peers.update(leases, undefined, delta);
  node.hasProbe = node.peers.routes.lookup(PROBE_SUBNET.network) !== undefined;
  node.seenAt = performance.now();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = percentile;
const round = (x: number): number => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const admin = openEtcd(endpoints);
  const dir = mkdtempSync(join(tmpdir(), 'td-etcd-sim-'));
  const nodes: SimNode[] = Array.from({ length: NODES }, () => ({ peers: new LeasePeers(), seenAt: 0, hasProbe: false }));
  try {
    await admin.delete().prefix(`${PREFIX}/`).exec();
    await admin.put(`${PREFIX}/config`).value(JSON.stringify(NETWORK));

    // Join: as after a cluster-wide restart, JOIN_CONCURRENCY nodes at a time
    // (all 1,000 at once in one process only measures this process's own
    // contention: each node's open waits behind the others' TLS and txns).
    const t0 = performance.now();
    const openMs: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, NODES) }, async () => {
      while (next < NODES) {
        const i = next++;
        const node = nodes[i];
        node.plane = await EtcdControlPlane.open({ endpoints, prefix: PREFIX, publicIp: 0xc6336464 + i, subnetFile: join(dir, `${i}.env`), leaseTtlSeconds: 60, connectTimeoutMs: 30_000 });
        openMs.push(performance.now() - t0);
        leasesChanged(node, node.plane.leases());
        node.plane.start({ onChange: (leases, _why, delta) => leasesChanged(node, leases, delta), onWarning: () => undefined, onFatal: (err) => { throw err; } });
      }
    }));
    const lastJoinMs = performance.now() - t0;
    const converged = await waitUntil(() => nodes.every((n) => n.peers.peers.length === NODES), 60_000);
    const convergedMs = performance.now() - t0;
    const rss = process.memoryUsage().rss;
    const distinct = new Set(nodes.map((n) => n.plane!.subnet!.network)).size;

    // Watch to route: a lease appears or goes; how long until every node's table shows it.
    const allMs: number[] = [];
    const lastNodeMs: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const want = k % 2 === 0;
      const start = performance.now();
      if (want) await admin.put(PROBE_KEY).value('{"PublicIP":"198.51.100.250","BackendType":"udp","BackendData":null}');
      else await admin.delete().key(PROBE_KEY);
      if (!(await waitUntil(() => nodes.every((n) => n.hasProbe === want), 10_000))) throw new Error(`change ${k} did not reach every node within 10 s`);
      const per = nodes.map((n) => n.seenAt - start);
      allMs.push(...per);
      lastNodeMs.push(Math.max(...per));
      await sleep(20);
    }
    process.stdout.write(JSON.stringify({
      nodes: NODES,
      distinctSubnets: distinct,
      converged,
      join: { openP50: round(pct(openMs, 50)), openMax: round(Math.max(...openMs)), convergedMs: round(convergedMs), completeAfterLastJoinMs: round(convergedMs - lastJoinMs) },
      rssMB: Math.round(rss / 1e6),
      watchToRoute: { changes: CHANGES, p50: round(pct(allMs, 50)), p99: round(pct(allMs, 99)), lastNodeP50: round(pct(lastNodeMs, 50)), lastNodeMax: round(Math.max(...lastNodeMs)) },
    }) + '\n');
  } finally {
    await Promise.all(nodes.map((n) => n.plane?.abandon()));
    await admin.delete().prefix(`${PREFIX}/`).exec().catch(() => undefined);
    admin.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`etcd-sim: ${(err as Error).stack}\n`);
  process.exit(1);
});
