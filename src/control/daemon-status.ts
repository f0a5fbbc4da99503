// What a daemon answers to `tun-driver status` (and the live page, and
// doctor): one typed shape per engine, shared by the daemons that build it
// and the commands that read it, instead of a record each side picks apart.
import type { OffloadCounters } from '../tun/linux-tun.js';

/** Who answers and since when (added to every status by daemonStatus()). */
export interface DaemonInfo {
  pid: number;
  device: string;
  startedAt: string;
  uptimeSeconds: number;
}

/** The relay's counters in `status --json`. */
export interface RelayCountersJson {
  requests: number;
  requestBytes: number;
  replies: number;
  replyBytes: number;
  errorsRelayed: number;
  errorsGenerated: number;
  fragmentsIn: number;
  reassembled: number;
  repliesFragmented: number;
  ignored: number;
  ownCopies: number;
  /** Drops by reason. */
  dropped: Record<string, number>;
}

/** One pinger flow in a relay's status (the 50 busiest are listed). */
export interface RelayFlowStatus {
  src: string;
  dst: string;
  id: number;
  outId: number;
  requests: number;
  replies: number;
  errors: number;
  idleSeconds: number;
}

/** How a daemon's data plane waits for packets (--io-wait): its PollLoop's mode and counters, or plain libuv. */
export type IoWaitStatus = import('../io/poll-loop.js').PollLoopStats | { mode: 'libuv' };

/** What a relay answers to `tun-driver status`. */
export interface RelayStatus {
  mode: 'relay';
  /** How its data plane waits (--io-wait). */
  ioWait?: IoWaitStatus;
  subnet: string;
  counters: RelayCountersJson;
  rates: { requestsPerSecond: number; repliesPerSecond: number };
  flowCount: number;
  /** The busiest flows, at most 50. */
  flows: RelayFlowStatus[];
  /** The IPv6 relay beside the IPv4 one (a relay with only an IPv6 address reports it in the fields above instead). */
  ipv6?: Omit<RelayStatus, 'mode' | 'ioWait' | 'ipv6'>;
}

/** One peer's traffic counters. */
export interface PeerCountersJson {
  /** Its IPv4 subnet; on an IPv6-only cluster its IPv6 one (then subnet6 says the same). */
  subnet: string;
  /** Its IPv6 subnet, on a dual-stack or IPv6-only cluster. */
  subnet6?: string;
  publicIp: string;
  port: number;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

/** The overlay's counters in `status --json`. */
export interface OverlayCountersJson {
  sent: number;
  delivered: number;
  errorsGenerated: number;
  fragmented: number;
  /** With --private-key: WireGuard messages handled by the transport itself (handshakes, cookie replies, keepalives). */
  wireguardConsumed?: number;
  dropped: Record<string, number>;
}

/** How a node with a key talks to a peer: sealed, plaintext (--allow-plaintext-peers), or not at all. */
export type PeerSecurity = 'wireguard' | 'plaintext' | 'refused: no key' | 'refused: bad key';

/** A WireGuard peer as `wg show` describes it. */
export interface WireGuardPeerStatus {
  publicKey: string;
  /** Wall-clock ISO time of the last completed handshake, or null for none. */
  latestHandshake: string | null;
  /** Seconds since then, or null. */
  latestHandshakeAgeSeconds: number | null;
  /** Bytes of WireGuard messages (handshakes included) sent to and received from the peer. */
  transferTx: number;
  transferRx: number;
  /** Age in seconds of the keypair that seals now, or null while there is none. */
  keypairAgeSeconds: number | null;
  /** Initiations this node sent it, and retries of the attempt under way. */
  initiationsSent: number;
  handshakeAttempts: number;
  /** Seconds since the first initiation of the attempt under way went out unanswered, or null when none is. */
  unansweredSeconds: number | null;
}

/** One peer in an overlay's status: its counters and rates (per second, over the last second). */
export interface PeerStatus extends PeerCountersJson {
  /** Present when this node has a key (--private-key). */
  security?: PeerSecurity;
  /** With --private-key: the peer's WireGuard state. */
  wireguard?: WireGuardPeerStatus;
  txPacketsPerSecond: number;
  txBytesPerSecond: number;
  rxPacketsPerSecond: number;
  rxBytesPerSecond: number;
}

/** Where the leases come from: the leases file, or etcd. */
export type LeaseSourceStatus =
  | { source: string }
  | { source: 'etcd'; endpoints: string[]; key: string; leaseId: string; leaseTtlSeconds: number; lastRenewal: string; renewalFailing: boolean };

/** One kernel entry a backend keeps for a peer, as `ip`/`bridge` would list it. */
export interface EntryStatus {
  kind: 'neigh' | 'fdb' | 'route';
  /** The entry in `ip`/`bridge` syntax, e.g. "10.244.2.0 lladdr 0e:4c:c6:33:64:02 dev flannel.1 nud permanent". */
  text: string;
}

/** A peer of a kernel backend and the entries that carry traffic to it. */
export interface KernelPeerStatus {
  subnet: string;
  subnet6?: string;
  publicIp: string;
  publicIpv6?: string;
  /** "vxlan" or "direct" (DirectRouting: a plain route via the peer's public IP), "host-gw". */
  via: string;
  entries: EntryStatus[];
}

/** What `tun-driver status` shows of a kernel backend. */
export interface KernelBackendStatus {
  type: 'vxlan' | 'host-gw';
  /** The devices it owns (flannel.1, flannel-v6.1), or the underlay it routes on (host-gw). */
  devices: Array<{ name: string; index: number; mtu: number; mac?: string; up: boolean; rxPackets: number; txPackets: number; rxBytes: number; txBytes: number; rxDropped: number; txDropped: number; rates?: { txPacketsPerSecond: number; txBytesPerSecond: number; rxPacketsPerSecond: number; rxBytesPerSecond: number } }>;
  vni?: number;
  port?: number;
  vtepMac?: string;
  peers: KernelPeerStatus[];
  /** Leases left out now (another backend's record, no VtepMAC, off-link), counted by reason. */
  skipped: Record<string, number>;
  /** What start found and did with the kernel state of a previous run. */
  adopted: { kept: number; removed: number };
  /** Whether the agent counts each peer's traffic (--peer-counters); without, the peers' counters are 0. */
  peerCounters?: boolean;
}

/** The offload edges: what was negotiated, and what the TUN edge has done (its counters). */
export interface OffloadStatus extends OffloadCounters {
  /** What the TUN negotiated ("csum tso4 uso4 uso6", or "off"). */
  tun: string;
  udpGso: boolean;
  udpGro: boolean;
  /** Packets the kernel dropped on the TUN's transmit queue. */
  tunTxDropped: number;
}

/** What an overlay node answers to `tun-driver status`. */
export interface OverlayStatus {
  mode: 'overlay';
  /** How its data plane waits (--io-wait). */
  ioWait?: IoWaitStatus;
  /** The cluster's network and this node's subnet: the IPv4 ones, or on an IPv6-only node the IPv6 ones (then network6/subnet6 say the same). */
  network: string;
  subnet: string;
  /** On a dual-stack or IPv6-only node: the cluster's and this node's IPv6 prefixes. */
  network6?: string;
  subnet6?: string;
  /** "198.51.100.1:8285", for people; publicIp and port for programs. */
  endpoint: string;
  publicIp: string;
  /** Its IPv6 underlay address (--public-ipv6), when it has one. */
  publicIpv6?: string;
  port: number;
  /** The user-space backends' offload edges (absent for a kernel backend, which has no TUN). */
  offloads?: OffloadStatus;
  /** flannel's Backend.Type this node runs: "udp" or "wireguard" (our TUN engine), "vxlan" or "host-gw" (the kernel carries). */
  backend?: string;
  /** A kernel backend's devices, entries per peer and skipped leases. */
  kernel?: KernelBackendStatus;
  /** Present with --ip-masq: the nftables table that masquerades pod traffic leaving the network, and the subnet.env that says so. */
  ipMasq?: { table: string; subnetFile: string };
  /** With --ip6-masq: the ip6 nftables table that masquerades the pods' IPv6 traffic. */
  ip6Masq?: { table: string };
  /** Present with --private-key: this node's public key (base64). */
  publicKey?: string;
  leases: LeaseSourceStatus & { peers: number };
  counters: OverlayCountersJson;
  peers: PeerStatus[];
}

/** A daemon's status, by engine (`mode` tells which). */
export type EngineStatus = RelayStatus | OverlayStatus;
/** The whole answer of the control socket: the engine's status plus who answers since when. */
export type DaemonStatus = EngineStatus & DaemonInfo;

export const isEtcdLeases = (l: LeaseSourceStatus): l is Extract<LeaseSourceStatus, { source: 'etcd' }> => l.source === 'etcd';
