// Reverse-path filtering, the article's lost day (section 3.5): replies
// written into the TUN carry the remote host's address as source, but the
// route back to that address leaves through the underlay, not the TUN, so
// strict mode (rp_filter=1) drops them. The kernel uses the maximum of
// conf.all.rp_filter and conf.<dev>.rp_filter; loose mode (2) or off (0)
// lets the replies in.
import { sysctlRead, sysctlWrite } from '../netns/sysctl.js';
import { Logger } from '../log.js';

export type RpFilterMode = 'fix' | 'check' | 'off';
export const RP_FILTER_MODES: readonly RpFilterMode[] = ['fix', 'check', 'off'];

const MEANING = ['off', 'strict', 'loose'];

export interface RpFilterReading {
  all: number;
  device: number;
  /** max(all, device): what the kernel applies to packets arriving on the device. */
  effective: number;
}

export function effectiveRpFilter(all: number, device: number): number {
  return Math.max(all, device);
}

export function readRpFilter(device: string): RpFilterReading {
  const all = Number(sysctlRead('net.ipv4.conf.all.rp_filter'));
  const dev = Number(sysctlRead(`net/ipv4/conf/${device}/rp_filter`)); // a device name may have dots (flannel.1)
  return { all, device: dev, effective: effectiveRpFilter(all, dev) };
}

/**
 * Applies `mode` to `device`. Returns a function that undoes what was
 * changed (a no-op when nothing was).
 */
export function applyRpFilter(device: string, mode: RpFilterMode, log: Logger): () => void {
  if (mode === 'off') return () => {};
  const r = readRpFilter(device);
  if (r.effective !== 1) return () => {};
  const why = `reverse-path filtering is strict on ${device} (net.ipv4.conf.all.rp_filter=${r.all}, net.ipv4.conf.${device}.rp_filter=${r.device}; the kernel uses the larger, ${MEANING[r.effective]}), which drops the replies the relay writes into ${device}`;
  const fixCommand = `sysctl -w net.ipv4.conf.${device}.rp_filter=2`;
  if (mode === 'check') {
    log.warn(`${why}: fix it with \`${fixCommand}\` (or run the relay with --rp-filter fix)`, { rpFilter: r });
    return () => {};
  }
  // max(all=1, device=2) = 2: loosening the device alone is enough, and touches nothing else.
  sysctlWrite(`net/ipv4/conf/${device}/rp_filter`, 2);
  log.info(`${why}: set net.ipv4.conf.${device}.rp_filter=2 (loose) until exit`, { rpFilter: r });
  return () => {
    try {
      sysctlWrite(`net/ipv4/conf/${device}/rp_filter`, r.device);
    } catch {
      // the device is gone (we deleted it): nothing left to restore
    }
  };
}
