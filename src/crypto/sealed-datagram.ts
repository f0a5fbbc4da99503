// The authenticated overlay's datagram: a 16-byte header, the inner IP
// packet encrypted, a 16-byte tag.
//
//   0      type 0x01 (a plain datagram starts with 0x4_, an IPv4 header)
//   1      reserved, 0
//   2..7   epoch: the sender's start time in ms (48 bits), new at every start
//   8..15  counter: 0, 1, 2, ... per (sender, receiver, epoch); the nonce
//
// The header is the AEAD's associated data, so none of it can be changed.

export const SEALED_TYPE = 0x01;
export const SEALED_HEADER = 16;
export const SEALED_TAG = 16;
/** Bytes a sealed datagram adds to the inner packet. */
export const SEALED_OVERHEAD = SEALED_HEADER + SEALED_TAG;

/** Writes the header at buf[off]. `epoch` < 2^48 and `counter` < 2^53. */
export function writeSealedHeader(buf: Uint8Array, off: number, epoch: number, counter: number): void {
  buf[off] = SEALED_TYPE;
  buf[off + 1] = 0;
  writeUint(buf, off + 2, 6, epoch);
  writeUint(buf, off + 8, 8, counter);
}

export function sealedEpoch(buf: Uint8Array, off: number): number {
  return readUint(buf, off + 2, 6);
}

export function sealedCounter(buf: Uint8Array, off: number): number {
  return readUint(buf, off + 8, 8);
}

function writeUint(buf: Uint8Array, off: number, bytes: number, value: number): void {
  for (let i = bytes - 1; i >= 0; i--) {
    buf[off + i] = value % 256;
    value = Math.floor(value / 256);
  }
}

/** Big-endian; exact up to 2^53 (a larger counter reads as a value the window refuses or a tag that fails). */
function readUint(buf: Uint8Array, off: number, bytes: number): number {
  let v = 0;
  for (let i = 0; i < bytes; i++) v = v * 256 + buf[off + i];
  return v;
}
