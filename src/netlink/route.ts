// Routes of both families over rtnetlink (see link.ts for the layout):
// IPv4 with numbers (RouteSpec), IPv6 with 16-byte arrays (Route6Spec);
// the main table unless a spec names another.
import { formatCidr, formatIPv4, ipv4Bytes, Prefix, prefixMask } from '../packet/addr.js';
import { formatCidr6, formatIPv6, networkOf, Prefix6 } from '../packet/addr6.js';
import { get32 } from '../packet/bytes.js';
import { MessageBuilder, NlMessage, parseAttrs, attrU32 } from './nl/codec.js';
import { AF_INET, AF_INET6, NLM_F, RT_SCOPE, RT_TABLE, RTA, RTM, RTN, RTNH_F, RTPROT } from './nl/constants.js';
import { decodeRt, encodeRt, RTMSG_LEN } from './nl/structs.js';
import { NetlinkSocket } from './socket.js';

/** A route to add, replace or delete (`ip route add DST via GATEWAY dev OIF metric M src PREFSRC`). */
export interface RouteSpec {
  /** Destination; length 0 is the default route. */
  dst: Prefix;
  gateway?: number;
  /** Output interface index. */
  oif?: number;
  metric?: number;
  /** Preferred source address. */
  prefsrc?: number;
  /** Routing table (default: main, 254). */
  table?: number;
  /** `onlink`: the gateway is on the link whatever its address (a VXLAN peer's subnet address). */
  onlink?: boolean;
  /** Who installed it (rtm_protocol; default RTPROT_BOOT as `ip route` sets): a daemon tags its routes to find them again. */
  protocol?: number;
}

/** An IPv6 route to add, replace or delete (`ip -6 route add DST via GATEWAY dev OIF metric M table T`). */
export interface Route6Spec {
  dst: Prefix6;
  gateway?: Uint8Array;
  oif?: number;
  metric?: number;
  prefsrc?: Uint8Array;
  table?: number;
  protocol?: number;
  onlink?: boolean;
}

/** An IPv6 route as the kernel lists it. */
export interface Route6 extends Route6Spec {
  table: number;
  protocol: number;
  type: number;
  /** rtm_flags (RTNH_F_*). */
  flags: number;
}

/** A route as the kernel lists it. */
export interface Route extends RouteSpec {
  table: number;
  protocol: number;
  scope: number;
  type: number;
  /** rtm_flags (RTNH_F_*). */
  flags: number;
}

const ACK = NLM_F.REQUEST | NLM_F.ACK;

type AnyRouteSpec = RouteSpec | Route6Spec;
const isV6 = (r: AnyRouteSpec): r is Route6Spec => r.dst.address instanceof Uint8Array;

function routeAttrs(b: MessageBuilder, r: AnyRouteSpec): MessageBuilder {
  // Attribute order as iproute2 sends it.
  const bytes = (a: number | Uint8Array): Uint8Array => (typeof a === 'number' ? ipv4Bytes(a) : a);
  if (r.dst.length > 0) b.attr(RTA.DST, bytes(r.dst.network));
  if (r.gateway !== undefined) b.attr(RTA.GATEWAY, bytes(r.gateway));
  if (r.metric !== undefined) b.attrU32(RTA.PRIORITY, r.metric);
  if (r.prefsrc !== undefined) b.attr(RTA.PREFSRC, bytes(r.prefsrc));
  if (r.oif !== undefined) b.attrU32(RTA.OIF, r.oif);
  if (r.table !== undefined) b.attrU32(RTA.TABLE, r.table);
  return b;
}

/** The rtmsg table byte: tables past 255 travel only in RTA_TABLE, as iproute2 sends them. */
const tableByte = (r: AnyRouteSpec): number => {
  const table = r.table ?? RT_TABLE.MAIN;
  return table < 256 ? table : 0;
};

const onlinkFlag = (r: AnyRouteSpec): number => (r.onlink ? RTNH_F.ONLINK : 0);

function newRoute(flags: number, r: AnyRouteSpec): MessageBuilder {
  // A route without a gateway is on-link (scope link), as `ip route` does;
  // IPv6 routes are always scope universe.
  const family = isV6(r) ? AF_INET6 : AF_INET;
  const scope = r.gateway === undefined && family === AF_INET ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE;
  const header = encodeRt({ family, dstLength: r.dst.length, table: tableByte(r), protocol: r.protocol ?? RTPROT.BOOT, scope, type: RTN.UNICAST, flags: onlinkFlag(r) });
  return routeAttrs(new MessageBuilder(RTM.NEWROUTE, flags).bytes(header), r);
}

export const routeRequests = {
  /** ip -4 route show table all (family AF_INET6: ip -6 route show table all) */
  list: (family = AF_INET) => new MessageBuilder(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeRt({ family })),
  /** ip route add DST [via GW] [dev X] [metric N] [table T] */
  add: (r: AnyRouteSpec) => newRoute(ACK | NLM_F.CREATE | NLM_F.EXCL, r),
  /** ip route replace DST [via GW] [dev X] [metric N] [table T] */
  replace: (r: AnyRouteSpec) => newRoute(ACK | NLM_F.CREATE | NLM_F.REPLACE, r),
  /** ip route del DST [via GW] [dev X] [metric N] [table T] */
  del: (r: AnyRouteSpec) =>
    routeAttrs(
      new MessageBuilder(RTM.DELROUTE, ACK).bytes(encodeRt({ family: isV6(r) ? AF_INET6 : AF_INET, dstLength: r.dst.length, table: tableByte(r), scope: RT_SCOPE.NOWHERE, flags: onlinkFlag(r) })),
      r,
    ),
};

const ip4 = (a: Uint8Array | undefined): number | undefined => (a && a.length >= 4 ? get32(a, 0) : undefined);

export function decodeRoute(m: NlMessage): Route {
  const h = decodeRt(m.data);
  const attrs = parseAttrs(m.data, RTMSG_LEN);
  const network = ip4(attrs.get(RTA.DST)) ?? 0;
  return {
    dst: { network, address: network, length: h.dstLength },
    gateway: ip4(attrs.get(RTA.GATEWAY)),
    oif: attrU32(attrs.get(RTA.OIF)),
    metric: attrU32(attrs.get(RTA.PRIORITY)),
    prefsrc: ip4(attrs.get(RTA.PREFSRC)),
    table: attrU32(attrs.get(RTA.TABLE)) ?? h.table,
    protocol: h.protocol,
    scope: h.scope,
    type: h.type,
    flags: h.flags,
    ...(h.flags & RTNH_F.ONLINK ? { onlink: true } : {}),
  };
}

/**
 * ip -4 route show [table T]: unicast routes of one table (main by default).
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function routeList(nl: NetlinkSocket, table: number = RT_TABLE.MAIN): Route[] {
  return nl
    .dump('list routes', routeRequests.list())
    .filter((m) => m.type === RTM.NEWROUTE && m.data[0] === AF_INET)
    .map(decodeRoute)
    .filter((r) => r.table === table && r.type === RTN.UNICAST);
}

const ip6 = (a: Uint8Array | undefined): Uint8Array | undefined => (a && a.length >= 16 ? Uint8Array.from(a.subarray(0, 16)) : undefined);

export function decodeRoute6(m: NlMessage): Route6 {
  const h = decodeRt(m.data);
  const attrs = parseAttrs(m.data, RTMSG_LEN);
  const network = networkOf(ip6(attrs.get(RTA.DST)) ?? new Uint8Array(16), h.dstLength);
  return {
    dst: { network, address: network, length: h.dstLength },
    gateway: ip6(attrs.get(RTA.GATEWAY)),
    oif: attrU32(attrs.get(RTA.OIF)),
    metric: attrU32(attrs.get(RTA.PRIORITY)),
    prefsrc: ip6(attrs.get(RTA.PREFSRC)),
    table: attrU32(attrs.get(RTA.TABLE)) ?? h.table,
    protocol: h.protocol,
    type: h.type,
    flags: h.flags,
    ...(h.flags & RTNH_F.ONLINK ? { onlink: true } : {}),
  };
}

/**
 * ip -6 route show [table T]: unicast routes of one table (main by default).
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function route6List(nl: NetlinkSocket, table: number = RT_TABLE.MAIN): Route6[] {
  return nl
    .dump('list routes', routeRequests.list(AF_INET6))
    .filter((m) => m.type === RTM.NEWROUTE && m.data[0] === AF_INET6)
    .map(decodeRoute6)
    .filter((r) => r.table === table && r.type === RTN.UNICAST);
}

/**
 * `ip route add` (either family).
 * @throws NetlinkError (`TUN_ERR_NETLINK`: EEXIST, ENETUNREACH, ...; `TUN_ERR_PERMISSION`).
 */
export function routeAdd(nl: NetlinkSocket, r: RouteSpec | Route6Spec): void {
  nl.ack(`add route ${describeRoute(r)}`, routeRequests.add(r));
}

/**
 * `ip route replace` (either family).
 * @throws NetlinkError (`TUN_ERR_NETLINK`, `TUN_ERR_PERMISSION`).
 */
export function routeReplace(nl: NetlinkSocket, r: RouteSpec | Route6Spec): void {
  nl.ack(`replace route ${describeRoute(r)}`, routeRequests.replace(r));
}

/**
 * `ip route del` (either family).
 * @throws NetlinkError (`TUN_ERR_NETLINK`: ESRCH when there is no such route; `TUN_ERR_PERMISSION`).
 */
export function routeDelete(nl: NetlinkSocket, r: RouteSpec | Route6Spec): void {
  nl.ack(`delete route ${describeRoute(r)}`, routeRequests.del(r));
}

/** `10.245.0.0/16 via 10.244.9.2 dev#3 metric 7` (or its IPv6 twin), for messages. */
export function describeRoute(r: RouteSpec | Route6Spec): string {
  let dst: string;
  let via: string | undefined;
  if (isV6(r)) {
    dst = r.dst.length === 0 ? 'default' : formatCidr6(r.dst, false);
    via = r.gateway && formatIPv6(r.gateway);
  } else {
    dst = r.dst.length === 0 ? 'default' : formatCidr({ ...r.dst, address: (r.dst.network & prefixMask(r.dst.length)) >>> 0 });
    via = r.gateway !== undefined ? formatIPv4(r.gateway) : undefined;
  }
  const table = r.table !== undefined && r.table !== RT_TABLE.MAIN ? `table ${r.table}` : '';
  return [dst, via ? `via ${via}` : '', r.oif !== undefined ? `dev#${r.oif}` : '', r.metric !== undefined ? `metric ${r.metric}` : '', table]
    .filter(Boolean)
    .join(' ');
}
