// IPv4 addresses over rtnetlink (see link.ts for the layout of this module).
import { formatCidr, ipv4Bytes, Prefix, prefixMask } from '../packet/addr.js';
import { get32 } from '../packet/bytes.js';
import { MessageBuilder, NlMessage, parseAttrs, attrString } from './nl/codec.js';
import { AF_INET, IFA, NLM_F, RTM } from './nl/constants.js';
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

const ACK = NLM_F.REQUEST | NLM_F.ACK;

function withLocal(b: MessageBuilder, p: Prefix): MessageBuilder {
  // Like `ip addr add A/L`: IFA_LOCAL and IFA_ADDRESS are both A.
  return b.attr(IFA.LOCAL, ipv4Bytes(p.address)).attr(IFA.ADDRESS, ipv4Bytes(p.address));
}

export const addrRequests = {
  /** ip -4 addr show */
  list: () => new MessageBuilder(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeIfAddr({ family: AF_INET })),
  /** ip addr add A/L dev X */
  add: (index: number, p: Prefix) =>
    withLocal(new MessageBuilder(RTM.NEWADDR, ACK | NLM_F.CREATE | NLM_F.EXCL).bytes(encodeIfAddr({ prefixLength: p.length, index })), p),
  /** ip addr del A/L dev X */
  del: (index: number, p: Prefix) => withLocal(new MessageBuilder(RTM.DELADDR, ACK).bytes(encodeIfAddr({ prefixLength: p.length, index })), p),
};

export function decodeAddress(m: NlMessage): Address {
  const h = decodeIfAddr(m.data);
  const attrs = parseAttrs(m.data, IFADDR_LEN);
  const raw = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  const address = raw && raw.length >= 4 ? get32(raw, 0) : 0;
  const prefix = { address, network: (address & prefixMask(h.prefixLength)) >>> 0, length: h.prefixLength };
  return { index: h.index, prefix, cidr: formatCidr(prefix), label: attrString(attrs.get(IFA.LABEL)), scope: h.scope };
}

/**
 * ip -4 addr show [dev X]
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrList(nl: NetlinkSocket, index?: number): Address[] {
  return nl
    .dump('list addresses', addrRequests.list())
    .filter((m) => m.type === RTM.NEWADDR)
    .map(decodeAddress)
    .filter((a) => index === undefined || a.index === index);
}

/**
 * ip addr add A/L dev X
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrAdd(nl: NetlinkSocket, index: number, p: Prefix): void {
  nl.ack(`add address ${formatCidr(p)}`, addrRequests.add(index, p));
}

/**
 * ip addr del A/L dev X
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function addrDelete(nl: NetlinkSocket, index: number, p: Prefix): void {
  nl.ack(`delete address ${formatCidr(p)}`, addrRequests.del(index, p));
}
