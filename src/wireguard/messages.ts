// WireGuard's four messages, byte for byte (the paper, section 5.4; wireguard-go
// device/noise-protocol.go): their types, sizes and field offsets. Integers
// are little-endian; every message begins with a type byte and three zero
// bytes.

export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_COOKIE_REPLY = 3;
export const MSG_TRANSPORT = 4;

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
/** Transport header: type, reserved, receiver index, counter. */
export const TRANSPORT_HEADER = 16;
/** Bytes a transport message adds to its (padded) packet: the header and the Poly1305 tag. */
export const TRANSPORT_OVERHEAD = 32;
/** Packets are zero-padded to a multiple of this before sealing (bounded by the path MTU). */
export const PADDING_MULTIPLE = 16;

/** Offsets in an initiation. */
export const INIT = { sender: 4, ephemeral: 8, static: 40, timestamp: 88, mac1: 116, mac2: 132 } as const;
/** Offsets in a response. */
export const RESP = { sender: 4, receiver: 8, ephemeral: 12, empty: 44, mac1: 60, mac2: 76 } as const;
/** Offsets in a cookie reply. */
export const COOKIE = { receiver: 4, nonce: 8, cookie: 32 } as const;
/** Offsets in a transport message. */
export const DATA = { receiver: 4, counter: 8, payload: 16 } as const;

/** The message type of a datagram, or 0 when it is not a WireGuard message (wrong size for its type, or reserved bytes set). */
export function messageType(b: Uint8Array, off: number, size: number): number {
  if (size < 4 || b[off + 1] !== 0 || b[off + 2] !== 0 || b[off + 3] !== 0) return 0;
  const t = b[off];
  if (t === MSG_TRANSPORT) return size >= TRANSPORT_OVERHEAD ? t : 0;
  if (t === MSG_INITIATION) return size === INITIATION_SIZE ? t : 0;
  if (t === MSG_RESPONSE) return size === RESPONSE_SIZE ? t : 0;
  if (t === MSG_COOKIE_REPLY) return size === COOKIE_REPLY_SIZE ? t : 0;
  return 0;
}

export function readU32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/**
 * A transport message's 64-bit counter as a number, or -1 when it is 2^53
 * or more: an honest peer cannot send that many messages within
 * REJECT_AFTER_TIME, so such a counter is refused before any decryption.
 */
export function readCounter(b: Uint8Array, off: number): number {
  const hi = readU32(b, off + 4);
  if (hi >= 0x20_0000) return -1;
  return hi * 0x1_0000_0000 + readU32(b, off);
}

/** A message of `type` with its header written and the rest zero. */
export function newMessage(type: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  m[0] = type;
  return m;
}
