// npm run bench:kernel-replan — what one lease change costs a kernel
// backend in a large cluster. The agent hands the backend the whole lease
// set on every change, and with etcd also the delta (which leases came and
// went). Without the delta the backend plans every lease and changes only
// the difference in the kernel: O(n) planning, O(1) netlink requests; with
// it, it plans only the leases the delta names. In one run, per backend
// (vxlan, host-gw) and per cluster size (1, 100, 1,000 other nodes):
//   program   the first setLeases: every peer's entries installed
//   whole     one peer moves to another public IP: setLeases of the whole
//             set, no delta (a leases file's change) — median of --changes
//   delta     the same change with its delta (etcd's watch)
// and "/ at 1": each against the same at 1 node, the floor (the netlink
// requests themselves).
// and, as the peer for programming, iproute2: `ip -batch` and
// `bridge -batch` installing the same entries. Everything happens in one
// tdlab- namespace with a veth underlay; bounded by --nodes and --changes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { HostGwBackend } from '../src/backend/host-gw/host-gw.js';
import type { KernelBackend } from '../src/backend/backend.js';
import { findUnderlay } from '../src/backend/underlay.js';
import { MAC_TAG_V4 } from '../src/backend/vxlan/vxlan-data.js';
import { VxlanBackend } from '../src/backend/vxlan/vxlan.js';
import { NetlinkSocket } from '../src/netlink/socket.js';
import { netnsCreate, netnsDelete, netnsExists, withNetns } from '../src/netns/netns.js';
import { formatIPv4, parseCidr, parseIPv4 } from '../src/packet/addr.js';
import { formatMac, macFromIPv4 } from '../src/packet/mac.js';
import type { Lease } from '../src/subnet/leases.js';
import { median } from '../harness/quantile.js';

const NS = 'tdlab-replan';
const OWN_IP = parseIPv4('198.51.0.1')!;

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, changes: { type: 'string', default: '30' } } });
const maxNodes = Math.min(4000, Math.max(1, Number(values.nodes)));
const changes = Math.min(200, Math.max(3, Number(values.changes)));
const sizes = [...new Set([1, Math.min(100, maxNodes), maxNodes])];

/** Peer i (1-based): subnet 10.(200 + i/256).(i%256).0/24, public IP 198.51.(1 + i/256).(i%256) on the underlay's /16. */
function lease(i: number, moved = 0): Lease {
  return { subnet: parseCidr(`10.${200 + (i >> 8)}.${i & 0xff}.0/24`), publicIp: (parseIPv4(`198.51.${1 + (i >> 8)}.${i & 0xff}`)! + moved * 0x4000) >>> 0, port: 8472 };
}

const ip = (...args: string[]): void => void execFileSync('ip', ['-n', NS, ...args]);

function openBackend(nl: NetlinkSocket, type: 'vxlan' | 'host-gw'): KernelBackend {
  const underlay = findUnderlay(nl, OWN_IP);
  const subnet = parseCidr('10.199.0.0/24');
  return type === 'vxlan' ? VxlanBackend.open(nl, { vni: 1, port: 8472, underlay, subnet }) : new HostGwBackend(nl, { underlay, subnet });
}

interface Row {
  type: string;
  nodes: number;
  programMs: number;
  wholeMs: number;
  deltaMs: number;
  iprouteMs: number;
}

/** The same entries our backend installs, as iproute2 batch files. */
function iprouteBatch(type: 'vxlan' | 'host-gw', leases: Lease[], dir: string): { ipFile: string; bridgeFile?: string } {
  const ipLines: string[] = [];
  const fdbLines: string[] = [];
  for (const l of leases) {
    const net = formatIPv4(l.subnet!.network);
    if (type === 'host-gw') {
      ipLines.push(`route replace ${net}/24 via ${formatIPv4(l.publicIp)} dev veth-u`);
      continue;
    }
    const mac = formatMac(macFromIPv4(l.publicIp, MAC_TAG_V4));
    ipLines.push(`neigh replace ${net} lladdr ${mac} dev flannel.1 nud permanent`);
    fdbLines.push(`fdb replace ${mac} dev flannel.1 dst ${formatIPv4(l.publicIp)} self permanent`);
    ipLines.push(`route replace ${net}/24 via ${net} dev flannel.1 onlink`);
  }
  const ipFile = join(dir, `${type}-ip.batch`);
  writeFileSync(ipFile, `${ipLines.join('\n')}\n`);
  if (type === 'host-gw') return { ipFile };
  const bridgeFile = join(dir, `${type}-bridge.batch`);
  writeFileSync(bridgeFile, `${fdbLines.join('\n')}\n`);
  return { ipFile, bridgeFile };
}

function measure(type: 'vxlan' | 'host-gw', nodes: number, dir: string): Row {
  const leases = Array.from({ length: nodes }, (_, i) => lease(i + 1));
  const { programMs, wholeMs, deltaMs } = withNetns(NS, () => {
    const nl = NetlinkSocket.open();
    try {
      const backend = openBackend(nl, type);
      let t0 = performance.now();
      const first = backend.setLeases(leases);
      const programMs = performance.now() - t0;
      if (first.added !== nodes || first.skipped.length) throw new Error(`${type}: programmed ${first.added} of ${nodes} peers (${first.skipped.join('; ')})`);
      const whole: number[] = [];
      const delta: number[] = [];
      for (let k = 1; k <= changes * 2; k++) {
        // Peer k mod n moves to its other public IP: one peer's entries replaced per change; odd changes with the delta.
        const next = leases.slice();
        const j = k % nodes;
        next[j] = lease(j + 1, leases[j].publicIp === lease(j + 1).publicIp ? 1 : 0);
        const withDelta = k % 2 === 1;
        t0 = performance.now();
        const r = backend.setLeases(next, withDelta ? { added: [next[j]], removed: [leases[j]] } : undefined);
        (withDelta ? delta : whole).push(performance.now() - t0);
        if (r.added !== 1 || r.removed !== 1) throw new Error(`${type}, ${nodes} nodes, change ${k}: a one-peer change added ${r.added} and removed ${r.removed}`);
        leases.splice(0, leases.length, ...next);
      }
      if (backend.status().peers.length !== nodes) throw new Error(`${type}: ${backend.status().peers.length} peers after the changes, not ${nodes}`);
      backend.teardown();
      return { programMs, wholeMs: median(whole), deltaMs: median(delta) };
    } finally {
      nl.close();
    }
  });
  // iproute2 installs the same entries (the device made again, empty, for vxlan).
  withNetns(NS, () => {
    const nl = NetlinkSocket.open();
    try {
      openBackend(nl, type);
    } finally {
      nl.close();
    }
  });
  const batch = iprouteBatch(type, leases, dir);
  const t0 = performance.now();
  execFileSync('ip', ['-n', NS, '-batch', batch.ipFile]);
  if (batch.bridgeFile) execFileSync('bridge', ['-n', NS, '-batch', batch.bridgeFile]);
  const iprouteMs = performance.now() - t0;
  if (type === 'vxlan') ip('link', 'del', 'flannel.1');
  else ip('route', 'flush', 'dev', 'veth-u', 'proto', 'boot');
  return { type, nodes, programMs, wholeMs, deltaMs, iprouteMs };
}

function main(): void {
  if (process.getuid?.() !== 0) throw new Error('bench:kernel-replan needs root (it builds a tdlab- namespace)');
  if (netnsExists(NS)) netnsDelete(NS);
  netnsCreate(NS);
  const dir = mkdtempSync(join(tmpdir(), 'tdlab-replan-'));
  try {
    ip('link', 'add', 'veth-u', 'type', 'veth', 'peer', 'name', 'veth-p');
    ip('addr', 'add', '198.51.0.1/16', 'dev', 'veth-u');
    ip('link', 'set', 'veth-u', 'up');
    ip('link', 'set', 'veth-p', 'up');
    const rows: Row[] = [];
    for (const type of ['vxlan', 'host-gw'] as const) for (const n of sizes) rows.push(measure(type, n, dir));
    process.stdout.write(`One lease change on a kernel backend, median of ${changes} changes each way per size (${new Date().toISOString()}):\n`);
    process.stdout.write(`${'backend'.padEnd(8)} ${'nodes'.padStart(6)} ${'program ms'.padStart(11)} ${'iproute2 ms'.padStart(12)} ${'ours/ip'.padStart(8)} ${'whole ms'.padStart(9)} ${'/ at 1'.padStart(7)} ${'delta ms'.padStart(9)} ${'/ at 1'.padStart(7)}\n`);
    for (const r of rows) {
      const one = rows.find((x) => x.type === r.type && x.nodes === 1)!;
      process.stdout.write(`${r.type.padEnd(8)} ${String(r.nodes).padStart(6)} ${r.programMs.toFixed(1).padStart(11)} ${r.iprouteMs.toFixed(1).padStart(12)} ${(r.programMs / r.iprouteMs).toFixed(2).padStart(7)}x ${r.wholeMs.toFixed(3).padStart(9)} ${(r.wholeMs / one.wholeMs).toFixed(1).padStart(6)}x ${r.deltaMs.toFixed(3).padStart(9)} ${(r.deltaMs / one.deltaMs).toFixed(1).padStart(6)}x\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    netnsDelete(NS);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench:kernel-replan failed: ${err instanceof Error ? err.message : err}\n`);
  if (netnsExists(NS)) netnsDelete(NS);
  process.exitCode = 1;
}
