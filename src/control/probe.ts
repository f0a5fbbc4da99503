// A live probe: the stages one ICMP echo (picked by its identifier) passes
// through a daemon, with the time each was first reached. Armed over the
// control socket by `tun-driver doctor`; the data path pays one comparison
// per packet while a probe is armed, and a null check otherwise.

/** In order: read from the TUN, handed to the network socket, answer received, written into the TUN. */
export const PROBE_STAGES = ['tun-in', 'sent', 'from-network', 'tun-out'] as const;
export type ProbeStage = (typeof PROBE_STAGES)[number];

/** A live probe armed by `tun-driver doctor`: the stages one ICMP echo (by identifier) reached in a daemon, with times. */
export class Probe {
  readonly reached = new Map<ProbeStage, number>();
  /** Why the daemon stopped the packet, when it said (a drop reason or errno). */
  stoppedBecause?: string;

  /**
   * far: this daemon is at the destination end of the probe's path (the
   * lab page arms both ends), so it watches for the echo request coming in
   * from the network and the reply going out: the same stages, for the
   * opposite echo types.
   */
  constructor(readonly icmpId: number, readonly far = false, readonly armedAt = Date.now()) {}

  /** Records the first time `stage` was reached (milliseconds since arming). */
  mark(stage: ProbeStage): void {
    if (!this.reached.has(stage)) this.reached.set(stage, Date.now() - this.armedAt);
  }

  /** {icmpId, far, armedAt (wall clock ms), reached: {stage: ms after arming}, stoppedBecause}, as `doctor` shows it. */
  toJSON(): Record<string, unknown> {
    return { icmpId: this.icmpId, far: this.far, armedAt: this.armedAt, reached: Object.fromEntries(this.reached), stoppedBecause: this.stoppedBecause };
  }
}

const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;

/**
 * Whether `ip` (a checked IPv4 packet) is the probe's ICMP echo of
 * `icmpType` (as the near end sees it: a request on the way out, a reply on
 * the way back), identified by `id`. A far probe matches the other echo type.
 */
export function isProbePacket(probe: Probe | undefined, ip: { protocol: number; payloadLength: number; payloadOffset: number; buf: Uint8Array; fragmentOffset: number }, icmpType: number, id?: number): boolean {
  if (!probe || ip.protocol !== 1 || ip.fragmentOffset !== 0 || ip.payloadLength < 8) return false;
  const o = ip.payloadOffset;
  const type = probe.far ? (icmpType === ECHO_REQUEST ? ECHO_REPLY : icmpType === ECHO_REPLY ? ECHO_REQUEST : icmpType) : icmpType;
  return ip.buf[o] === type && ((ip.buf[o + 4] << 8) | ip.buf[o + 5]) === (id ?? probe.icmpId);
}

const ECHO6_REQUEST = 128;
const ECHO6_REPLY = 129;
const ICMPV6 = 58;

/**
 * The IPv6 twin of {@link isProbePacket}: whether the checked IPv6 packet
 * `ip` is the probe's ICMPv6 echo of `icmpType` (128 request, 129 reply, as
 * the near end sees it), identified by `id`. Fragments never match.
 */
export function isProbePacket6(probe: Probe | undefined, ip: { protocol: number; isFragment: boolean; upperLength: number; payloadOffset: number; buf: Uint8Array }, icmpType: number, id?: number): boolean {
  if (!probe || ip.protocol !== ICMPV6 || ip.isFragment || ip.upperLength < 8) return false;
  const o = ip.payloadOffset;
  const type = probe.far ? (icmpType === ECHO6_REQUEST ? ECHO6_REPLY : icmpType === ECHO6_REPLY ? ECHO6_REQUEST : icmpType) : icmpType;
  return ip.buf[o] === type && ((ip.buf[o + 4] << 8) | ip.buf[o + 5]) === (id ?? probe.icmpId);
}
