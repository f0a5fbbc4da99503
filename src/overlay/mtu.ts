// The overlay's MTU policy, shared by the daemon and doctor.

/** Outer IPv4 (20) + UDP (8) headers around every inner packet. */
export const ENCAP_OVERHEAD = 28;

/** The largest inner packet that fits one datagram on an underlay of `underlayMtu`. */
export function overlayPathMtu(underlayMtu: number): number {
  return underlayMtu - ENCAP_OVERHEAD;
}
