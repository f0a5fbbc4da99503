// What `lab watch` serves at /cluster.json: the lab's hosts with their
// pods and daemons, and the tunnels between them with their rates each
// way. Built by one pure function from what was read (the lab's state,
// each daemon's status, etcd's subnet leases), so the page, its tests and
// a synthetic 50-node feed all share one shape.
import type { DaemonStatus, OverlayStatus, PeerStatus, RelayStatus } from '../control/daemon-status.js';
import type { LabState } from '../lab/state.js';
import { formatIPv6, parseIPv6 } from '../packet/addr6.js';

/** A pod as the map draws it. */
export interface PodView {
  name: string;
  /** With prefix length, as the CNI plugin gave them; empty until the pod is added. */
  addresses: string[];
}

/** Traffic one way: packets and bits per second over the last second. */
export interface Rate {
  pps: number;
  bps: number;
}

/** One daemon on a host, reduced to what the page shows. */
export interface DaemonView {
  mode: 'relay' | 'overlay';
  device: string;
  pid: number;
  uptimeSeconds: number;
  /** What the daemon sent out of the node (overlay: to peers; relay: requests) and took in. */
  tx: Rate;
  rx: Rate;
  /** Drops by reason, cumulative, and per second over the last sample. */
  dropped: Record<string, number>;
  dropsPerSecond: Record<string, number>;
  /** Overlay: the node's subnet(s) and public key; relay: the pingers' subnet. */
  subnet: string;
  subnet6?: string;
  publicKey?: string;
  /** Relay: flows it tracks. */
  flows?: number;
  /** Overlay: flannel's backend it runs (udp, wireguard, vxlan, host-gw); absent from daemons older than backends. */
  backend?: string;
}

/** Whether a node's daemons answer: up, down (one answered before, or a stale socket, and none answers now), or none ever seen. */
export type NodeState = 'up' | 'down' | 'none';

/** A host of the lab. */
export interface NodeView {
  name: string;
  netns: string;
  /** Its underlay addresses, with prefix length. */
  addresses: string[];
  /** Its pod subnet: from its overlay daemon, else its etcd lease. */
  subnet?: string;
  subnet6?: string;
  state: NodeState;
  /** Why a daemon counts as down (no answer, stale socket). */
  problem?: string;
  daemons: DaemonView[];
  pods: PodView[];
}

/** The state of a tunnel: carrying, a side without a WireGuard handshake, or a side whose daemon is not up. */
export type TunnelState = 'ok' | 'no-handshake' | 'down';

/** The overlay link between two hosts, with each direction's rate as the sender counts it. */
export interface TunnelView {
  /** "host-1~host-2": `a` is the first of the two in the lab's order. */
  id: string;
  a: string;
  b: string;
  aToB: Rate;
  bToA: Rate;
  state: TunnelState;
  /** What is wrong, for the page's tooltip. */
  problem?: string;
}

export interface ClusterSnapshot {
  lab: string;
  /** Wall clock, ms since the epoch. */
  at: number;
  /** Present when the lab runs etcd: how many subnet leases it holds (and why reading them failed). */
  etcd?: { leases: number; error?: string };
  nodes: NodeView[];
  tunnels: TunnelView[];
}

/** One daemon as read from its control socket, or the reason it did not answer. */
export type DaemonReading = { status: DaemonStatus; dropsPerSecond: Record<string, number>; bytesPerSecond?: { tx: number; rx: number } } | { device: string; error: string };

/** What the reader gathered about one host. */
export interface HostReading {
  daemons: DaemonReading[];
  /** Whether a daemon of this host answered in an earlier sample (then no answer now means down). */
  answeredBefore: boolean;
}

/** A subnet lease from etcd, reduced to who holds what. */
export interface EtcdLeaseView {
  /** Absent on an IPv6-only network. */
  subnet?: string;
  subnet6?: string;
  publicIp: string;
}

const ZERO: Rate = { pps: 0, bps: 0 };
/** An address without its prefix length, IPv6 in its canonical text (so "fd00:0:0::1" matches "fd00::1"). */
export function bareAddress(cidr: string): string {
  const address = cidr.split('/')[0];
  const v6 = address.includes(':') ? parseIPv6(address) : undefined;
  return v6 ? formatIPv6(v6) : address;
}

function daemonView(status: DaemonStatus, dropsPerSecond: Record<string, number>, bytesPerSecond = { tx: 0, rx: 0 }): DaemonView {
  const base = { device: status.device, pid: status.pid, uptimeSeconds: status.uptimeSeconds, dropped: status.counters.dropped, dropsPerSecond };
  if (status.mode === 'overlay') {
    const sum = (key: keyof PeerStatus): number => status.peers.reduce((n, p) => n + ((p[key] as number) || 0), 0);
    // A kernel backend without peer counters (--peer-counters) has the kernel's per-device counts only: the node's rates are
    // its VTEPs' (host-gw has no device of its own to count: 0). With them, the sum of its peers', as for the user-space backends.
    const vteps = status.kernel?.type === 'vxlan' ? status.kernel.devices : [];
    const dev = (key: 'txPacketsPerSecond' | 'txBytesPerSecond' | 'rxPacketsPerSecond' | 'rxBytesPerSecond'): number => vteps.reduce((n, d) => n + (d.rates?.[key] ?? 0), 0);
    const kernel = status.kernel !== undefined && !status.kernel.peerCounters;
    return {
      ...base,
      mode: 'overlay',
      ...(status.backend ? { backend: status.backend } : {}),
      tx: kernel ? { pps: dev('txPacketsPerSecond'), bps: dev('txBytesPerSecond') * 8 } : { pps: sum('txPacketsPerSecond'), bps: sum('txBytesPerSecond') * 8 },
      rx: kernel ? { pps: dev('rxPacketsPerSecond'), bps: dev('rxBytesPerSecond') * 8 } : { pps: sum('rxPacketsPerSecond'), bps: sum('rxBytesPerSecond') * 8 },
      subnet: status.subnet,
      subnet6: status.subnet6,
      publicKey: status.publicKey,
    };
  }
  const relay = status as RelayStatus & { mode: 'relay' };
  // The relay's packet rates are its own; its byte rates come from the reader (two readings of its byte counters).
  return { ...base, mode: 'relay', tx: { pps: relay.rates.requestsPerSecond, bps: bytesPerSecond.tx * 8 }, rx: { pps: relay.rates.repliesPerSecond, bps: bytesPerSecond.rx * 8 }, subnet: relay.subnet, flows: relay.flowCount };
}

function peerRate(peer: PeerStatus | undefined, way: 'tx' | 'rx'): Rate {
  if (!peer) return ZERO;
  return way === 'tx' ? { pps: peer.txPacketsPerSecond, bps: peer.txBytesPerSecond * 8 } : { pps: peer.rxPacketsPerSecond, bps: peer.rxBytesPerSecond * 8 };
}

/** Why one side of a tunnel does not carry: its peer is refused, or (WireGuard) has never completed a handshake. */
function peerProblem(peer: PeerStatus | undefined): string | undefined {
  if (!peer) return undefined;
  if (peer.security?.startsWith('refused')) return peer.security;
  if (peer.wireguard && peer.wireguard.latestHandshake === null) return 'no WireGuard handshake yet';
  return undefined;
}

/**
 * Builds the snapshot. `readings` has an entry per host that the reader
 * looked at; `leases` (etcd labs) fills in the subnet of a host whose
 * daemon is not up.
 */
export function buildSnapshot(state: LabState, readings: Map<string, HostReading>, leases: EtcdLeaseView[] | { error: string } | undefined, at = Date.now()): ClusterSnapshot {
  const hosts = state.nodes.filter((n) => n.kind === 'host');
  const overlays = new Map<string, OverlayStatus>();
  const nodes: NodeView[] = hosts.map((h) => {
    const reading = readings.get(h.name) ?? { daemons: [], answeredBefore: false };
    const daemons: DaemonView[] = [];
    const problems: string[] = [];
    for (const r of reading.daemons) {
      if ('error' in r) {
        problems.push(`${r.device}: ${r.error}`);
        continue;
      }
      daemons.push(daemonView(r.status, r.dropsPerSecond, r.bytesPerSecond));
      if (r.status.mode === 'overlay') overlays.set(h.name, r.status);
    }
    const ownAddresses = new Set(h.addresses.map(bareAddress));
    const lease = Array.isArray(leases) ? leases.find((l) => ownAddresses.has(l.publicIp)) : undefined;
    const overlay = overlays.get(h.name);
    const nodeState: NodeState = daemons.length > 0 ? 'up' : problems.length > 0 || reading.answeredBefore ? 'down' : 'none';
    return {
      name: h.name,
      netns: h.netns,
      addresses: h.addresses,
      subnet: overlay?.subnet ?? lease?.subnet,
      // An IPv6-only node's status names its IPv6 subnet in both fields: shown once.
      subnet6: (overlay && overlay.subnet6 !== overlay.subnet ? overlay.subnet6 : undefined) ?? (overlay ? undefined : lease?.subnet6),
      state: nodeState,
      problem: nodeState === 'down' ? problems.join('; ') || 'its daemon stopped answering' : undefined,
      daemons,
      pods: state.nodes.filter((n) => n.kind === 'pod' && n.host === h.name).map((n) => ({ name: n.name, addresses: n.addresses })),
    };
  });
  const etcd = leases === undefined ? undefined : Array.isArray(leases) ? { leases: leases.length } : { leases: 0, error: leases.error };
  return { lab: state.name, at, etcd, nodes, tunnels: tunnelsBetween(nodes, overlays) };
}

/** A's entry for B among A's overlay peers: the one whose underlay address is one of B's. */
function peerFor(from: OverlayStatus | undefined, to: NodeView): PeerStatus | undefined {
  if (!from) return undefined;
  const addresses = new Set(to.addresses.map(bareAddress));
  return from.peers.find((p) => addresses.has(p.publicIp));
}

/**
 * A tunnel for every pair of hosts where either side's overlay lists the
 * other as a peer. Each direction's rate is the sender's count (what it
 * put on the wire), or the receiver's when the sender does not answer.
 */
function tunnelsBetween(nodes: NodeView[], overlays: Map<string, OverlayStatus>): TunnelView[] {
  const tunnels: TunnelView[] = [];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = nodes[i];
      const b = nodes[j];
      const ab = peerFor(overlays.get(a.name), b);
      const ba = peerFor(overlays.get(b.name), a);
      if (!ab && !ba) continue;
      const down = [a, b].filter((n) => n.state !== 'up').map((n) => `${n.name}'s daemon is ${n.state === 'down' ? 'down' : 'not running'}`);
      const problems = [...down, ...[[a, ab], [b, ba]].flatMap(([n, p]) => {
        const why = peerProblem(p as PeerStatus | undefined);
        return why ? [`${(n as NodeView).name}: ${why}`] : [];
      })];
      const state: TunnelState = down.length > 0 ? 'down' : problems.length > 0 ? 'no-handshake' : 'ok';
      tunnels.push({
        id: `${a.name}~${b.name}`,
        a: a.name,
        b: b.name,
        aToB: ab ? peerRate(ab, 'tx') : peerRate(ba, 'rx'),
        bToA: ba ? peerRate(ba, 'tx') : peerRate(ab, 'rx'),
        state,
        problem: problems.join('; ') || undefined,
      });
    }
  }
  return tunnels;
}

/**
 * The numbers the page charts, one sample per snapshot: per node
 * (node:NAME:tx.pps, ...:drop:REASON) and per tunnel (tunnel:ID:ab.bps, ...).
 */
export function snapshotSeries(s: ClusterSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of s.nodes) {
    if (n.state !== 'up') continue;
    const put = (way: 'tx' | 'rx', r: Rate): void => {
      out[`node:${n.name}:${way}.pps`] = (out[`node:${n.name}:${way}.pps`] ?? 0) + r.pps;
      out[`node:${n.name}:${way}.bps`] = (out[`node:${n.name}:${way}.bps`] ?? 0) + r.bps;
    };
    for (const d of n.daemons) {
      put('tx', d.tx);
      put('rx', d.rx);
      for (const [reason, perSecond] of Object.entries(d.dropsPerSecond)) out[`node:${n.name}:drop:${reason}`] = (out[`node:${n.name}:drop:${reason}`] ?? 0) + perSecond;
    }
  }
  for (const t of s.tunnels) {
    out[`tunnel:${t.id}:ab.pps`] = t.aToB.pps;
    out[`tunnel:${t.id}:ab.bps`] = t.aToB.bps;
    out[`tunnel:${t.id}:ba.pps`] = t.bToA.pps;
    out[`tunnel:${t.id}:ba.bps`] = t.bToA.bps;
  }
  return out;
}
