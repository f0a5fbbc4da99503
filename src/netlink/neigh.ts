// Neighbours over rtnetlink: the ARP / NDP table (`ip neigh`) and the
// forwarding database of a bridge or VXLAN device (`bridge fdb`). Both are
// RTM_NEWNEIGH messages over struct ndmsg; an FDB entry is family
// AF_BRIDGE, keyed by MAC, with the remote's address in NDA_DST. The kernel
// VXLAN backend needs both (see src/backend/vxlan/): a permanent neighbour
// entry names the MAC behind a remote subnet's gateway address, and the FDB
// entry names the node that owns that MAC. Layout as in link.ts.
import { ipv4Bytes } from '../packet/addr.js';
import { get32 } from '../packet/bytes.js';
import { MessageBuilder, NlMessage, parseAttrs } from './nl/codec.js';
import { AF_BRIDGE, AF_INET, AF_INET6, NDA, NLM_F, NTF, NUD, RTM } from './nl/constants.js';
import { NetlinkSocket } from './socket.js';

/** An IP address as rtnetlink carries it: IPv4 as a number, IPv6 as 16 bytes. */
export type IpAddress = number | Uint8Array;

/** A neighbour or FDB entry as the kernel lists it (`ip neigh`, `bridge fdb`). */
export interface Neighbour {
  family: number;
  index: number;
  /** NUD_* bits. */
  state: number;
  /** NTF_* bits. */
  flags: number;
  /** The IP address (ARP/NDP), or the remote's address (FDB). */
  dst?: IpAddress;
  /** The MAC address. */
  lladdr?: Uint8Array;
}

/** struct ndmsg (12 bytes): family, pad, pad, ifindex, state, flags, type. */
export const NDMSG_LEN = 12;

function encodeNd(family: number, index: number, state: number, flags: number): Uint8Array {
  const b = new Uint8Array(NDMSG_LEN);
  const v = new DataView(b.buffer);
  v.setUint8(0, family);
  v.setInt32(4, index, true);
  v.setUint16(8, state, true);
  v.setUint8(10, flags);
  return b;
}

const familyOf = (a: IpAddress): number => (typeof a === 'number' ? AF_INET : AF_INET6);
const bytesOf = (a: IpAddress): Uint8Array => (typeof a === 'number' ? ipv4Bytes(a) : a);

const ACK = NLM_F.REQUEST | NLM_F.ACK;
const REPLACE = ACK | NLM_F.CREATE | NLM_F.REPLACE;

/** Pure request builders, each byte for byte what the named command sends. */
export const neighRequests = {
  /** ip [-6] neigh replace DST lladdr MAC dev X nud permanent */
  replace: (index: number, dst: IpAddress, mac: Uint8Array) =>
    new MessageBuilder(RTM.NEWNEIGH, REPLACE).bytes(encodeNd(familyOf(dst), index, NUD.PERMANENT, 0)).attr(NDA.DST, bytesOf(dst)).attr(NDA.LLADDR, mac),
  /** ip [-6] neigh del DST dev X */
  del: (index: number, dst: IpAddress) => new MessageBuilder(RTM.DELNEIGH, ACK).bytes(encodeNd(familyOf(dst), index, NUD.PERMANENT, 0)).attr(NDA.DST, bytesOf(dst)),
  /** ip [-6] neigh show (family AF_BRIDGE: bridge fdb show) */
  list: (family: number) => new MessageBuilder(RTM.GETNEIGH, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeNd(family, 0, 0, 0)),
  /** bridge fdb replace MAC dev X dst IP self permanent */
  fdbReplace: (index: number, mac: Uint8Array, dst: IpAddress) =>
    new MessageBuilder(RTM.NEWNEIGH, REPLACE).bytes(encodeNd(AF_BRIDGE, index, NUD.PERMANENT | NUD.NOARP, NTF.SELF)).attr(NDA.LLADDR, mac).attr(NDA.DST, bytesOf(dst)),
  /** bridge fdb del MAC dev X dst IP self */
  fdbDel: (index: number, mac: Uint8Array, dst: IpAddress) =>
    new MessageBuilder(RTM.DELNEIGH, ACK).bytes(encodeNd(AF_BRIDGE, index, NUD.PERMANENT | NUD.NOARP, NTF.SELF)).attr(NDA.LLADDR, mac).attr(NDA.DST, bytesOf(dst)),
};

/** Decodes an RTM_NEWNEIGH message. */
export function decodeNeighbour(m: NlMessage): Neighbour {
  const v = new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const attrs = parseAttrs(m.data, NDMSG_LEN);
  const dst = attrs.get(NDA.DST);
  const lladdr = attrs.get(NDA.LLADDR);
  return {
    family: v.getUint8(0),
    index: v.getInt32(4, true),
    state: v.getUint16(8, true),
    flags: v.getUint8(10),
    ...(dst && dst.length === 4 ? { dst: get32(dst, 0) } : dst && dst.length === 16 ? { dst: Uint8Array.from(dst) } : {}),
    ...(lladdr && lladdr.length === 6 ? { lladdr: Uint8Array.from(lladdr) } : {}),
  };
}

/**
 * ip [-6] neigh show [dev X]: the ARP (AF_INET) or NDP (AF_INET6) entries, of one device when `index` is given.
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function neighList(nl: NetlinkSocket, family: number, index?: number): Neighbour[] {
  return nl
    .dump('list neighbours', neighRequests.list(family))
    .filter((m) => m.type === RTM.NEWNEIGH)
    .map(decodeNeighbour)
    .filter((n) => n.family === family && (index === undefined || n.index === index));
}

/**
 * bridge fdb show dev X: the device's own FDB entries (NTF_SELF) that name a remote.
 * @throws NetlinkError as {@link neighList}.
 */
export function fdbList(nl: NetlinkSocket, index: number): Neighbour[] {
  return neighList(nl, AF_BRIDGE, index).filter((n) => (n.flags & NTF.SELF) !== 0 && n.dst !== undefined && n.lladdr !== undefined);
}

/**
 * ip [-6] neigh replace DST lladdr MAC dev X nud permanent
 * @throws NetlinkError (`TUN_ERR_NETLINK`, `TUN_ERR_PERMISSION`).
 */
export function neighReplace(nl: NetlinkSocket, index: number, dst: IpAddress, mac: Uint8Array): void {
  nl.ack('replace neighbour', neighRequests.replace(index, dst, mac));
}

/**
 * ip [-6] neigh del DST dev X
 * @throws NetlinkError (`TUN_ERR_NETLINK`: ENOENT when there is none; `TUN_ERR_PERMISSION`).
 */
export function neighDelete(nl: NetlinkSocket, index: number, dst: IpAddress): void {
  nl.ack('delete neighbour', neighRequests.del(index, dst));
}

/**
 * bridge fdb replace MAC dev X dst IP self permanent
 * @throws NetlinkError (`TUN_ERR_NETLINK`, `TUN_ERR_PERMISSION`).
 */
export function fdbReplace(nl: NetlinkSocket, index: number, mac: Uint8Array, dst: IpAddress): void {
  nl.ack('replace fdb entry', neighRequests.fdbReplace(index, mac, dst));
}

/**
 * bridge fdb del MAC dev X dst IP self
 * @throws NetlinkError (`TUN_ERR_NETLINK`: ENOENT when there is none; `TUN_ERR_PERMISSION`).
 */
export function fdbDelete(nl: NetlinkSocket, index: number, mac: Uint8Array, dst: IpAddress): void {
  nl.ack('delete fdb entry', neighRequests.fdbDel(index, mac, dst));
}
