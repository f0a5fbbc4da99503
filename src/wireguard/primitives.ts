// WireGuard's primitives (the paper, section 5.4), each from where it is
// best kept: BLAKE2s-256, HMAC-BLAKE2s, ChaCha20-Poly1305 and X25519 from
// node:crypto (Node's OpenSSL); keyed BLAKE2s-128 (MAC) and
// XChaCha20-Poly1305 (cookie replies) from @noble, since node:crypto has
// neither. Nothing here is per packet: the transport's AEAD is the addon's
// batch kernel (keypair.ts). Inputs and outputs are Uint8Arrays.
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, KeyObject, randomBytes } from 'node:crypto';
import { blake2s } from '@noble/hashes/blake2.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const MAC_LEN = 16;

/** HASH(a || b || ...): BLAKE2s-256. */
export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** MAC(key, input): keyed BLAKE2s with a 16-byte output. */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_LEN });
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

/** KDF_n(key, input) of the paper: HKDF over HMAC-BLAKE2s, n outputs of 32 bytes. */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Uint8Array[] {
  const t0 = hmac(key, input);
  const t1 = hmac(t0, ONE);
  if (n === 1) return [t1];
  const t2 = hmac(t0, t1, TWO);
  if (n === 2) return [t1, t2];
  return [t1, t2, hmac(t0, t2, THREE)];
}

/** The 12-byte nonce of a 64-bit counter: 4 zero bytes, then the counter little-endian. */
function nonceOf(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter >>> 0, 4);
  n.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return n;
}

/** AEAD(key, counter, plaintext, aad): ChaCha20-Poly1305, ciphertext || tag. */
export function aeadSeal(key: Uint8Array, counter: number, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonceOf(counter), { authTagLength: TAG_LEN });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const out = Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
  return new Uint8Array(out);
}

/** The plaintext of aeadSeal's output, or undefined when it does not authenticate. */
export function aeadOpen(key: Uint8Array, counter: number, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < TAG_LEN) return undefined;
  const len = sealed.length - TAG_LEN;
  const d = createDecipheriv('chacha20-poly1305', key, nonceOf(counter), { authTagLength: TAG_LEN });
  d.setAAD(aad, { plaintextLength: len });
  d.setAuthTag(sealed.subarray(len));
  const out = d.update(sealed.subarray(0, len));
  try {
    d.final();
  } catch {
    return undefined;
  }
  return new Uint8Array(out);
}

/** XAEAD(key, nonce (24 bytes), plaintext, aad): XChaCha20-Poly1305 (cookie replies). */
export function xaeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** The plaintext of xaeadSeal's output, or undefined when it does not authenticate. */
export function xaeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

// Raw keys go in and out of node:crypto as JWK: an order of magnitude
// cheaper than the DER wrappers here (7 against 80 us to import a public
// key, bench:handshake's profile), and a handshake imports two.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** An X25519 private key (raw 32 bytes) as node:crypto's KeyObject. */
export function privateKeyObject(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function rawPublic(publicKey: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'));
}

/** The raw public key of a private KeyObject. */
export function publicBytesOf(privateKey: KeyObject): Uint8Array {
  return rawPublic(createPublicKey(privateKey));
}

/**
 * A new X25519 private key: 32 random bytes, clamped as `wg genkey` clamps
 * them, made a KeyObject from its PKCS#8 form. Not a KeyObject from
 * generateKeyPairSync: on Node 20.20, exporting such a key to JWK while a
 * garbage collection finalizes its key generation job deadlocks the
 * process (a unit-test run hung in ~KeyGenJob under
 * KeyObjectHandle::ExportJWK). For keys that are kept (not the per-handshake
 * ephemerals: importing costs ~0.5 ms).
 */
export function newPrivateKey(): { privateKey: KeyObject; raw: Uint8Array } {
  const raw = new Uint8Array(randomBytes(32));
  raw[0] &= 248;
  raw[31] = (raw[31] & 127) | 64;
  return { privateKey: privateKeyObject(raw), raw };
}

/**
 * A fresh ephemeral key pair (DH-Generate). The public key comes encoded
 * from the generation job itself (SPKI DER, its last 32 bytes), so no
 * generated key is ever exported afterwards (the deadlock above); the
 * private key is only ever used for DH.
 */
export function generateEphemeral(): { privateKey: KeyObject; publicKey: Uint8Array } {
  // node's typings have no overload for an encoded public key beside a KeyObject private key.
  const pair = generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' } } as object) as unknown as { privateKey: KeyObject; publicKey: Buffer };
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(pair.publicKey.subarray(pair.publicKey.length - 32)) };
}

/**
 * DH(private, public): X25519. undefined for an all-zero result (a
 * low-order public key), which WireGuard refuses as wireguard-go does.
 */
export function dh(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
  let secret: Uint8Array;
  try {
    const theirs = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    secret = new Uint8Array(diffieHellman({ privateKey, publicKey: theirs }));
  } catch {
    return undefined; // OpenSSL refuses an all-zero result itself
  }
  return secret.every((b) => b === 0) ? undefined : secret;
}

/** Constant-time equality of two byte arrays of one length. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const TAI64_BASE = 0x4000_0000_0000_000an;
/** Nanoseconds are floored to 2^24 ns (~16.8 ms), as wireguard-go does, so the timestamp does not serve as a fine clock to an observer. */
const WHITENER = 0x100_0000;

/** TAI64N of `ms` (ms since 1970, fractional allowed): 8 bytes of seconds + 2^62 + 10, 4 bytes of nanoseconds, big-endian. */
export function tai64n(ms: number): Uint8Array {
  const out = new Uint8Array(12);
  const dv = new DataView(out.buffer);
  const secs = Math.floor(ms / 1000);
  const nanos = Math.floor((ms - secs * 1000) * 1e6);
  dv.setBigUint64(0, TAI64_BASE + BigInt(secs));
  dv.setUint32(8, nanos - (nanos % WHITENER));
  return out;
}

/** a > b for two TAI64N timestamps (big-endian byte order is time order). */
export function tai64nAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}
