// IPv4 routes over rtnetlink, main table (see link.ts for the layout).
import { formatCidr, formatIPv4, ipv4Bytes, Prefix, prefixMask } from '../packet/addr.js';
import { get32 } from '../packet/bytes.js';
import { MessageBuilder, NlMessage, parseAttrs, attrU32 } from './nl/codec.js';
import { AF_INET, NLM_F, RT_SCOPE, RT_TABLE, RTA, RTM, RTN, RTPROT } from './nl/constants.js';
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
}

/** A route as the kernel lists it. */
export interface Route extends RouteSpec {
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

const ACK = NLM_F.REQUEST | NLM_F.ACK;

function routeAttrs(b: MessageBuilder, r: RouteSpec): MessageBuilder {
  // Attribute order as iproute2 sends it.
  if (r.dst.length > 0) b.attr(RTA.DST, ipv4Bytes(r.dst.network));
  if (r.gateway !== undefined) b.attr(RTA.GATEWAY, ipv4Bytes(r.gateway));
  if (r.metric !== undefined) b.attrU32(RTA.PRIORITY, r.metric);
  if (r.prefsrc !== undefined) b.attr(RTA.PREFSRC, ipv4Bytes(r.prefsrc));
  if (r.oif !== undefined) b.attrU32(RTA.OIF, r.oif);
  return b;
}

function newRoute(flags: number, r: RouteSpec): MessageBuilder {
  // A route without a gateway is on-link (scope link), as `ip route` does.
  const scope = r.gateway === undefined ? RT_SCOPE.LINK : RT_SCOPE.UNIVERSE;
  const header = encodeRt({ dstLength: r.dst.length, table: RT_TABLE.MAIN, protocol: RTPROT.BOOT, scope, type: RTN.UNICAST });
  return routeAttrs(new MessageBuilder(RTM.NEWROUTE, flags).bytes(header), r);
}

export const routeRequests = {
  /** ip -4 route show table all */
  list: () => new MessageBuilder(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP).bytes(encodeRt({ family: AF_INET })),
  /** ip route add DST [via GW] [dev X] [metric N] */
  add: (r: RouteSpec) => newRoute(ACK | NLM_F.CREATE | NLM_F.EXCL, r),
  /** ip route replace DST [via GW] [dev X] [metric N] */
  replace: (r: RouteSpec) => newRoute(ACK | NLM_F.CREATE | NLM_F.REPLACE, r),
  /** ip route del DST [via GW] [dev X] [metric N] */
  del: (r: RouteSpec) =>
    routeAttrs(
      new MessageBuilder(RTM.DELROUTE, ACK).bytes(encodeRt({ dstLength: r.dst.length, table: RT_TABLE.MAIN, scope: RT_SCOPE.NOWHERE })),
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
  };
}

/**
 * ip -4 route show [table T]: unicast routes of one table (main by default).
 * @throws NetlinkError (`TUN_ERR_NETLINK` with the errno, or `TUN_ERR_PERMISSION`) when the kernel refuses.
 */
export function routeList(nl: NetlinkSocket, table: number = RT_TABLE.MAIN): Route[] {
  return nl
    .dump('list routes', routeRequests.list())
    .filter((m) => m.type === RTM.NEWROUTE)
    .map(decodeRoute)
    .filter((r) => r.table === table && r.type === RTN.UNICAST);
}

/**
 * `ip route add`.
 * @throws NetlinkError (`TUN_ERR_NETLINK`: EEXIST, ENETUNREACH, ...; `TUN_ERR_PERMISSION`).
 */
export function routeAdd(nl: NetlinkSocket, r: RouteSpec): void {
  nl.ack(`add route ${describeRoute(r)}`, routeRequests.add(r));
}

/**
 * `ip route replace`.
 * @throws NetlinkError (`TUN_ERR_NETLINK`, `TUN_ERR_PERMISSION`).
 */
export function routeReplace(nl: NetlinkSocket, r: RouteSpec): void {
  nl.ack(`replace route ${describeRoute(r)}`, routeRequests.replace(r));
}

/**
 * `ip route del`.
 * @throws NetlinkError (`TUN_ERR_NETLINK`: ESRCH when there is no such route; `TUN_ERR_PERMISSION`).
 */
export function routeDelete(nl: NetlinkSocket, r: RouteSpec): void {
  nl.ack(`delete route ${describeRoute(r)}`, routeRequests.del(r));
}

/** `10.245.0.0/16 via 10.244.9.2 dev#3 metric 7`, for messages. */
export function describeRoute(r: RouteSpec): string {
  const dst = r.dst.length === 0 ? 'default' : formatCidr({ ...r.dst, address: (r.dst.network & prefixMask(r.dst.length)) >>> 0 });
  return [dst, r.gateway !== undefined ? `via ${formatIPv4(r.gateway)}` : '', r.oif !== undefined ? `dev#${r.oif}` : '', r.metric !== undefined ? `metric ${r.metric}` : '']
    .filter(Boolean)
    .join(' ');
}
