// The kernel VXLAN backend, as flannel's Linux vxlan backend does it, over
// our own rtnetlink. The node owns device flannel.<VNI> (kind vxlan, local
// = its public IP, learning off, MAC = its VtepMAC, address = its subnet's
// network address /32, MTU = underlay - 50). For each remote lease it
// keeps three entries, installed in this order:
//   ip neigh replace <subnet addr> lladdr <VtepMAC> dev flannel.1 nud permanent
//   bridge fdb replace <VtepMAC> dev flannel.1 dst <public IP> self permanent
//   ip route replace <subnet> via <subnet addr> dev flannel.1 onlink
// so the kernel resolves the route's gateway to the peer's VTEP without
// ARP and sends the frame, in UDP, to the node that owns it. With
// DirectRouting a peer on the same link gets a plain route via its public
// IP instead (no encapsulation). IPv6 pods use flannel-v6.<VNI> over the
// IPv6 underlay, the same way.
import { addr6List, addrAdd, addrDelete, addrList } from '../../netlink/addr.js';
import { Link, linkAddVxlan, linkDelete, linkGet, linkSetAddress, linkSetMtu, linkSetUp } from '../../netlink/link.js';
import { fdbList, neighList } from '../../netlink/neigh.js';
import { route6List, routeList } from '../../netlink/route.js';
import { NetlinkSocket } from '../../netlink/socket.js';
import { AF_INET, AF_INET6, NUD } from '../../netlink/nl/constants.js';
import { formatIPv4, Prefix } from '../../packet/addr.js';
import { formatIPv6, Prefix6, sameIPv6 } from '../../packet/addr6.js';
import { formatMac, macFromIPv4, sameMac } from '../../packet/mac.js';
import { TunDriverError } from '../../errors.js';
import type { Lease } from '../../subnet/leases.js';
import type { LeaseDelta } from '../../subnet/control-plane.js';
import type { AppliedLeases, KernelBackend, KernelBackendStatus, PublishedBackend } from '../backend.js';
import { countSkips, Entry, KernelPeers, PeerPlan, peerStatus, RTPROT_TUN_DRIVER } from '../kernel-entries.js';
import { deviceStatus, onLink, Underlay } from '../underlay.js';
import { MAC_TAG_V4, MAC_TAG_V6, peerVtepMac, vxlanRecord } from './vxlan-data.js';

/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;
/** The same over an IPv6 underlay. */
export const VXLAN_OVERHEAD_IPV6 = 70;

export interface VxlanOptions {
  vni: number;
  port: number;
  gbp?: boolean;
  directRouting?: boolean;
  underlay: Underlay;
  /** This node's subnets (the cluster network's families). */
  subnet?: Prefix;
  subnet6?: Prefix6;
  /** Called with a line for the log (adoption, skipped leases). */
  log?: (line: string) => void;
}

/** One VTEP device (flannel.<VNI> or flannel-v6.<VNI>) and what it was made with. */
interface Vtep {
  link: Link;
  mac: Uint8Array;
  /** Whether this run created it (undone on a failed start). */
  created: boolean;
}

export class VxlanBackend implements KernelBackend {
  readonly type = 'vxlan' as const;
  private readonly kernel: KernelPeers;

  private constructor(private readonly nl: NetlinkSocket, private readonly o: VxlanOptions, private readonly v4: Vtep | undefined, private readonly v6: Vtep | undefined) {
    this.kernel = new KernelPeers(nl);
  }

  /**
   * Creates (or adopts) the VTEP devices. A device of that name that is
   * not a compatible VXLAN is an error that names it; nothing is changed then.
   * @throws TunDriverError `TUN_ERR_USAGE` (a name taken, no IPv6 underlay for IPv6 pods), NetlinkError.
   */
  static open(nl: NetlinkSocket, o: VxlanOptions): VxlanBackend {
    if (o.subnet6 && !o.underlay.publicIpv6) throw new TunDriverError('TUN_ERR_USAGE', 'the vxlan backend carries IPv6 pods over an IPv6 underlay, as flannel does: give --public-ipv6 (or drop the IPv6 network)');
    const name4 = VxlanBackend.deviceName(o.vni, 4);
    const name6 = VxlanBackend.deviceName(o.vni, 6);
    if ((o.subnet6 ? name6 : name4).length > 15) throw new TunDriverError('TUN_ERR_USAGE', `VNI ${o.vni} makes the device name ${o.subnet6 ? name6 : name4} longer than 15 characters: use a VNI of at most ${o.subnet6 ? 5 : 7} digits`);
    const { underlay } = o;
    // Check both names before creating either.
    if (o.subnet) checkExisting(nl, name4, o, underlay.publicIp);
    if (o.subnet6) checkExisting(nl, name6, o, underlay.publicIpv6!);
    let v4: Vtep | undefined;
    let v6: Vtep | undefined;
    try {
      if (o.subnet) v4 = vtep(nl, name4, o, underlay.publicIp, macFromIPv4(underlay.publicIp, MAC_TAG_V4), underlay.link.mtu - VXLAN_OVERHEAD, o.subnet);
      if (o.subnet6) v6 = vtep(nl, name6, o, underlay.publicIpv6!, macFromIPv4(underlay.publicIp, MAC_TAG_V6), underlay.link.mtu - VXLAN_OVERHEAD_IPV6, o.subnet6);
    } catch (err) {
      if (v4?.created) linkDelete(nl, v4.link.index);
      throw err;
    }
    return new VxlanBackend(nl, o, v4, v6);
  }

  /** flannel's VTEP names: flannel.<VNI> for IPv4 pods, flannel-v6.<VNI> for IPv6 ones. */
  static deviceName(vni: number, family: 4 | 6): string {
    return family === 4 ? `flannel.${vni}` : `flannel-v6.${vni}`;
  }

  /** The IPv4 VTEP's name, or the IPv6 one's on an IPv6-only node. */
  get name(): string {
    return (this.v4 ?? this.v6)!.link.name;
  }

  /** Pods get the smaller of the two VTEPs' MTUs (one MTU per pod interface). */
  get podMtu(): number {
    return Math.min(this.v4?.link.mtu ?? Infinity, this.v6?.link.mtu ?? Infinity);
  }

  publication(): PublishedBackend {
    return vxlanRecord(this.o.vni, this.o.underlay.publicIp, !!this.v4, !!this.v6);
  }

  setLeases(leases: readonly Lease[], delta?: LeaseDelta): AppliedLeases {
    return this.kernel.follow(leases, (l) => this.plan(l), () => this.found(), this.o.log, delta);
  }

  /** The entries for one remote lease, or why it is left out. */
  private plan(l: Lease): PeerPlan | { problem: string } {
    if (l.backendType !== undefined && l.backendType !== 'vxlan') return { problem: `its record is BackendType "${l.backendType}", not vxlan (flannel ignores it too)` };
    const entries: Entry[] = [];
    let via = 'vxlan';
    if (this.v4 && l.subnet) {
      const direct = this.o.directRouting && onLink(this.o.underlay, l.publicIp);
      if (direct) {
        via = 'direct';
        entries.push({ kind: 'route', dev: this.o.underlay.link.name, route: { dst: l.subnet, gateway: l.publicIp, oif: this.o.underlay.link.index } });
      } else {
        const peer = peerVtepMac(l.backendData, l.publicIp, MAC_TAG_V4, this.o.vni);
        if ('problem' in peer) return peer;
        const dev = this.v4.link;
        entries.push(
          { kind: 'neigh', index: dev.index, dev: dev.name, dst: l.subnet.network, mac: peer.mac },
          { kind: 'fdb', index: dev.index, dev: dev.name, mac: peer.mac, dst: l.publicIp },
          { kind: 'route', dev: dev.name, route: { dst: l.subnet, gateway: l.subnet.network, oif: dev.index, onlink: true } },
        );
      }
    }
    if (this.v6 && l.subnet6) {
      if (!l.publicIpv6) return { problem: 'it has no PublicIPv6: its IPv6 pods cannot be reached over the IPv6 underlay' };
      const peer = peerVtepMac(l.backendV6Data, l.publicIp, MAC_TAG_V6, this.o.vni);
      if ('problem' in peer) return { problem: `IPv6: ${peer.problem}` };
      const dev = this.v6.link;
      entries.push(
        { kind: 'neigh', index: dev.index, dev: dev.name, dst: l.subnet6.network, mac: peer.mac },
        { kind: 'fdb', index: dev.index, dev: dev.name, mac: peer.mac, dst: l.publicIpv6 },
        { kind: 'route', dev: dev.name, route: { dst: l.subnet6, gateway: l.subnet6.network, oif: dev.index, onlink: true } },
      );
    }
    if (entries.length === 0) return { problem: 'it shares no address family with this node' };
    return { entries, status: { ...peerStatus(l), via } };
  }

  /** The kernel state of ours that is there now: permanent neighbours and FDB entries on the VTEPs, routes through them or tagged as ours. */
  private found(): Entry[] {
    const out: Entry[] = [];
    for (const [dev, family] of [[this.v4, AF_INET], [this.v6, AF_INET6]] as const) {
      if (!dev) continue;
      const { index, name } = dev.link;
      for (const n of neighList(this.nl, family, index)) if (n.state & NUD.PERMANENT && n.dst !== undefined && n.lladdr) out.push({ kind: 'neigh', index, dev: name, dst: n.dst, mac: n.lladdr });
      for (const f of fdbList(this.nl, index)) if ((typeof f.dst === 'number') === (family === AF_INET)) out.push({ kind: 'fdb', index, dev: name, mac: f.lladdr!, dst: f.dst! });
    }
    const u = this.o.underlay.link;
    if (this.v4) {
      for (const r of routeList(this.nl)) {
        if (r.oif === this.v4.link.index && r.gateway !== undefined) out.push({ kind: 'route', dev: this.v4.link.name, route: { dst: r.dst, gateway: r.gateway, oif: r.oif, onlink: r.onlink } });
        else if (r.oif === u.index && r.protocol === RTPROT_TUN_DRIVER && r.gateway !== undefined) out.push({ kind: 'route', dev: u.name, route: { dst: r.dst, gateway: r.gateway, oif: r.oif } });
      }
    }
    if (this.v6) {
      for (const r of route6List(this.nl)) if (r.oif === this.v6.link.index && r.gateway) out.push({ kind: 'route', dev: this.v6.link.name, route: { dst: r.dst, gateway: r.gateway, oif: r.oif, onlink: r.onlink } });
    }
    return out;
  }

  status(): KernelBackendStatus {
    const devices = [this.v4, this.v6].flatMap((d) => (d ? [deviceStatus(linkGet(this.nl, d.link.name) ?? d.link)] : []));
    return {
      type: 'vxlan', devices, vni: this.o.vni, port: this.o.port,
      vtepMac: formatMac((this.v4 ?? this.v6)!.mac),
      peers: this.kernel.entries.peers,
      skipped: countSkips(this.kernel.skipped),
      adopted: this.kernel.adopted,
    };
  }

  close(): void {
    // The data plane stays: the next run adopts it.
  }

  /** Deletes the VTEPs (their neighbours, FDB entries and routes go with them) and DirectRouting routes. */
  teardown(): void {
    this.kernel.entries.removeAll();
    for (const d of [this.v4, this.v6]) {
      const link = d && linkGet(this.nl, d.link.name);
      if (link) linkDelete(this.nl, link.index);
    }
  }
}

/** A device named `name` that exists must be a VXLAN with this network's VNI, port and local address: ours to adopt. */
function checkExisting(nl: NetlinkSocket, name: string, o: VxlanOptions, local: number | Uint8Array): void {
  const link = linkGet(nl, name);
  if (!link) return;
  const v = link.vxlan;
  if (!v) throw new TunDriverError('TUN_ERR_USAGE', `device ${name} exists and is not a VXLAN (kind ${link.kind ?? 'none'}): it is not ours; remove it (ip link del ${name}) or use another VNI`);
  const sameLocal = typeof local === 'number' ? v.local === local : v.local instanceof Uint8Array && sameIPv6(v.local, 0, local);
  if (v.vni !== o.vni || v.port !== o.port || !sameLocal || v.learning) {
    const had = `VNI ${v.vni}, port ${v.port}, local ${v.local === undefined ? 'none' : typeof v.local === 'number' ? formatIPv4(v.local) : formatIPv6(v.local)}${v.learning ? ', learning on' : ''}`;
    throw new TunDriverError('TUN_ERR_USAGE', `device ${name} exists with ${had}, not this node's VNI ${o.vni}, port ${o.port}, local ${typeof local === 'number' ? formatIPv4(local) : formatIPv6(local)}: remove it (ip link del ${name}) to let tun-driver make its own`);
  }
}

/** Creates or adopts one VTEP: MAC, MTU, the subnet's network address as its only address, up. */
function vtep(nl: NetlinkSocket, name: string, o: VxlanOptions, local: number | Uint8Array, mac: Uint8Array, mtu: number, subnet: Prefix | Prefix6): Vtep {
  let link = linkGet(nl, name);
  const created = !link;
  if (!link) {
    linkAddVxlan(nl, { name, mac, vni: o.vni, local, link: o.underlay.link.index, port: o.port, gbp: o.gbp });
    link = linkGet(nl, name)!;
  }
  if (!link.mac || !sameMac(link.mac, mac)) linkSetAddress(nl, link.index, mac);
  if (link.mtu !== mtu) linkSetMtu(nl, link.index, mtu);
  if (typeof subnet.network === 'number') {
    const want: Prefix = { network: subnet.network, address: subnet.network, length: 32 };
    const have = addrList(nl, link.index);
    for (const a of have) if (a.prefix.address !== want.address || a.prefix.length !== 32) addrDelete(nl, link.index, a.prefix);
    if (!have.some((a) => a.prefix.address === want.address && a.prefix.length === 32)) addrAdd(nl, link.index, want);
  } else {
    const net6 = subnet.network as Uint8Array;
    const want: Prefix6 = { network: net6, address: net6, length: 128 };
    const have = addr6List(nl, link.index).filter((a) => !(a.prefix.address[0] === 0xfe && (a.prefix.address[1] & 0xc0) === 0x80));
    for (const a of have) if (!sameIPv6(a.prefix.address, 0, net6) || a.prefix.length !== 128) addrDelete(nl, link.index, a.prefix);
    if (!have.some((a) => sameIPv6(a.prefix.address, 0, net6) && a.prefix.length === 128)) addrAdd(nl, link.index, want);
  }
  linkSetUp(nl, link.index);
  return { link: linkGet(nl, name)!, mac, created };
}

