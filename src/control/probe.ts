// A live probe: the stages one ICMP echo (picked by its identifier) passes
// through a daemon, with the time each was first reached. Armed over the
// control socket by `tun-driver doctor`; the data path pays one comparison
// per packet while a probe is armed, and a null check otherwise.

/** In order: read from the TUN, handed to the network socket, answer received, written into the TUN. */
export const PROBE_STAGES = ['tun-in', 'sent', 'from-network', 'tun-out'] as const;
export type ProbeStage = (typeof PROBE_STAGES)[number];

/** What an engine offers doctor's live probe: a slot for the armed probe. */
export interface Probeable {
  probe?: Probe;
}

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

/** The echo types of each family: [request, reply]. */
const ECHO4 = [8, 0] as const;
const ECHO6 = [128, 129] as const;
const ICMPV6 = 58;

/**
 * Whether the ICMP message at buf[o] is the probe's echo of `icmpType` (as
 * the near end sees it: a request on the way out, a reply on the way back;
 * a far probe matches the other echo type), identified by `id`.
 */
function isProbeEcho(probe: Probe, buf: Uint8Array, o: number, icmpType: number, echo: readonly [number, number], id?: number): boolean {
  const [request, reply] = echo;
  const type = probe.far ? (icmpType === request ? reply : icmpType === reply ? request : icmpType) : icmpType;
  return buf[o] === type && ((buf[o + 4] << 8) | buf[o + 5]) === (id ?? probe.icmpId);
}

/** Whether `ip` (a checked IPv4 packet) is the probe's ICMP echo of `icmpType` (see isProbeEcho). */
export function isProbePacket(probe: Probe | undefined, ip: { protocol: number; payloadLength: number; payloadOffset: number; buf: Uint8Array; fragmentOffset: number }, icmpType: number, id?: number): boolean {
  if (!probe || ip.protocol !== 1 || ip.fragmentOffset !== 0 || ip.payloadLength < 8) return false;
  return isProbeEcho(probe, ip.buf, ip.payloadOffset, icmpType, ECHO4, id);
}

/** The IPv6 twin of {@link isProbePacket}: the probe's ICMPv6 echo (128 request, 129 reply); fragments never match. */
export function isProbePacket6(probe: Probe | undefined, ip: { protocol: number; isFragment: boolean; upperLength: number; payloadOffset: number; buf: Uint8Array }, icmpType: number, id?: number): boolean {
  if (!probe || ip.protocol !== ICMPV6 || ip.isFragment || ip.upperLength < 8) return false;
  return isProbeEcho(probe, ip.buf, ip.payloadOffset, icmpType, ECHO6, id);
}
