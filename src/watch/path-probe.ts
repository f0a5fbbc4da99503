// A packet's path through a lab, hop by hop, for `lab watch`: one real
// ping with a chosen ICMP identifier from a pod (or a relay's host), with
// the daemons at both ends armed to note the stages it reaches (the
// control socket's "probe ID" near, "probe ID far" at the destination's
// node). The first hop not reached is where it stopped; doctor, run on
// that hop's host, says why and how to fix it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest, queryStatus } from '../control/control-server.js';
import type { DaemonStatus } from '../control/daemon-status.js';
import { listControlSocketsIn } from '../control/paths.js';
import type { ProbeStage } from '../control/probe.js';
import type { Finding } from '../doctor/doctor.js';
import { Lab } from '../lab/lab.js';
import type { LabNode } from '../lab/state.js';
import { parseIPv4 } from '../packet/addr.js';
import { parseIPv6 } from '../packet/addr6.js';
import { bareAddress } from './cluster-snapshot.js';
import { TunDriverError } from '../errors.js';
import { HopProof, KernelCounter, kernelPlan, kernelProbeScript, kernelProbeTable, KernelProbeBackend, parseProbeCounters, PlannedHop } from './kernel-path.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export type HopStatus = 'passed' | 'failed' | 'not-reached';

/** One hop of the drawn path: what it is, which host it belongs to, and whether the probe got past it. */
export interface Hop {
  /** A key for the page's labels (both languages), e.g. "pod-to-tun". */
  step: string;
  /** The things the hop joins, e.g. ["host-1-pod1", "cni0", "flannel0"]. */
  via: string[];
  /** The lab host whose kernel or daemon this hop is (where doctor runs when it fails). */
  host: string;
  status: HopStatus;
  /** Milliseconds after the ping started that a daemon saw the packet there. */
  atMs?: number;
}

/** What a probe found. */
export interface PathReport {
  from: string;
  to: string;
  /** overlay: across nodes; relay: through a host's relay; local: two pods of one host; direct: out of the pod network. */
  kind: 'overlay' | 'relay' | 'local' | 'direct';
  /** Across nodes: the backend that carried it (udp, wireguard: our daemons noted the stages; vxlan, host-gw: each host's netfilter counters did). */
  backend?: string;
  /** The ping that was sent, as a reader would type it there. */
  command: string;
  delivered: boolean;
  hops: Hop[];
  /** Doctor's findings on the host of the first failed hop (problems first; warnings when it found no problem). */
  doctor?: { host: string; findings: Finding[] };
  /** Why a daemon said it stopped the packet. */
  stoppedBecause?: string;
}

/** A daemon's probe-result answer, or (kernel backends) a host's probe counters. */
export interface ProbeResult {
  /** Wall clock (ms) when the daemon armed the probe; `reached` counts from there. */
  armedAt?: number;
  reached?: Partial<Record<ProbeStage, number>>;
  stoppedBecause?: string;
  /** A kernel backend's host: packets each netfilter counter saw (src/watch/kernel-path.ts). */
  counted?: Partial<Record<KernelCounter, number>>;
}

/**
 * Marks each planned hop passed while its proof holds (a daemon's stage
 * reached, a host's counter above 0, the ping's reply), then the first
 * one not reached failed, the rest not reached. Times count from
 * `pingAt` (wall clock ms), so both daemons' stages share one axis;
 * counters carry no time.
 */
export function judgeHops(plan: PlannedHop[], near: ProbeResult, far: ProbeResult | undefined, delivered: boolean, pingAt?: number): Hop[] {
  let stopped = false;
  return plan.map(({ proof, ...hop }) => {
    let reached: boolean;
    let atMs: number | undefined;
    if (proof === 'delivered') {
      reached = delivered;
    } else {
      const result = proof.side === 'near' ? near : far;
      if ('counter' in proof) {
        reached = (result?.counted?.[proof.counter] ?? 0) > 0;
      } else {
        const since = result?.reached?.[proof.stage];
        reached = since !== undefined;
        if (since !== undefined) atMs = pingAt !== undefined && result?.armedAt !== undefined ? Math.max(0, result.armedAt + since - pingAt) : since;
      }
    }
    const status: HopStatus = stopped ? 'not-reached' : reached ? 'passed' : 'failed';
    if (!reached) stopped = true;
    return { ...hop, status, ...(atMs !== undefined ? { atMs } : {}) };
  });
}

/** The overlay's round trip: pod -> cni0 -> TUN -> daemon -> UDP -> daemon -> TUN -> cni0 -> pod, and the reply back. */
export function overlayPlan(src: { pod: string; host: string; device: string }, dst: { pod: string; host: string; device: string }): PlannedHop[] {
  const near = (stage: ProbeStage): HopProof => ({ side: 'near', stage });
  const far = (stage: ProbeStage): HopProof => ({ side: 'far', stage });
  return [
    { step: 'pod-to-tun', via: [src.pod, 'cni0', src.device], host: src.host, proof: near('tun-in') },
    { step: 'daemon-to-udp', via: [src.device, `${src.host} daemon`, 'UDP'], host: src.host, proof: near('sent') },
    { step: 'udp-to-daemon', via: ['UDP', `${dst.host} daemon`], host: dst.host, proof: far('from-network') },
    { step: 'daemon-to-tun', via: [`${dst.host} daemon`, dst.device], host: dst.host, proof: far('tun-out') },
    { step: 'tun-to-pod-and-back', via: [dst.device, 'cni0', dst.pod, 'cni0', dst.device], host: dst.host, proof: far('tun-in') },
    { step: 'reply-to-udp', via: [`${dst.host} daemon`, 'UDP'], host: dst.host, proof: far('sent') },
    { step: 'reply-udp-to-daemon', via: ['UDP', `${src.host} daemon`], host: src.host, proof: near('from-network') },
    { step: 'reply-daemon-to-tun', via: [`${src.host} daemon`, src.device], host: src.host, proof: near('tun-out') },
    { step: 'reply-tun-to-pod', via: [src.device, 'cni0', src.pod], host: src.host, proof: 'delivered' },
  ];
}

/** The relay's round trip (the tutorial's diagram): ping -> TUN -> relay -> network, and back. */
export function relayPlan(host: string, device: string, target: string): PlannedHop[] {
  const near = (stage: ProbeStage): HopProof => ({ side: 'near', stage });
  return [
    { step: 'ping-to-tun', via: ['ping', device], host, proof: near('tun-in') },
    { step: 'relay-to-network', via: [device, 'relay', 'raw socket'], host, proof: near('sent') },
    { step: 'network-to-relay', via: [target, 'relay'], host, proof: near('from-network') },
    { step: 'relay-to-tun', via: ['relay', device], host, proof: near('tun-out') },
    { step: 'tun-to-ping', via: [device, 'ping'], host, proof: 'delivered' },
  ];
}

/** A host's daemon of `mode` in the lab: its control socket, device and status, or undefined. */
async function daemonOf(host: LabNode, mode: 'overlay' | 'relay'): Promise<{ socket: string; device: string; status: DaemonStatus } | undefined> {
  for (const s of listControlSocketsIn(host.netns)) {
    const status = (await queryStatus(s.path, 1000).catch(() => undefined)) as DaemonStatus | undefined;
    if (status?.mode === mode) return { socket: s.path, device: status.device, status };
  }
  return undefined;
}

/** The kernel backend an overlay status names (with vxlan's port and its VTEP for the family), if it is one. */
function kernelBackendOf(status: DaemonStatus | undefined, ipv6: boolean): { backend: KernelProbeBackend; port: number; vtep?: string } | undefined {
  if (status?.mode !== 'overlay' || !status.kernel) return undefined;
  const vtep = status.kernel.type === 'vxlan' ? status.kernel.devices.find((d) => d.name.startsWith(ipv6 ? 'flannel-v6.' : 'flannel.'))?.name : undefined;
  return { backend: status.kernel.type, port: status.kernel.port ?? 0, ...(vtep ? { vtep } : {}) };
}

/** Runs nft in a lab host; throws with its message when it fails. */
async function nft(lab: Lab, host: string, args: string[]): Promise<string> {
  const r = await lab.run(host, 'nft', args, 10_000);
  if (r.code !== 0) throw new TunDriverError('TUN_ERR_USAGE', `nft ${args.join(' ')} in ${host}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/**
 * The probe through a kernel backend: a counting table in both hosts
 * (kernel-path.ts), one ping, the counters read, the tables removed.
 */
async function probeKernel(lab: Lab, ping1: () => Promise<{ delivered: boolean }>, id: number, ipv6: boolean, kernel: { backend: KernelProbeBackend; port: number }, src: { pod: string; host: string; device: string }, dst: { pod: string; host: string; device: string }): Promise<{ delivered: boolean; hops: Hop[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'tdlab-probe-'));
  const file = join(dir, 'probe.nft');
  writeFileSync(file, kernelProbeScript({ backend: kernel.backend, id, ipv6, port: kernel.port }));
  const table = kernelProbeTable(id);
  const installed: string[] = [];
  try {
    for (const host of [src.host, dst.host]) {
      await nft(lab, host, ['-f', file]);
      installed.push(host);
    }
    const { delivered } = await ping1();
    const counts = async (host: string): Promise<ProbeResult> => ({ counted: parseProbeCounters(await nft(lab, host, ['-j', 'list', 'counters', 'table', 'inet', table])) });
    const hops = judgeHops(kernelPlan(kernel.backend, kernel.port, src, dst), await counts(src.host), await counts(dst.host), delivered);
    return { delivered, hops };
  } finally {
    for (const host of installed) await lab.run(host, 'nft', ['delete', 'table', 'inet', table], 10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The node that has address `to` (a pod or a host), if the lab has one. */
function ownerOf(nodes: LabNode[], to: string): LabNode | undefined {
  const wanted = bareAddress(to);
  return nodes.find((n) => n.addresses.some((a) => bareAddress(a) === wanted));
}

/** Runs one ping in `node`: whether its reply came, and when (wall clock ms) it was started. */
async function ping(lab: Lab, node: string, args: string[]): Promise<{ delivered: boolean; at: number }> {
  const at = Date.now();
  const r = await lab.run(node, 'ping', args, 6000);
  return { delivered: r.code === 0 && / 1 received/.test(r.stdout), at };
}

/** Doctor's findings on `host`: problems, or warnings when there is none. */
async function doctorOn(lab: Lab, host: string): Promise<Finding[]> {
  const r = await lab.run(host, process.execPath, [CLI, 'doctor', '--json'], 20_000);
  let findings: Finding[];
  try {
    findings = JSON.parse(r.stdout) as Finding[];
  } catch {
    return [{ check: 'doctor', status: 'problem', evidence: `doctor on ${host} gave no answer: ${(r.stderr || r.stdout).trim().slice(0, 200)}` }];
  }
  const problems = findings.filter((f) => f.status === 'problem');
  return problems.length > 0 ? problems : findings.filter((f) => f.status === 'warning');
}

/**
 * Sends one probe from `from` (a pod, or a host running a relay) to the
 * address `to` (IPv4, or IPv6 from a pod) and reports each hop.
 * @throws TunDriverError `TUN_ERR_USAGE` for a source or target the lab cannot probe (the message says why).
 */
export async function probePath(labName: string, from: string, to: string): Promise<PathReport> {
  const lab = Lab.open(labName);
  if (parseIPv4(to) === undefined && parseIPv6(to) === undefined) throw new TunDriverError('TUN_ERR_USAGE', `probe target ${JSON.stringify(to)}: give an IPv4 or IPv6 address (a pod's or a host's)`);
  const source = lab.state.nodes.find((n) => n.name === from);
  if (!source || (source.kind !== 'pod' && source.kind !== 'host')) throw new TunDriverError('TUN_ERR_USAGE', `probe source ${JSON.stringify(from)}: not a pod or host of lab ${labName}`);
  const id = 20000 + Math.floor(Math.random() * 40000);
  const hostNode = (name: string): LabNode => lab.node(name);

  if (source.kind === 'host') {
    const relay = await daemonOf(source, 'relay');
    if (!relay) throw new TunDriverError('TUN_ERR_USAGE', `${from} runs no relay: probe from a pod, or start a relay there first`);
    await controlRequest(relay.socket, `probe ${id}`);
    const args = ['-c', '1', '-W', '2', '-e', String(id), '-I', relay.device, to];
    const { delivered, at } = await ping(lab, from, args);
    const near = (await controlRequest(relay.socket, 'probe-result')) as ProbeResult;
    return finish(lab, { from, to, kind: 'relay', command: `ping ${args.join(' ')}`, delivered, hops: judgeHops(relayPlan(from, relay.device, to), near, undefined, delivered, at), stoppedBecause: near.stoppedBecause });
  }

  if (source.addresses.length === 0) throw new TunDriverError('TUN_ERR_USAGE', `${from} has no address yet (add it: tun-driver lab pod add ${from})`);
  const args = ['-c', '1', '-W', '2', '-e', String(id), to];
  const command = `ping ${args.join(' ')}`;
  const srcHost = hostNode(source.host!);
  const target = ownerOf(lab.state.nodes, to);
  const dstHost = target?.kind === 'pod' ? hostNode(target.host!) : undefined;
  if (!target || !dstHost || dstHost.name === srcHost.name) {
    // Not across the overlay: to a pod of the same host (the bridge), or out of the pod network (the host routes it).
    const { delivered } = await ping(lab, from, args);
    const kind = dstHost ? 'local' : 'direct';
    const hop: Hop = { step: kind === 'local' ? 'bridge' : 'host-routes', via: [from, kind === 'local' ? 'cni0' : srcHost.name, target?.name ?? to], host: srcHost.name, status: delivered ? 'passed' : 'failed' };
    return finish(lab, { from, to, kind, command, delivered, hops: [hop] });
  }
  const near = await daemonOf(srcHost, 'overlay');
  const far = await daemonOf(dstHost, 'overlay');
  const ipv6 = parseIPv6(to) !== undefined;
  // A kernel backend carries without its agent: either host's status says which backend the cluster runs.
  const kernel = kernelBackendOf(near?.status, ipv6) ?? kernelBackendOf(far?.status, ipv6);
  if (kernel) {
    const vtep = (h: { status: DaemonStatus } | undefined): string => kernelBackendOf(h?.status, ipv6)?.vtep ?? kernel.vtep ?? (ipv6 ? 'flannel-v6.1' : 'flannel.1');
    const { delivered, hops } = await probeKernel(lab, () => ping(lab, from, args), id, ipv6, kernel, { pod: from, host: srcHost.name, device: vtep(near) }, { pod: target.name, host: dstHost.name, device: vtep(far) });
    return finish(lab, { from, to, kind: 'overlay', backend: kernel.backend, command, delivered, hops });
  }
  const nearDevice = near?.device ?? 'flannel0';
  const farDevice = far?.device ?? 'flannel0';
  if (near) await controlRequest(near.socket, `probe ${id}`);
  if (far) await controlRequest(far.socket, `probe ${id} far`);
  const { delivered, at } = await ping(lab, from, args);
  const nearResult = near ? ((await controlRequest(near.socket, 'probe-result')) as ProbeResult) : {};
  const farResult = far ? ((await controlRequest(far.socket, 'probe-result')) as ProbeResult) : {};
  const hops = judgeHops(overlayPlan({ pod: from, host: srcHost.name, device: nearDevice }, { pod: target.name, host: dstHost.name, device: farDevice }), nearResult, farResult, delivered, at);
  const notRunning = !near ? `${srcHost.name} runs no overlay daemon` : !far ? `${dstHost.name} runs no overlay daemon` : undefined;
  const backend = near?.status.mode === 'overlay' ? near.status.backend : undefined;
  return finish(lab, { from, to, kind: 'overlay', ...(backend ? { backend } : {}), command, delivered, hops, stoppedBecause: notRunning ?? nearResult.stoppedBecause ?? farResult.stoppedBecause });
}

/** Adds doctor's findings from the host of the first failed hop. */
async function finish(lab: Lab, report: PathReport): Promise<PathReport> {
  const failed = report.hops.find((h) => h.status === 'failed');
  if (failed) report.doctor = { host: failed.host, findings: await doctorOn(lab, failed.host) };
  return report;
}
