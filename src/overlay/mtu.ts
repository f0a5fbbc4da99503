// The overlay's MTU policy, shared by the daemon and doctor.
import { SEALED_OVERHEAD } from '../crypto/sealed-datagram.js';

/** Outer IPv4 (20) + UDP (8) headers around every inner packet. */
export const ENCAP_OVERHEAD = 28;

/** The largest inner packet that fits one datagram on an underlay of `underlayMtu` (less the sealed header and tag when `sealed`). */
export function overlayPathMtu(underlayMtu: number, sealed = false): number {
  return underlayMtu - ENCAP_OVERHEAD - (sealed ? SEALED_OVERHEAD : 0);
}
