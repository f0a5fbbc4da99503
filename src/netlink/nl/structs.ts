// The fixed family headers that follow nlmsghdr in rtnetlink messages.
import { AF_INET } from './constants.js';

/** struct ifinfomsg (16 bytes). */
export interface IfInfoMsg {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}

export function encodeIfInfo(m: Partial<IfInfoMsg>): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, m.family ?? 0);
  v.setUint16(2, m.type ?? 0, true);
  v.setInt32(4, m.index ?? 0, true);
  v.setUint32(8, m.flags ?? 0, true);
  v.setUint32(12, m.change ?? 0, true);
  return b;
}

export function decodeIfInfo(d: Uint8Array): IfInfoMsg {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return { family: v.getUint8(0), type: v.getUint16(2, true), index: v.getInt32(4, true), flags: v.getUint32(8, true), change: v.getUint32(12, true) };
}

/** struct ifaddrmsg (8 bytes). */
export interface IfAddrMsg {
  family: number;
  prefixLength: number;
  flags: number;
  scope: number;
  index: number;
}

export function encodeIfAddr(m: Partial<IfAddrMsg>): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, m.family ?? AF_INET);
  v.setUint8(1, m.prefixLength ?? 0);
  v.setUint8(2, m.flags ?? 0);
  v.setUint8(3, m.scope ?? 0);
  v.setUint32(4, m.index ?? 0, true);
  return b;
}

export function decodeIfAddr(d: Uint8Array): IfAddrMsg {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return { family: v.getUint8(0), prefixLength: v.getUint8(1), flags: v.getUint8(2), scope: v.getUint8(3), index: v.getUint32(4, true) };
}

/** struct rtmsg (12 bytes). */
export interface RtMsg {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

export function encodeRt(m: Partial<RtMsg>): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint8(0, m.family ?? AF_INET);
  v.setUint8(1, m.dstLength ?? 0);
  v.setUint8(2, m.srcLength ?? 0);
  v.setUint8(3, m.tos ?? 0);
  v.setUint8(4, m.table ?? 0);
  v.setUint8(5, m.protocol ?? 0);
  v.setUint8(6, m.scope ?? 0);
  v.setUint8(7, m.type ?? 0);
  v.setUint32(8, m.flags ?? 0, true);
  return b;
}

export function decodeRt(d: Uint8Array): RtMsg {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  return {
    family: v.getUint8(0), dstLength: v.getUint8(1), srcLength: v.getUint8(2), tos: v.getUint8(3), table: v.getUint8(4),
    protocol: v.getUint8(5), scope: v.getUint8(6), type: v.getUint8(7), flags: v.getUint32(8, true),
  };
}

export const IFINFO_LEN = 16;
export const IFADDR_LEN = 8;
export const RTMSG_LEN = 12;

/** struct fib_rule_hdr (12 bytes): the header of RTM_NEWRULE/DELRULE (`ip rule`). */
export interface FibRuleHdr {
  family: number;
  table: number;
  action: number;
}

export function encodeFibRule(m: FibRuleHdr): Uint8Array {
  const b = new Uint8Array(12);
  b[0] = m.family;
  b[4] = m.table < 256 ? m.table : 0; // larger tables travel in FRA_TABLE
  b[7] = m.action;
  return b;
}
