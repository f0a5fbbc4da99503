// The host-gw backend, as flannel's: no encapsulation and no device of its
// own; each remote subnet is a route via the node that owns it, on the
// underlay link:
//   ip route replace <subnet> via <public IP> dev <underlay>
//   ip -6 route replace <subnet6> via <public IPv6> dev <underlay>
// so pods' packets cross the underlay with their own addresses. It needs
// every node on one layer-2 link; a peer that is not is a clear refusal
// naming it (use vxlan with DirectRouting). Pods keep the underlay's MTU.
// Routes carry protocol 75 so a later run finds and adopts its own.
import { route6List, routeList } from '../../netlink/route.js';
import { linkGet } from '../../netlink/link.js';
import { NetlinkSocket } from '../../netlink/socket.js';
import { formatIPv4, Prefix } from '../../packet/addr.js';
import { formatIPv6, Prefix6 } from '../../packet/addr6.js';
import type { Lease } from '../../subnet/leases.js';
import type { LeaseDelta } from '../../subnet/control-plane.js';
import type { AppliedLeases, KernelBackend, KernelBackendStatus, PublishedBackend } from '../backend.js';
import { countSkips, Entry, KernelPeers, PeerPlan, peerStatus, removeEntry, RTPROT_TUN_DRIVER } from '../kernel-entries.js';
import { deviceStatus, onLink, Underlay } from '../underlay.js';

export interface HostGwOptions {
  underlay: Underlay;
  subnet?: Prefix;
  subnet6?: Prefix6;
  log?: (line: string) => void;
}

export class HostGwBackend implements KernelBackend {
  readonly type = 'host-gw' as const;
  readonly name = 'host-gw';
  private readonly kernel: KernelPeers;

  constructor(private readonly nl: NetlinkSocket, private readonly o: HostGwOptions) {
    this.kernel = new KernelPeers(nl);
  }

  get podMtu(): number {
    return this.o.underlay.link.mtu;
  }

  publication(): PublishedBackend {
    // flannel's host-gw record: BackendData null, and BackendV6Data null on a dual-stack network.
    return { type: 'host-gw', data: null, ...(this.o.subnet6 ? { v6Data: null } : {}) };
  }

  setLeases(leases: readonly Lease[], delta?: LeaseDelta): AppliedLeases {
    return this.kernel.follow(leases, (l) => this.plan(l), () => this.found(), this.o.log, delta);
  }

  private plan(l: Lease): PeerPlan | { problem: string } {
    if (l.backendType !== undefined && l.backendType !== 'host-gw') return { problem: `its record is BackendType "${l.backendType}", not host-gw (flannel ignores it too)` };
    const u = this.o.underlay;
    const dev = u.link.name;
    const entries: Entry[] = [];
    if (this.o.subnet && l.subnet) {
      if (!onLink(u, l.publicIp)) return { problem: `host-gw needs layer-2 adjacency: ${formatIPv4(l.publicIp)} is not on ${dev}'s subnet; use vxlan with DirectRouting` };
      entries.push({ kind: 'route', dev, route: { dst: l.subnet, gateway: l.publicIp, oif: u.link.index } });
    }
    if (this.o.subnet6 && l.subnet6) {
      if (!l.publicIpv6 || !u.publicIpv6) return { problem: "host-gw routes IPv6 pods via the peer's IPv6 underlay address: it (or this node) has no PublicIPv6" };
      if (!onLink(u, l.publicIpv6)) return { problem: `host-gw needs layer-2 adjacency: ${formatIPv6(l.publicIpv6)} is not on ${dev}'s subnet; use vxlan with DirectRouting` };
      entries.push({ kind: 'route', dev, route: { dst: l.subnet6, gateway: l.publicIpv6, oif: u.link.index } });
    }
    if (entries.length === 0) return { problem: 'it shares no address family with this node' };
    return { entries, status: { ...peerStatus(l), via: 'host-gw' } };
  }

  /** Our routes on the underlay, by their protocol tag. */
  private found(): Entry[] {
    const u = this.o.underlay.link;
    const out: Entry[] = [];
    for (const r of routeList(this.nl)) if (r.oif === u.index && r.protocol === RTPROT_TUN_DRIVER && r.gateway !== undefined) out.push({ kind: 'route', dev: u.name, route: { dst: r.dst, gateway: r.gateway, oif: r.oif } });
    for (const r of route6List(this.nl)) if (r.oif === u.index && r.protocol === RTPROT_TUN_DRIVER && r.gateway) out.push({ kind: 'route', dev: u.name, route: { dst: r.dst, gateway: r.gateway, oif: r.oif } });
    return out;
  }

  status(): KernelBackendStatus {
    const link = linkGet(this.nl, this.o.underlay.link.name) ?? this.o.underlay.link;
    return { type: 'host-gw', devices: [deviceStatus(link)], peers: this.kernel.entries.peers, skipped: countSkips(this.kernel.skipped), adopted: this.kernel.adopted };
  }

  close(): void {
    // The routes stay: the next run adopts them.
  }

  /** Removes every route of ours on the underlay, this run's and any a previous run left. */
  teardown(): void {
    this.kernel.entries.removeAll();
    for (const e of this.found()) removeEntry(this.nl, e);
  }
}

