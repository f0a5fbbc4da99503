// A kernel backend (vxlan, host-gw) as the agent runs it: the kernel moves
// the packets, so this only turns the backend's entries and its devices'
// counters into the status, metrics and log lines every backend gives.
// The kernel counts per device, not per peer: the node's counters and
// rates are its devices' (sent = transmitted, delivered = received), each
// peer's are 0, and `kernel` lists every entry that carries traffic to it.
import type { Probeable } from '../control/probe.js';
import type { KernelBackendStatus } from '../control/daemon-status.js';
import { RateMeter } from '../control/rates.js';
import type { LogLine } from '../log.js';
import type { NetlinkSocket } from '../netlink/socket.js';
import type { Lease } from '../subnet/leases.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import type { Backend, BackendStatus, KernelBackend, LeaseChange } from './backend.js';

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
}

export class KernelDataPlane implements Backend {
  readonly probeTarget: Probeable = {};
  private readonly rates = new RateMeter();
  /** Every lease skip logged since start (status counts only the leases left out now). */
  private skipsLogged = 0;

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

  /** The kernel's own view, for callers that want the entries themselves. */
  kernelStatus(): KernelBackendStatus {
    return this.kernel.status();
  }

  setLeases(leases: readonly Lease[], delta?: LeaseDelta): LeaseChange {
    const r = this.kernel.setLeases(leases, delta);
    this.skipsLogged += r.skipped.length;
    return { ...r, text: `${r.added} peer(s) programmed, ${r.removed} removed; ${this.kernel.status().peers.length} in all` };
  }

  /** The kernel already carries: nothing to start. */
  start(): void {}

  /** `now`: wall-clock ms (tests pass their own). */
  sample(now = Date.now()): void {
    for (const d of this.kernel.status().devices) this.rates.sample(d.name, [d.txPackets, d.txBytes, d.rxPackets, d.rxBytes], now);
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
      kernel: k,
      port,
      counters: { sent, delivered, errorsGenerated: 0, fragmented: 0, dropped: { ...(rxDropped ? { 'device-rx-dropped': rxDropped } : {}), ...(txDropped ? { 'device-tx-dropped': txDropped } : {}) } },
      peers: k.peers.map((p) => ({
        subnet: p.subnet, ...(p.subnet6 ? { subnet6: p.subnet6 } : {}), publicIp: p.publicIp, port,
        txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, txPacketsPerSecond: 0, txBytesPerSecond: 0, rxPacketsPerSecond: 0, rxBytesPerSecond: 0,
      })),
    };
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
    return this.kernel.status().peers.map((p) => ({ subnet: p.subnet, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 }));
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
    if (!this.o.removeOnExit) {
      this.kernel.close();
    } else {
      this.kernel.teardown();
      this.o.log(`--remove-on-exit: removed ${this.type}'s devices, neighbours, FDB entries and routes`);
    }
    this.o.nl.close();
  }
}
