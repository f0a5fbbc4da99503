// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/**
 * Adds the 16-bit big-endian words of buf[start, end) to `initial` without
 * folding (an odd trailing byte is padded with zero). Chain calls to sum a
 * pseudo-header and a payload, then finish with foldChecksum().
 */
export function sumWords(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  // 32-bit partial sums stay exact for any packet up to 64 KiB.
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  return sum;
}

/**
 * The same sum as sumWords, folded to 16 bits (not complemented), reading
 * 32-bit words: for whole payloads (RFC 1071 section 2: the sum does not
 * depend on how the words are grouped). One of the kernels that
 * bench/checksum.ts compares.
 */
export function sumWords32(buf: Uint8Array, start: number, end: number, initial = 0): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let sum = initial;
  let i = start;
  for (; i + 3 < end; i += 4) {
    const w = view.getUint32(i);
    sum += (w >>> 16) + (w & 0xffff);
  }
  for (; i + 1 < end; i += 2) sum += view.getUint16(i);
  if (i < end) sum += buf[i] << 8;
  return foldPartial(sum);
}

/** Folds a partial sum to 16 bits without complementing it (a CHECKSUM_PARTIAL seed, or a sum to add more to). */
export function foldPartial(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Folds a partial sum to 16 bits and complements it: the field value. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of buf[start, end), as written into a header field. */
export function checksum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  return foldChecksum(sumWords(buf, start, end, initial));
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered
 * data changed from `oldWord` to `newWord`: HC' = ~(~HC + ~m + m').
 */
export function updateChecksum16(check: number, oldWord: number, newWord: number): number {
  let sum = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The same for a 32-bit value (an IPv4 address): two word updates. */
export function updateChecksum32(check: number, oldValue: number, newValue: number): number {
  const high = updateChecksum16(check, oldValue >>> 16, newValue >>> 16);
  return updateChecksum16(high, oldValue & 0xffff, newValue & 0xffff);
}
