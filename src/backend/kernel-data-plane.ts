// A kernel backend (vxlan, host-gw) as the agent runs it: the kernel moves
// the packets, so this only turns the backend's entries and its devices'
// counters into the status, metrics and log lines every backend gives.
// The kernel counts per device, not per peer: the node's counters and
// rates are its devices' (sent = transmitted, delivered = received), and
// `kernel` lists every entry that carries traffic to each peer. A peer's
// own counters are 0 unless the agent keeps peer counters
// (--peer-counters, ./peer-counters.ts: an nftables set element per peer
// subnet, read once a second).
import type { Probeable } from '../control/probe.js';
import { RateMeter } from '../control/rates.js';
import type { LogLine } from '../log.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { Lease } from '../subnet/leases.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import type { Backend, BackendStatus, KernelBackend, LeaseChange } from './backend.js';
import type { PeerCounters, PeerTraffic } from './peer-counters.js';

export interface KernelDataPlaneOptions {
  /** close() removes every entry and device instead of leaving them to the next agent (--remove-on-exit). */
  removeOnExit: boolean;
  /** Said on the ready line after the VNI and port (e.g. " direct-routing"). */
  note?: string;
  /** This node's subnets, as the ready line names them. */
  ownSubnets: string;
  log: (line: string) => void;
  /** The backend's netlink socket: closed with it. */
  nl: NetlinkSocket;
  /** Counts each peer's traffic (--peer-counters); closed with it. */
  peerCounters?: Pick<PeerCounters, 'follow' | 'read' | 'close'>;
}

const NO_TRAFFIC: PeerTraffic = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };

export class KernelDataPlane implements Backend {
  readonly probeTarget: Probeable = {};
  private readonly rates = new RateMeter();
  /** Every lease skip logged since start (status counts only the leases left out now). */
  private skipsLogged = 0;
  /** The peer counters as last read, by subnet text. */
  private peerTraffic = new Map<string, PeerTraffic>();

  constructor(private readonly kernel: KernelBackend, private readonly o: KernelDataPlaneOptions) {}

  get type(): KernelBackend['type'] {
    return this.kernel.type;
  }

  get name(): string {
    return this.kernel.name;
  }

  get podMtu(): number {
    return this.kernel.podMtu;
  }

  setLeases(leases: readonly Lease[], delta?: LeaseDelta): LeaseChange {
    const r = this.kernel.setLeases(leases, delta);
    this.skipsLogged += r.skipped.length;
    const { peers } = this.kernel.status();
    if (this.o.peerCounters && (r.added || r.removed)) {
      const failed = this.o.peerCounters.follow(peers);
      if (failed) this.o.log(`${failed}; peer counters may miss a peer until the next lease change`);
    }
    return { ...r, text: `${r.added} peer(s) programmed, ${r.removed} removed; ${peers.length} in all` };
  }

  /** The kernel already carries: nothing to start. */
  start(): void {}

  /** `now`: wall-clock ms (tests pass their own). */
  sample(now = Date.now()): void {
    for (const d of this.kernel.status().devices) this.rates.sample(d.name, [d.txPackets, d.txBytes, d.rxPackets, d.rxBytes], now);
    if (!this.o.peerCounters) return;
    this.peerTraffic = this.o.peerCounters.read();
    for (const [subnet, t] of this.peerTraffic) this.rates.sample(`peer ${subnet}`, [t.txPackets, t.txBytes, t.rxPackets, t.rxBytes], now);
  }

  status(): BackendStatus {
    const k = this.kernel.status();
    let sent = 0;
    let delivered = 0;
    let rxDropped = 0;
    let txDropped = 0;
    for (const d of k.devices) {
      const [txPps = 0, txBps = 0, rxPps = 0, rxBps = 0] = this.rates.rates.get(d.name) ?? [];
      d.rates = { txPacketsPerSecond: txPps, txBytesPerSecond: txBps, rxPacketsPerSecond: rxPps, rxBytesPerSecond: rxBps };
      sent += d.txPackets;
      delivered += d.rxPackets;
      rxDropped += d.rxDropped;
      txDropped += d.txDropped;
    }
    const port = k.port ?? 0;
    return {
      backend: this.type,
      kernel: { ...k, peerCounters: this.o.peerCounters !== undefined },
      port,
      counters: { sent, delivered, errorsGenerated: 0, fragmented: 0, dropped: { ...(rxDropped ? { 'device-rx-dropped': rxDropped } : {}), ...(txDropped ? { 'device-tx-dropped': txDropped } : {}) } },
      peers: k.peers.map((p) => {
        const t = this.trafficOf(p);
        return { subnet: p.subnet, ...(p.subnet6 ? { subnet6: p.subnet6 } : {}), publicIp: p.publicIp, port, ...t.counts, ...t.rates };
      }),
    };
  }

  /** A peer's counters and rates: its subnets' (both families of a dual-stack peer) summed; zeros without peer counters. */
  private trafficOf(p: { subnet: string; subnet6?: string }): { counts: PeerTraffic; rates: { txPacketsPerSecond: number; txBytesPerSecond: number; rxPacketsPerSecond: number; rxBytesPerSecond: number } } {
    const counts = { ...NO_TRAFFIC };
    const r = [0, 0, 0, 0];
    for (const subnet of new Set([p.subnet, p.subnet6 ?? p.subnet])) {
      const t = this.peerTraffic.get(subnet) ?? NO_TRAFFIC;
      counts.txPackets += t.txPackets;
      counts.txBytes += t.txBytes;
      counts.rxPackets += t.rxPackets;
      counts.rxBytes += t.rxBytes;
      (this.rates.rates.get(`peer ${subnet}`) ?? []).forEach((v, i) => (r[i] += v));
    }
    return { counts, rates: { txPacketsPerSecond: r[0], txBytesPerSecond: r[1], rxPacketsPerSecond: r[2], rxBytesPerSecond: r[3] } };
  }

  traffic(): ReturnType<Backend['traffic']> {
    const d = this.kernel.status().devices[0];
    return { tunToNet: { packets: d?.txPackets ?? 0, bytes: d?.txBytes ?? 0 }, netToTun: { packets: d?.rxPackets ?? 0, bytes: d?.rxBytes ?? 0 } };
  }

  drops(): Record<string, number> {
    return this.kernel.status().skipped;
  }

  active(): number {
    return this.kernel.status().peers.length;
  }

  peers(): ReturnType<Backend['peers']> {
    return this.kernel.status().peers.map((p) => ({ subnet: p.subnet, ...this.trafficOf(p).counts }));
  }

  report(): LogLine {
    const s = this.kernel.status();
    const devices = s.devices.map((d) => `${d.name} rx ${d.rxPackets} tx ${d.txPackets} dropped ${d.rxDropped}/${d.txDropped}`).join('; ');
    const leftOut = Object.values(s.skipped).reduce((a, b) => a + b, 0);
    return { text: `${s.peers.length} peer(s), ${leftOut} lease(s) left out now, ${this.skipsLogged} skip(s) logged; ${devices}`, fields: { peers: s.peers.length, skipped: s.skipped, devices: s.devices } };
  }

  describe(extras: string): LogLine {
    const s = this.kernel.status();
    const devices = s.devices.map((d) => `${d.name} mtu ${d.mtu}${d.mac ? ` ${d.mac}` : ''}`).join(', ');
    const vx = s.vni !== undefined ? ` vni ${s.vni} port ${s.port}${this.o.note ?? ''}` : '';
    return {
      text: `backend ${this.type}${vx} on ${devices}, ${this.o.ownSubnets}, pods mtu ${this.podMtu}${extras}, ${s.peers.length} peer(s) (adopted ${s.adopted.kept} entries, removed ${s.adopted.removed} stale)`,
      fields: { backend: this.type, device: this.name, mtu: this.podMtu, peers: s.peers.length },
    };
  }

  close(): void {
    try {
      this.o.peerCounters?.close();
    } catch (err) {
      this.o.log((err as Error).message);
    }
    if (!this.o.removeOnExit) {
      this.kernel.close();
    } else {
      this.kernel.teardown();
      this.o.log(`--remove-on-exit: removed ${this.type}'s devices, neighbours, FDB entries and routes`);
    }
    this.o.nl.close();
  }
}
