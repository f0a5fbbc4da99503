// The seam between the subnet manager and the ways a packet crosses nodes,
// after flannel's pkg/backend. A backend says what this node publishes in
// its lease (flannel's BackendType / BackendData / BackendV6Data), the MTU
// it leaves for pods, and how the node follows the cluster's leases.
//
// Two kinds sit behind it:
// - user space (`udp`, `wireguard`): our TUN engine moves every packet
//   (src/overlay/overlay.ts);
// - kernel (`vxlan`, `host-gw`): the backend only programs the kernel over
//   rtnetlink (devices, neighbours, FDB entries, routes) and the kernel
//   moves the packets. Their data plane outlives the agent: close() leaves
//   it in place, a new agent adopts it, teardown() removes it.
import type { PublishedBackend } from '../subnet/etcd/subnet-keys.js';
import type { BackendName } from '../subnet/etcd/network-config.js';
import type { Lease } from '../subnet/leases.js';
import type { EntryStatus, KernelBackendStatus, KernelPeerStatus } from '../control/daemon-status.js';

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
 * A backend that programs the kernel. The agent (src/cli/kernel-agent.ts)
 * hands it the whole lease set on every change; it computes what the
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
  /** Brings the kernel to these leases (this node's own is skipped by the caller). Never throws for one bad lease: it is skipped. */
  setLeases(leases: readonly Lease[]): AppliedLeases;
  status(): KernelBackendStatus;
  /** Stops; the kernel state stays (pods keep talking). */
  close(): void;
  /** Removes every device, neighbour, FDB entry and route this backend made. */
  teardown(): void;
}
