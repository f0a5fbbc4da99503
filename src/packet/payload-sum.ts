// The checksum sum over whole TCP/UDP segments, which the TUN offload path
// computes for every segment it splits and every one it validates before a
// merge. bench/checksum.ts measured the kernels (docs/benchmarks.md): the
// addon's native loop wins on payload-sized ranges, so that is the one used;
// sumWords32 is the portable TypeScript one, kept for the benchmark and as
// the reference in tests.
import { native } from '../native/addon.js';
import { get32 } from './bytes.js';
import { sumWords } from './checksum.js';
import { pseudoHeaderSum } from './udp.js';

/** Partial sum of buf[start, end) plus `initial`, folded to 16 bits, not complemented. */
export type SumFn = (buf: Uint8Array, start: number, end: number, initial: number) => number;

/** The Internet checksum's 32-bit partial sum over buf[start, end), added to `initial`: the addon's native kernel (bench:checksum chose it). */
export const payloadSum: SumFn = native.checksumSum;

/** The TCP/UDP pseudo-header sum for the IP header at ipOff, of either family (RFC 793 / 768; RFC 8200 section 8.1). */
export function ipPseudoHeaderSum(buf: Uint8Array, ipOff: number, protocol: number, l4Length: number): number {
  if (buf[ipOff] >>> 4 === 6) return sumWords(buf, ipOff + 8, ipOff + 40, protocol + (l4Length >>> 16) + (l4Length & 0xffff));
  return pseudoHeaderSum(get32(buf, ipOff + 12), get32(buf, ipOff + 16), protocol, l4Length);
}

/** The full checksum field value for the L4 segment buf[l4Off, end) (its checksum field must be zero). */
export function l4Checksum(sum: SumFn, buf: Uint8Array, ipOff: number, l4Off: number, end: number, protocol: number): number {
  return ~sum(buf, l4Off, end, ipPseudoHeaderSum(buf, ipOff, protocol, end - l4Off)) & 0xffff;
}

/** Whether the L4 segment's checksum (field included) verifies. */
export function l4ChecksumValid(sum: SumFn, buf: Uint8Array, ipOff: number, l4Off: number, end: number, protocol: number): boolean {
  return sum(buf, l4Off, end, ipPseudoHeaderSum(buf, ipOff, protocol, end - l4Off)) === 0xffff;
}
