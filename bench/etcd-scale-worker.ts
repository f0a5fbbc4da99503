// One worker of `npm run bench:etcd -- --nodes N` (bench/etcd-scale.ts):
// COUNT simulated nodes in this process, each the real EtcdControlPlane
// with its own etcd client (as each node's daemon has its own), and its
// peers and route table kept in step with the leases by the daemon's own
// LeasePeers. Run inside a
// lab host. Talks to the coordinator in JSON lines: it prints
// {"type":"joined"} and {"type":"complete"} (times in ms since the epoch,
// comparable across processes on one machine), then answers stdin lines
// "change K WANT" with {"type":"seen"} (when each node's table showed the
// probe subnet appear (WANT 1) or go (0)), "rss" with its RSS, "health"
// with the leases its nodes lost so far and its smallest table, "quit" by
// giving its leases back and exiting. A worker of no nodes (COUNT 0) is
// the one that changes etcd: it makes the probe key's puts and deletes
// ("put K WANT"), re-lists, and counts the subnet keys for "health", from a
// process with nothing else to do, so a put's answer is etcd's and not
// delayed by 200 nodes' watch traffic in the same process. With
// BENCH_ETCD_CPU_PROF=DIR the worker of FIRST 200
// writes a V8 CPU profile of what lies between "profile start" and
// "profile stop" (the changes) into DIR.
//   node etcd-scale-worker.js ENDPOINTS PREFIX FIRST COUNT TOTAL PROBE [CA CERT KEY]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { EtcdControlPlane } from '../src/subnet/etcd/etcd-control-plane.js';
import { openEtcd } from '../src/subnet/etcd/etcd-connection.js';
import type { EtcdSecurity } from '../src/subnet/etcd/etcd-security.js';
import { Lease } from '../src/subnet/leases.js';
import { LeasePeers } from '../src/overlay/lease-peers.js';
import type { LeaseDelta } from '../src/subnet/control-plane.js';
import { peerFromLease, RouteTable } from '../src/overlay/route-table.js';
import { parseCidr } from '../src/packet/addr.js';
import { waitUntil } from './wait-until.js';

const [endpointsArg, prefix, firstArg, countArg, totalArg, probeArg, ca, cert, key] = process.argv.slice(2);
const endpoints = endpointsArg.split(',');
const FIRST = Number(firstArg);
const COUNT = Number(countArg);
const TOTAL = Number(totalArg);
const PROBE = parseCidr(probeArg);
const JOIN_CONCURRENCY = Number(process.env.BENCH_JOIN_CONCURRENCY ?? 4);
const security: EtcdSecurity | undefined = ca ? { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), sources: {} } : undefined;
const PROFILE_DIR = process.env.BENCH_ETCD_CPU_PROF;
let profiler: Session | undefined;
const now = (): number => performance.timeOrigin + performance.now();
const say = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

interface SimNode {
  plane?: EtcdControlPlane;
  /** The node's peers and route table, kept in step with its leases as the daemon's overlay keeps them. */
  peers: LeasePeers;
  hasProbe: boolean;
  /** When hasProbe last changed (epoch ms). */
  flippedAt: number;
}

const nodes: SimNode[] = Array.from({ length: COUNT }, () => ({ peers: new LeasePeers(), hasProbe: false, flippedAt: 0 }));

function leasesChanged(node: SimNode, leases: Lease[], delta?: LeaseDelta): void {
  node.peers.update(leases, undefined, delta);
  const has = node.peers.routes.lookup(PROBE.network) !== undefined;
  if (has !== node.hasProbe) {
    node.hasProbe = has;
    node.flippedAt = now();
  }
}

const until = (check: () => boolean, timeoutMs: number): Promise<boolean> => waitUntil(check, timeoutMs, 2);

const dir = mkdtempSync(join(tmpdir(), 'td-etcd-scale-'));
/** Nodes of this worker whose control plane gave up (a lost lease, a key taken away). */
let lost = 0;
let next = 0;
await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, COUNT) }, async () => {
  while (next < COUNT) {
    const i = next++;
    const node = nodes[i];
    node.plane = await EtcdControlPlane.open({ endpoints, prefix, publicIp: 0xc6330000 + FIRST + i, subnetFile: join(dir, `${i}.env`), leaseTtlSeconds: 120, connectTimeoutMs: 60_000, security });
    leasesChanged(node, node.plane.leases());
    node.plane.start({ onChange: (leases, _why, delta) => leasesChanged(node, leases, delta), onWarning: () => undefined, onFatal: (err) => { lost++; say({ type: 'fatal', message: err.message }); } });
  }
}));
say({ type: 'joined', at: now() });
const complete = await until(() => nodes.every((n) => n.peers.peers.length >= TOTAL), 120_000);
say({ type: 'complete', at: now(), complete, tables: nodes.map((n) => n.peers.peers.length).sort((a, b) => a - b)[0] });

// The worker of no nodes changes the probe key and times a re-list, from inside the lab.
const admin = COUNT === 0 ? openEtcd(endpoints, security) : undefined;
const probeKey = `${prefix}/subnets/${probeArg.replace('/', '-')}`;

// Commands are handled as they come: worker 0 waits for a change while it also makes it.
createInterface({ input: process.stdin }).on('line', (line) => void handle(line));

async function handle(line: string): Promise<void> {
  const [cmd, k, want] = line.split(' ');
  if (cmd === 'put' && admin) {
    const at = now();
    if (want === '1') await admin.put(probeKey).value('{"PublicIP":"198.51.100.250","BackendType":"udp","BackendData":null}');
    else await admin.delete().key(probeKey);
    say({ type: 'put', k: Number(k), at, committedMs: now() - at });
  } else if (cmd === 'relist' && admin) {
    const t0 = performance.now();
    const res = await admin.getAll().prefix(`${prefix}/subnets/`).exec();
    const listed = performance.now();
    const table = new RouteTable(res.kvs.map((kv) => peerFromLease({ subnet: parseCidr(kv.key.toString().slice(`${prefix}/subnets/`.length).replace('-', '/')), publicIp: 1, port: 8285 })));
    say({ type: 'relist', keys: res.kvs.length, listMs: listed - t0, rebuildMs: performance.now() - listed, peers: table.peers.length });
  } else if (cmd === 'change') {
    const w = want === '1';
    const ok = await until(() => nodes.every((n) => n.hasProbe === w), 30_000);
    say({ type: 'seen', k: Number(k), ok, times: nodes.map((n) => n.flippedAt) });
  } else if (cmd === 'health') {
    const keys = admin ? (await admin.getAll().prefix(`${prefix}/subnets/`).keys()).length : undefined;
    say({ type: 'health', lost, minTable: nodes.length ? Math.min(...nodes.map((n) => n.peers.peers.length)) : undefined, keys });
  } else if (cmd === 'profile' && PROFILE_DIR && FIRST === 200) {
    if (k === 'start') {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    } else if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(join(PROFILE_DIR, `etcd-scale-worker-${FIRST}.cpuprofile`), JSON.stringify(profile));
      profiler.disconnect();
    }
  } else if (cmd === 'rss') {
    say({ type: 'rss', rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed });
  } else if (cmd === 'quit') {
    await Promise.all(nodes.map((n) => n.plane?.abandon()));
    admin?.close();
    rmSync(dir, { recursive: true, force: true });
    say({ type: 'bye' });
    process.exit(0);
  }
}
