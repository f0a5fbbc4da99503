// The overlay's MTU policy, shared by the daemon and doctor.
import { TRANSPORT_OVERHEAD } from '../wireguard/messages.js';

/** Outer IPv4 (20) + UDP (8) headers around every inner packet. */
export const ENCAP_OVERHEAD = 28;

/** The largest inner packet that fits one datagram on an underlay of `underlayMtu` (less WireGuard's header and tag when `sealed`). */
export function overlayPathMtu(underlayMtu: number, sealed = false): number {
  return underlayMtu - ENCAP_OVERHEAD - (sealed ? TRANSPORT_OVERHEAD : 0);
}
