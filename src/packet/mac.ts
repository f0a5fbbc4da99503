// Ethernet (MAC) addresses as 6-byte arrays, and their text form
// "0e:4c:c6:33:64:01" as `ip link` prints it and flannel stores it
// (BackendData.VtepMAC).

/** Parses "aa:bb:cc:dd:ee:ff" (either case); undefined for anything else. */
export function parseMac(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** "aa:bb:cc:dd:ee:ff", lower case, as `ip link` prints it. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return a.length >= 6 && b.length >= 6;
}

/**
 * A unicast, locally administered MAC (first byte 0x0e: bit 1 set, bit 0
 * clear) that carries `address` in its last four bytes. A VTEP whose MAC
 * follows from its public IP needs no MAC in a hand-written leases file:
 * every node computes every other node's. `tag` tells families apart (one
 * node's IPv4 and IPv6 VTEPs must differ).
 */
export function macFromIPv4(address: number, tag = 0x4c): Uint8Array {
  return Uint8Array.of(0x0e, tag, (address >>> 24) & 0xff, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff);
}
