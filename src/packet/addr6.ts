// IPv6 addresses as 16 network-order bytes (RFC 4291 text form in, RFC
// 5952 canonical text out), IPv6 prefixes, and the family-tagged prefix
// that flags taking either family (`--address 10.244.1.3/24 --address
// fd00:1::3/64`) parse into.
import { formatCidr, parseCidr, Prefix } from './addr.js';

/** An IPv6 prefix, e.g. fd00:1::3/64. */
export interface Prefix6 {
  /** The address as written (host bits kept), 16 bytes. */
  address: Uint8Array;
  /** The network address (host bits cleared), 16 bytes. */
  network: Uint8Array;
  length: number;
}

/** A prefix of either family, tagged. */
export type AnyPrefix = { family: 4; prefix: Prefix } | { family: 6; prefix: Prefix6 };

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_TAIL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a group list ("2001:db8", "" or "::ffff:1.2.3.4"-style tail) into 16-bit words; undefined when malformed. */
function parseGroups(text: string, allowDotted: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (allowDotted && i === parts.length - 1 && part.includes('.')) {
      const m = DOTTED_TAIL.exec(part);
      if (!m) return undefined;
      const octets = m.slice(1).map(Number);
      if (octets.some((o, k) => o > 255 || (m[k + 1].length > 1 && m[k + 1][0] === '0'))) return undefined;
      words.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
      continue;
    }
    if (!HEX_GROUP.test(part)) return undefined;
    words.push(parseInt(part, 16));
  }
  return words;
}

/** Parses an IPv6 address in RFC 4291 text form (`::`, an IPv4 tail); undefined for anything else (zones are refused). */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45 || !text.includes(':')) return undefined;
  const gap = text.indexOf('::');
  let words: number[] | undefined;
  if (gap < 0) {
    words = parseGroups(text, true);
    if (!words || words.length !== 8) return undefined;
  } else {
    if (text.indexOf('::', gap + 1) >= 0) return undefined;
    const head = parseGroups(text.slice(0, gap), false);
    const tail = parseGroups(text.slice(gap + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = words[i] >>> 8;
    bytes[2 * i + 1] = words[i] & 0xff;
  }
  return bytes;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (2 or more) of zero groups as `::`, the first on a tie. */
export function formatIPv6(bytes: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[off + 2 * i] << 8) | bytes[off + 2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/**
 * The address at bytes[off, off+16) as a string of 8 UTF-16 code units,
 * one per 16-bit word: an exact Map key that costs no formatting, for a
 * table looked up per packet (the IPv6 relay's flows). Not for people:
 * {@link formatIPv6Key} gives the text.
 */
export function ipv6Key(bytes: Uint8Array, off = 0): string {
  const b = bytes;
  const o = off;
  return String.fromCharCode(
    (b[o] << 8) | b[o + 1], (b[o + 2] << 8) | b[o + 3], (b[o + 4] << 8) | b[o + 5], (b[o + 6] << 8) | b[o + 7],
    (b[o + 8] << 8) | b[o + 9], (b[o + 10] << 8) | b[o + 11], (b[o + 12] << 8) | b[o + 13], (b[o + 14] << 8) | b[o + 15],
  );
}

/** Writes the 16 bytes of an {@link ipv6Key} at out[off]. */
export function writeIPv6Key(key: string, out: Uint8Array, off = 0): void {
  for (let i = 0; i < 8; i++) {
    const w = key.charCodeAt(i);
    out[off + 2 * i] = w >>> 8;
    out[off + 2 * i + 1] = w & 0xff;
  }
}

/** RFC 5952 text of an {@link ipv6Key}. */
export function formatIPv6Key(key: string): string {
  const bytes = new Uint8Array(16);
  writeIPv6Key(key, bytes);
  return formatIPv6(bytes);
}

/** True when the address of `key` lies in `prefix`. */
export function ipv6KeyInPrefix(key: string, prefix: Prefix6): boolean {
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, prefix.length - 16 * i));
    if (bits === 0) return true;
    const mask = (0xffff << (16 - bits)) & 0xffff;
    const net = (prefix.network[2 * i] << 8) | prefix.network[2 * i + 1];
    if (((key.charCodeAt(i) ^ net) & mask) !== 0) return false;
  }
  return true;
}

/** The address with its host bits (beyond `length`) cleared. */
export function networkOf(address: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    out[i] = address[i] & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

/**
 * Parses "addr/len" of IPv6.
 * @throws Error (not a TunDriverError: callers add the flag or file it came from) saying what is wrong.
 */
export function parseCidr6(text: string): Prefix6 {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIPv6(addrText);
  if (!address) throw new Error(`"${text}" is not an IPv6 address/prefix (expected e.g. fd00:10:244:1::3/64)`);
  if (slash < 0) throw new Error(`"${text}" has no prefix length (expected e.g. ${addrText}/64)`);
  const lenText = text.slice(slash + 1);
  const length = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(length >= 0 && length <= 128)) throw new Error(`"${text}" has prefix length ${lenText}: it must be 0 to 128`);
  return { address, network: networkOf(address, length), length };
}

/** "addr/len": the address as written, or (withHostBits false) the network address. */
export function formatCidr6(p: Prefix6, withHostBits = true): string {
  return `${formatIPv6(withHostBits ? p.address : p.network)}/${p.length}`;
}

/** Whether the 16 bytes at bytes[off] lie inside `p`. */
export function prefix6Contains(p: Prefix6, bytes: Uint8Array, off = 0): boolean {
  const full = p.length >>> 3;
  for (let i = 0; i < full; i++) if (bytes[off + i] !== p.network[i]) return false;
  const bits = p.length & 7;
  if (bits === 0) return true;
  const mask = (0xff00 >> bits) & 0xff;
  return (bytes[off + full] & mask) === p.network[full];
}

/** Whether two 16-byte addresses are equal. */
export function sameIPv6(a: Uint8Array, aOff: number, b: Uint8Array, bOff = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/**
 * Parses a prefix of either family: IPv6 when the text holds a colon.
 * @throws Error saying what is wrong, in the words of the family it looked like.
 */
export function parseAnyCidr(text: string): AnyPrefix {
  return text.includes(':') ? { family: 6, prefix: parseCidr6(text) } : { family: 4, prefix: parseCidr(text) };
}

/** "addr/len" of either family. */
export function formatAnyCidr(p: AnyPrefix, withHostBits = true): string {
  return p.family === 6 ? formatCidr6(p.prefix, withHostBits) : formatCidr(p.prefix, withHostBits);
}
