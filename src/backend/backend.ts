// The seam between the subnet manager and the ways a packet crosses nodes,
// after flannel's pkg/backend. Every backend is a `Backend`: the MTU it
// leaves for pods, how it follows the cluster's leases, its status (for
// `tun-driver status`, --metrics, doctor and `lab watch`) and close. The
// agent (src/cli/agent.ts) runs any of them the same way. What a node
// publishes in its lease (flannel's BackendType / BackendData /
// BackendV6Data) is known before the backend opens (the lease is taken
// first): publishedBackend() in ./publication.ts.
//
// Two kinds sit behind it:
// - user space (`udp`, `wireguard`): our TUN engine moves every packet
//   (./tun-engine.ts over src/overlay/overlay.ts, with ./udp/'s or
//   ./wireguard/'s transport);
// - kernel (`vxlan`, `host-gw`): a `KernelBackend` only programs the kernel
//   over rtnetlink (devices, neighbours, FDB entries, routes) and the
//   kernel moves the packets (./kernel-data-plane.ts makes it a Backend).
//   Their data plane outlives the agent: close() leaves it in place, a new
//   agent adopts it, teardown() removes it.
//
// Doctor's checks are not methods here: `tun-driver doctor` is its own
// process and reads a running agent's status over the control socket, so
// its checks go by the status's `backend` (src/doctor/kernel-backend.ts
// for vxlan and host-gw, the TUN checks of src/doctor/doctor.ts for udp
// and wireguard).
import type { PublishedBackend } from '../subnet/etcd/subnet-keys.js';
import type { BackendName } from '../subnet/etcd/network-config.js';
import type { Lease } from '../subnet/leases.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import type { EntryStatus, KernelBackendStatus, KernelPeerStatus, OverlayStatus } from '../control/daemon-status.js';
import type { MetricsSource } from '../metrics/metrics.js';
import type { Probeable } from '../control/probe.js';
import type { LogLine } from '../log.js';

export type { PublishedBackend, EntryStatus, KernelBackendStatus, KernelPeerStatus };

/** The backends tun-driver carries, by flannel's Backend.Type names. */
export type BackendType = BackendName;
export type KernelBackendType = Extract<BackendType, 'vxlan' | 'host-gw'>;

export const isKernelBackend = (t: string): t is KernelBackendType => t === 'vxlan' || t === 'host-gw';

/** What applying a set of leases did. */
export interface AppliedLeases {
  /** Leases whose entries were programmed now (new or changed). */
  added: number;
  /** Leases whose entries were taken out (gone or changed). */
  removed: number;
  /** Leases left out, each with why (another backend's record, no VtepMAC, off-link for host-gw, ...): logged and counted. */
  skipped: string[];
}

/**
 * A backend that programs the kernel. The agent (through
 * ./kernel-data-plane.ts) hands it the whole lease set on every change; it computes what the
 * kernel should hold and changes only the difference.
 */
export interface KernelBackend {
  readonly type: KernelBackendType;
  /** The name the daemon goes by (control socket, status): its device, or "host-gw". */
  readonly name: string;
  /** The MTU pods get (subnet.env FLANNEL_MTU). */
  readonly podMtu: number;
  /** This node's record (flannel's JSON). */
  publication(): PublishedBackend;
  /**
   * Brings the kernel to these leases (this node's own is skipped by the
   * caller). `delta`, when given, is exactly how they differ from the last
   * set: only its leases are planned. Never throws for one bad lease: it is skipped.
   */
  setLeases(leases: readonly Lease[], delta?: LeaseDelta): AppliedLeases;
  status(): KernelBackendStatus;
  /** Stops; the kernel state stays (pods keep talking). */
  close(): void;
  /** Removes every device, neighbour, FDB entry and route this backend made. */
  teardown(): void;
}

/** What one lease change did to a backend's peers, for the agent's log. */
export interface LeaseChange {
  added: number;
  removed: number;
  /** Leases left out, each with why: logged as warnings. */
  skipped: readonly string[];
  /** The change for people, e.g. "2 peer(s): 10.244.2.0/24 at 198.51.100.2:8285, ...". */
  text: string;
}

/** The part of an overlay's status that depends on its backend; the agent adds the node's own facts. */
export type BackendStatus = Pick<OverlayStatus, 'backend' | 'kernel' | 'offloads' | 'ioWait' | 'publicKey' | 'counters' | 'peers' | 'port'>;

/** What a backend gives --metrics (the agent adds the daemon kind and its lease events). */
export type BackendMetrics = Required<Omit<MetricsSource, 'daemon' | 'leaseEvents' | 'ioWait'>> & Pick<MetricsSource, 'ioWait'>;

/**
 * One of flannel's backends, open: the agent hands it every lease change
 * and asks it for status. Made by the backend's own open function, which
 * undoes what it made if it fails.
 */
export interface Backend extends BackendMetrics {
  readonly type: BackendType;
  /** The name the daemon goes by (control socket, status `device`): its TUN, its VTEP, or "host-gw". */
  readonly name: string;
  /** The MTU pods get (subnet.env FLANNEL_MTU). */
  readonly podMtu: number;
  /** doctor's live probe arms the packet engine through this (a kernel backend has no engine: nothing reads the slot). */
  readonly probeTarget: Probeable;
  /** Follows the cluster's leases (the caller leaves this node's own out). Never throws for one bad lease: it is skipped. */
  setLeases(leases: readonly Lease[], delta?: LeaseDelta): LeaseChange;
  /** Starts moving packets (user space; a kernel backend's kernel already does). `fail` stops the daemon. */
  start(fail: (err: Error) => void): void;
  status(): BackendStatus;
  /** Once a second: the rates status shows. */
  sample(): void;
  /** The counters, on SIGUSR1 and at exit. */
  report(): LogLine;
  /** The "overlay up: ..." line's body; `extras` (e.g. " ip-masq") goes after the device. */
  describe(extras: string): LogLine;
  /** SIGHUP: re-read what may change (WireGuard's key). Must not throw. */
  reload?(): void;
  /** Stops. A user-space backend removes its TUN and sockets; a kernel backend leaves the kernel's entries (or removes them when told to at open). */
  close(): void;
}
