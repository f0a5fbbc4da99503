// The overlay's MTU policy, shared by the daemon and doctor.
import { TRANSPORT_OVERHEAD } from '../wireguard/messages.js';

/** Outer IPv4 (20) + UDP (8) headers around every inner packet. */
export const ENCAP_OVERHEAD = 28;
/** The same over an IPv6 underlay (--public-ipv6): outer IPv6 (40) + UDP (8). */
export const ENCAP_OVERHEAD_IPV6 = 48;

/** The outer headers' bytes: over the IPv6 underlay when `ipv6Underlay` (one MTU serves every peer: the smaller). */
export function encapOverhead(ipv6Underlay = false): number {
  return ipv6Underlay ? ENCAP_OVERHEAD_IPV6 : ENCAP_OVERHEAD;
}

/**
 * The largest inner packet that fits one datagram on an underlay of
 * `underlayMtu` (less WireGuard's header and tag when `sealed`, and the
 * IPv6 outer header's 20 more bytes when `ipv6Underlay`).
 */
export function overlayPathMtu(underlayMtu: number, sealed = false, ipv6Underlay = false): number {
  return underlayMtu - encapOverhead(ipv6Underlay) - (sealed ? TRANSPORT_OVERHEAD : 0);
}
