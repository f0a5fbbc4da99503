// Links over rtnetlink. Each operation is a pure request builder (tested
// byte for byte against iproute2) plus a call that sends it; the doc line
// of each names the `ip` command it equals.
import { MessageBuilder, parseAttrs, attrString, attrU32, attrU8, readU64, NlMessage } from './nl/codec.js';
import { AF_UNSPEC, IFF, IFLA, IFLA_INFO, IFLA_VXLAN, NLM_F, OPERSTATES, RTM, VETH_INFO } from './nl/constants.js';
import { ipv4Bytes } from '../packet/addr.js';
import { get16, get32 } from '../packet/bytes.js';
import { decodeIfInfo, encodeIfInfo, IFINFO_LEN } from './nl/structs.js';
import { NetlinkError, NetlinkSocket } from './socket.js';
import { TunDriverError } from '../errors.js';

/** Packet and byte counters of a link (IFLA_STATS64), as `ip -s link` shows them. */
export interface LinkStats {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

/** A network interface as the kernel lists it (`ip -d link`). */
export interface Link {
  index: number;
  name: string;
  /** IFF_* flags as the kernel reports them. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP); a TUN has it only while a process holds it open. */
  lowerUp: boolean;
  mtu: number;
  operstate: string;
  /** IFLA_INFO_KIND: 'tun', 'veth', 'bridge', ... (undefined for plain devices). */
  kind?: string;
  /** ifindex of the bridge this link is enslaved to. */
  master?: number;
  stats?: LinkStats;
  /** Its hardware address (IFLA_ADDRESS): 6 bytes on Ethernet-like devices, absent on a TUN. */
  mac?: Uint8Array;
  /** Kind "vxlan": what the device was made with (`ip -d link`). */
  vxlan?: VxlanInfo;
}

/** A VXLAN device's parameters, as given to `ip link add ... type vxlan` and listed by `ip -d link`. */
export interface VxlanInfo {
  vni: number;
  /** Source address of the outer packets: IPv4 as a number, IPv6 as 16 bytes; absent when unset. */
  local?: number | Uint8Array;
  /** ifindex of the underlay device (`dev`), 0 when unset. */
  link: number;
  /** Destination UDP port of the outer packets. */
  port: number;
  learning: boolean;
  /** Group Based Policy extension on (`gbp`). */
  gbp: boolean;
}

/** What `ip link add NAME address MAC type vxlan id VNI local IP dev LINK dstport PORT nolearning [gbp]` creates. */
export interface VxlanSpec {
  name: string;
  mac?: Uint8Array;
  vni: number;
  local: number | Uint8Array;
  /** ifindex of the underlay device; the kernel derives the MTU from it (its MTU - 50, or - 70 over IPv6). */
  link?: number;
  port: number;
  gbp?: boolean;
}

const ACK = NLM_F.REQUEST | NLM_F.ACK;
const CREATE = ACK | NLM_F.CREATE | NLM_F.EXCL;

/** Pure request builders for the link operations. */
export const linkRequests = {
  /** ip link show */
  list: () => new MessageBuilder(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeIfInfo({ family: AF_UNSPEC })),
  /** ip link show dev NAME */
  get: (name: string) => new MessageBuilder(RTM.GETLINK, NLM_F.REQUEST).bytes(encodeIfInfo({})).attrString(IFLA.IFNAME, name),
  /** ip link set dev X up|down */
  setUp: (index: number, up: boolean) =>
    new MessageBuilder(RTM.NEWLINK, ACK).bytes(encodeIfInfo({ index, flags: up ? IFF.UP : 0, change: IFF.UP })),
  /** ip link set dev X mtu N */
  setMtu: (index: number, mtu: number) => new MessageBuilder(RTM.NEWLINK, ACK).bytes(encodeIfInfo({ index })).attrU32(IFLA.MTU, mtu),
  /** ip link set dev X master BR (masterIndex 0: nomaster) */
  setMaster: (index: number, masterIndex: number) =>
    new MessageBuilder(RTM.NEWLINK, ACK).bytes(encodeIfInfo({ index })).attrU32(IFLA.MASTER, masterIndex),
  /** ip link set dev X netns NS (nsFd: an open handle of NS), optionally renaming it */
  setNetns: (index: number, nsFd: number, newName?: string) => {
    const b = new MessageBuilder(RTM.NEWLINK, ACK).bytes(encodeIfInfo({ index })).attrU32(IFLA.NET_NS_FD, nsFd);
    return newName ? b.attrString(IFLA.IFNAME, newName) : b;
  },
  /** ip link set dev X address MAC */
  setAddress: (index: number, mac: Uint8Array) => new MessageBuilder(RTM.NEWLINK, ACK).bytes(encodeIfInfo({ index })).attr(IFLA.ADDRESS, mac),
  /** ip link add NAME [address MAC] type vxlan id VNI local IP [dev LINK] dstport PORT nolearning [gbp] (attributes in iproute2's order) */
  addVxlan: (v: VxlanSpec) => {
    const b = new MessageBuilder(RTM.NEWLINK, CREATE).bytes(encodeIfInfo({}));
    if (v.mac) b.attr(IFLA.ADDRESS, v.mac);
    b.attrString(IFLA.IFNAME, v.name).beginNest(IFLA.LINKINFO).attrString(IFLA_INFO.KIND, 'vxlan', false).beginNest(IFLA_INFO.DATA);
    if (v.link !== undefined) b.attrU32(IFLA_VXLAN.LINK, v.link);
    if (v.gbp) b.attr(IFLA_VXLAN.GBP, new Uint8Array(0));
    b.attrU32(IFLA_VXLAN.ID, v.vni);
    if (typeof v.local === 'number') b.attr(IFLA_VXLAN.LOCAL, ipv4Bytes(v.local));
    else b.attr(IFLA_VXLAN.LOCAL6, v.local);
    b.attr(IFLA_VXLAN.LEARNING, Uint8Array.of(0));
    b.attr(IFLA_VXLAN.PORT, Uint8Array.of(v.port >>> 8, v.port & 0xff));
    return b.endNest().endNest();
  },
  /** ip link del dev X */
  del: (index: number) => new MessageBuilder(RTM.DELLINK, ACK).bytes(encodeIfInfo({ index })),
  /** ip link add NAME type bridge */
  addBridge: (name: string) =>
    new MessageBuilder(RTM.NEWLINK, CREATE)
      .bytes(encodeIfInfo({}))
      .attrString(IFLA.IFNAME, name)
      .beginNest(IFLA.LINKINFO)
      .attrString(IFLA_INFO.KIND, 'bridge', false)
      .endNest(),
  /** ip link add NAME type veth peer name PEER [netns NS] */
  addVeth: (name: string, peer: string, peerNsFd?: number) => {
    const b = new MessageBuilder(RTM.NEWLINK, CREATE)
      .bytes(encodeIfInfo({}))
      .attrString(IFLA.IFNAME, name)
      .beginNest(IFLA.LINKINFO)
      .attrString(IFLA_INFO.KIND, 'veth', false)
      .beginNest(IFLA_INFO.DATA)
      .beginNest(VETH_INFO.PEER)
      .bytes(encodeIfInfo({}))
      .attrString(IFLA.IFNAME, peer);
    if (peerNsFd !== undefined) b.attrU32(IFLA.NET_NS_FD, peerNsFd);
    return b.endNest().endNest().endNest();
  },
};

function decodeStats(a: Uint8Array | undefined): LinkStats | undefined {
  // struct rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes,
  // rx_errors, tx_errors, rx_dropped, tx_dropped, ... (u64 each).
  if (!a || a.length < 64) return undefined;
  return {
    rxPackets: readU64(a, 0), txPackets: readU64(a, 8), rxBytes: readU64(a, 16), txBytes: readU64(a, 24),
    rxErrors: readU64(a, 32), txErrors: readU64(a, 40), rxDropped: readU64(a, 48), txDropped: readU64(a, 56),
  };
}

/** Decodes an RTM_NEWLINK message. */
export function decodeLink(m: NlMessage): Link {
  const info = decodeIfInfo(m.data);
  const attrs = parseAttrs(m.data, IFINFO_LEN);
  const linkinfo = attrs.get(IFLA.LINKINFO);
  const oper = attrU8(attrs.get(IFLA.OPERSTATE)) ?? 0;
  return {
    index: info.index,
    name: attrString(attrs.get(IFLA.IFNAME)) ?? '',
    flags: info.flags,
    up: (info.flags & IFF.UP) !== 0,
    lowerUp: (info.flags & IFF.LOWER_UP) !== 0,
    mtu: attrU32(attrs.get(IFLA.MTU)) ?? 0,
    operstate: OPERSTATES[oper] ?? 'unknown',
    kind: linkinfo ? attrString(parseAttrs(linkinfo).get(IFLA_INFO.KIND)) : undefined,
    master: attrU32(attrs.get(IFLA.MASTER)),
    stats: decodeStats(attrs.get(IFLA.STATS64)),
    ...macOf(attrs.get(IFLA.ADDRESS)),
    ...vxlanOf(linkinfo),
  };
}

function macOf(a: Uint8Array | undefined): { mac?: Uint8Array } {
  return a && a.length === 6 ? { mac: Uint8Array.from(a) } : {};
}

/** IFLA_INFO_DATA of a vxlan link, decoded. */
function vxlanOf(linkinfo: Uint8Array | undefined): { vxlan?: VxlanInfo } {
  if (!linkinfo) return {};
  const info = parseAttrs(linkinfo);
  if (attrString(info.get(IFLA_INFO.KIND)) !== 'vxlan') return {};
  const data = parseAttrs(info.get(IFLA_INFO.DATA) ?? new Uint8Array(0));
  const local4 = data.get(IFLA_VXLAN.LOCAL);
  const local6 = data.get(IFLA_VXLAN.LOCAL6);
  const port = data.get(IFLA_VXLAN.PORT);
  return {
    vxlan: {
      vni: attrU32(data.get(IFLA_VXLAN.ID)) ?? 0,
      ...(local4 && local4.length >= 4 ? { local: get32(local4, 0) } : local6 && local6.length >= 16 ? { local: Uint8Array.from(local6.subarray(0, 16)) } : {}),
      link: attrU32(data.get(IFLA_VXLAN.LINK)) ?? 0,
      port: port && port.length >= 2 ? get16(port, 0) : 0,
      learning: (attrU8(data.get(IFLA_VXLAN.LEARNING)) ?? 1) !== 0,
      gbp: data.has(IFLA_VXLAN.GBP),
    },
  };
}

/**
 * ip -s link show
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkList(nl: NetlinkSocket): Link[] {
  return nl.dump('list links', linkRequests.list()).filter((m) => m.type === RTM.NEWLINK).map(decodeLink);
}

/**
 * ip -s link show dev NAME; undefined when there is no such device.
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkGet(nl: NetlinkSocket, name: string): Link | undefined {
  try {
    return decodeLink(nl.get(`get link ${name}`, linkRequests.get(name)));
  } catch (err) {
    if (err instanceof NetlinkError && err.errnoName === 'ENODEV') return undefined;
    throw err;
  }
}

/**
 * Like linkGet, but a missing device is an error that names it.
 * @throws TunDriverError `TUN_ERR_NO_DEVICE` when there is no such link; NetlinkError as {@link linkList}.
 */
export function linkByName(nl: NetlinkSocket, name: string): Link {
  const link = linkGet(nl, name);
  if (!link) throw new TunDriverError('TUN_ERR_NO_DEVICE', `device "${name}" does not exist (see: tun-driver tun show)`);
  return link;
}

/**
 * ip link set dev X up|down
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkSetUp(nl: NetlinkSocket, index: number, up = true): void {
  nl.ack(`set link ${index} ${up ? 'up' : 'down'}`, linkRequests.setUp(index, up));
}

/**
 * ip link set dev X mtu N
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkSetMtu(nl: NetlinkSocket, index: number, mtu: number): void {
  nl.ack(`set link ${index} mtu ${mtu}`, linkRequests.setMtu(index, mtu));
}

/**
 * ip link set dev X master BR
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkSetMaster(nl: NetlinkSocket, index: number, masterIndex: number): void {
  nl.ack(`set link ${index} master ${masterIndex}`, linkRequests.setMaster(index, masterIndex));
}

/**
 * ip link set dev X netns NS [name NEW]
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkSetNetns(nl: NetlinkSocket, index: number, nsFd: number, newName?: string): void {
  nl.ack(`move link ${index} to another namespace`, linkRequests.setNetns(index, nsFd, newName));
}

/**
 * ip link del dev X
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkDelete(nl: NetlinkSocket, index: number): void {
  nl.ack(`delete link ${index}`, linkRequests.del(index));
}

/**
 * ip link set dev X address MAC
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkSetAddress(nl: NetlinkSocket, index: number, mac: Uint8Array): void {
  nl.ack(`set link ${index} address`, linkRequests.setAddress(index, mac));
}

/**
 * ip link add NAME [address MAC] type vxlan id VNI local IP dev LINK dstport PORT nolearning [gbp]
 * @throws NetlinkError (`TUN_ERR_NETLINK`: EEXIST when the name or the VNI and port are taken; `TUN_ERR_PERMISSION`).
 */
export function linkAddVxlan(nl: NetlinkSocket, spec: VxlanSpec): void {
  nl.ack(`add vxlan ${spec.name}`, linkRequests.addVxlan(spec));
}

/**
 * ip link add NAME type bridge
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkAddBridge(nl: NetlinkSocket, name: string): void {
  nl.ack(`add bridge ${name}`, linkRequests.addBridge(name));
}

/**
 * ip link add NAME type veth peer name PEER [netns NS]
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function linkAddVeth(nl: NetlinkSocket, name: string, peer: string, peerNsFd?: number): void {
  nl.ack(`add veth ${name}/${peer}`, linkRequests.addVeth(name, peer, peerNsFd));
}
