// IPv4 addresses as unsigned 32-bit numbers, and CIDR prefixes.

/** An IPv4 prefix as unsigned 32-bit numbers (host order), e.g. 10.244.1.3/24. */
export interface Prefix {
  /** Network address (host bits cleared). */
  network: number;
  /** The address as written (host bits kept), e.g. 10.244.1.3 of 10.244.1.3/24. */
  address: number;
  length: number;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad IPv4; returns undefined for anything else. */
export function parseIPv4(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i].length > 1 && m[i][0] === '0')) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Dotted quad of an unsigned 32-bit address. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

export function prefixMask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/**
 * Parses "a.b.c.d/len"; throws an Error that says what is wrong.
 * @throws Error (not a TunDriverError: callers add the flag or file it came from) saying what is wrong.
 */
export function parseCidr(text: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIPv4(addrText);
  if (address === undefined) throw new Error(`"${text}" is not an IPv4 address/prefix (expected e.g. 10.244.1.1/24)`);
  if (slash < 0) throw new Error(`"${text}" has no prefix length (expected e.g. ${addrText}/24)`);
  const lenText = text.slice(slash + 1);
  const length = /^\d{1,2}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(length >= 0 && length <= 32)) throw new Error(`"${text}" has prefix length ${lenText}: it must be 0 to 32`);
  return { network: (address & prefixMask(length)) >>> 0, address, length };
}

/** "a.b.c.d/len": the address as written, or (withHostBits false) the network address. */
export function formatCidr(p: Prefix, withHostBits = true): string {
  return `${formatIPv4(withHostBits ? p.address : p.network)}/${p.length}`;
}

/** Whether two prefixes are the same network (host bits ignored). */
export function samePrefix(a: Prefix, b: Prefix): boolean {
  return a.network === b.network && a.length === b.length;
}

/** Whether `address` lies inside `p`. */
export function prefixContains(p: Prefix, address: number): boolean {
  return ((address & prefixMask(p.length)) >>> 0) === p.network;
}

/** IPv4 address as the 4 network-order bytes netlink and sockets expect. */
export function ipv4Bytes(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}
