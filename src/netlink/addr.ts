// Interface addresses of both families over rtnetlink (see link.ts for the
// layout of this module). IPv4 prefixes are numbers (packet/addr.ts), IPv6
// ones 16-byte arrays (packet/addr6.ts); one set of requests serves both.
import { formatCidr, ipv4Bytes, Prefix, prefixMask } from '../packet/addr.js';
import { formatCidr6, networkOf, Prefix6 } from '../packet/addr6.js';
import { get32 } from '../packet/bytes.js';
import { MessageBuilder, NlMessage, parseAttrs, attrString } from './nl/codec.js';
import { AF_INET, AF_INET6, IFA, IFA_F, NLM_F, RTM } from './nl/constants.js';
import { decodeIfAddr, encodeIfAddr, IFADDR_LEN } from './nl/structs.js';
import { NetlinkSocket } from './socket.js';

/** An IPv4 address on an interface (`ip -4 addr`). */
export interface Address {
  index: number;
  /** The address with its prefix length, host bits kept (10.244.1.3/24). */
  prefix: Prefix;
  cidr: string;
  label?: string;
  scope: number;
}

/** An IPv6 address on an interface (`ip -6 addr`). */
export interface Address6 {
  index: number;
  prefix: Prefix6;
  cidr: string;
  scope: number;
  /** IFA_F_* bits as the kernel reports them (tentative while DAD runs). */
  flags: number;
}

const ACK = NLM_F.REQUEST | NLM_F.ACK;

const isV6 = (p: Prefix | Prefix6): p is Prefix6 => p.address instanceof Uint8Array;

function addressRequest(type: number, flags: number, index: number, p: Prefix | Prefix6): MessageBuilder {
  // Like `ip addr add A/L`: IFA_LOCAL and IFA_ADDRESS are both A. IPv6
  // addresses skip duplicate address detection (`nodad`): on a TUN or a
  // lab link nothing else can hold them, and DAD would leave them
  // tentative (unusable as a source) for a second or more.
  const v6 = isV6(p);
  const bytes = v6 ? p.address : ipv4Bytes(p.address);
  const header = encodeIfAddr({ family: v6 ? AF_INET6 : AF_INET, prefixLength: p.length, index, flags: v6 ? IFA_F.NODAD : 0 });
  return new MessageBuilder(type, flags).bytes(header).attr(IFA.LOCAL, bytes).attr(IFA.ADDRESS, bytes);
}

export const addrRequests = {
  /** ip -4 addr show (family AF_INET6: ip -6 addr show) */
  list: (family = AF_INET) => new MessageBuilder(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeIfAddr({ family })),
  /** ip addr add A/L dev X */
  add: (index: number, p: Prefix | Prefix6) => addressRequest(RTM.NEWADDR, ACK | NLM_F.CREATE | NLM_F.EXCL, index, p),
  /** ip addr del A/L dev X */
  del: (index: number, p: Prefix | Prefix6) => addressRequest(RTM.DELADDR, ACK, index, p),
};

export function decodeAddress(m: NlMessage): Address {
  const h = decodeIfAddr(m.data);
  const attrs = parseAttrs(m.data, IFADDR_LEN);
  const raw = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  const address = raw && raw.length >= 4 ? get32(raw, 0) : 0;
  const prefix = { address, network: (address & prefixMask(h.prefixLength)) >>> 0, length: h.prefixLength };
  return { index: h.index, prefix, cidr: formatCidr(prefix), label: attrString(attrs.get(IFA.LABEL)), scope: h.scope };
}

export function decodeAddress6(m: NlMessage): Address6 {
  const h = decodeIfAddr(m.data);
  const attrs = parseAttrs(m.data, IFADDR_LEN);
  // For IPv6 the kernel sends IFA_ADDRESS (IFA_LOCAL only on point-to-point peers).
  const raw = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  const address = raw && raw.length >= 16 ? Uint8Array.from(raw.subarray(0, 16)) : new Uint8Array(16);
  const prefix = { address, network: networkOf(address, h.prefixLength), length: h.prefixLength };
  return { index: h.index, prefix, cidr: formatCidr6(prefix), scope: h.scope, flags: h.flags };
}

function dumpAddresses(nl: NetlinkSocket, family: number): NlMessage[] {
  return nl.dump('list addresses', addrRequests.list(family)).filter((m) => m.type === RTM.NEWADDR && m.data[0] === family);
}

/**
 * ip -4 addr show [dev X]
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrList(nl: NetlinkSocket, index?: number): Address[] {
  return dumpAddresses(nl, AF_INET)
    .map(decodeAddress)
    .filter((a) => index === undefined || a.index === index);
}

/**
 * ip -6 addr show [dev X]: link-local (fe80::/10) addresses included; filter on `scope` (253 is link) to leave them out.
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addr6List(nl: NetlinkSocket, index?: number): Address6[] {
  return dumpAddresses(nl, AF_INET6)
    .map(decodeAddress6)
    .filter((a) => index === undefined || a.index === index);
}

const describe = (p: Prefix | Prefix6): string => (isV6(p) ? formatCidr6(p) : formatCidr(p));

/**
 * ip addr add A/L dev X (either family; IPv6 as `nodad`)
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrAdd(nl: NetlinkSocket, index: number, p: Prefix | Prefix6): void {
  nl.ack(`add address ${describe(p)}`, addrRequests.add(index, p));
}

/**
 * ip addr del A/L dev X (either family)
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrDelete(nl: NetlinkSocket, index: number, p: Prefix | Prefix6): void {
  nl.ack(`delete address ${describe(p)}`, addrRequests.del(index, p));
}
