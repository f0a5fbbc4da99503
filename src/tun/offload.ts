// Negotiating TUN offloads: which virtio features (TUNSETOFFLOAD) this
// reader takes. TSO4 lets the kernel hand over TCP super-packets, USO4 UDP
// ones (Linux 6.2+), CSUM is what both need. Flags the kernel does not know
// fail with EINVAL: try the full set, then without USO, and report what held.
import { C, native } from '../native/addon.js';

/** TUN offloads: `auto` takes what the kernel offers, `on` fails without TSO4, `off` reads one plain packet per syscall. */
export type OffloadMode = 'on' | 'off' | 'auto';

/** What the kernel agreed to when the TUN was opened (`LinuxTun.offload`). */
export interface OffloadState {
  /** The TUN was opened with IFF_VNET_HDR: every packet carries a virtio header. */
  vnetHdr: boolean;
  /** TUN_F_* flags the kernel accepted. */
  flags: number;
  /** What a person reads in `status` / `tun show`: "csum tso4 uso4", or "off". */
  summary: string;
  /** Why an offload is not on, where one is not (EINVAL from an older kernel, ...). */
  note?: string;
}

export const OFFLOADS_OFF: OffloadState = { vnetHdr: false, flags: 0, summary: 'off' };

const NAMES: Array<[number, string]> = [
  [C.TUN_F_CSUM, 'csum'], [C.TUN_F_TSO4, 'tso4'], [C.TUN_F_TSO6, 'tso6'], [C.TUN_F_USO4, 'uso4'], [C.TUN_F_USO6, 'uso6'],
];

export function describeOffloads(flags: number): string {
  const names = NAMES.filter(([f]) => flags & f).map(([, n]) => n);
  return names.length ? names.join(' ') : 'off';
}

/**
 * The candidates, best first. TSO6 is asked for with TSO4 (a dual-stack
 * overlay carries IPv6 TCP; the splitter handles both families). USO needs
 * USO4 and USO6 together (the kernel has one UDP segmentation feature for
 * both families, and the TUN turns it on only when both are set).
 */
const CANDIDATES = [
  C.TUN_F_CSUM | C.TUN_F_TSO4 | C.TUN_F_TSO6 | C.TUN_F_USO4 | C.TUN_F_USO6,
  C.TUN_F_CSUM | C.TUN_F_TSO4 | C.TUN_F_TSO6,
  C.TUN_F_CSUM | C.TUN_F_TSO4,
];

/** Sets the best offloads the kernel takes on a fd opened with IFF_VNET_HDR. Throws only if even CSUM|TSO4 is refused. */
export function negotiateOffloads(fd: number): OffloadState {
  let lastError: unknown;
  for (const flags of CANDIDATES) {
    try {
      native.tunSetOffload(fd, flags);
      const note = flags & C.TUN_F_USO4 ? undefined : `uso4 refused (${(lastError as { code?: string })?.code ?? 'EINVAL'}): UDP super-packets stay off`;
      return { vnetHdr: true, flags, summary: describeOffloads(flags), note };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
