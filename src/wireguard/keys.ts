// Node keys, WireGuard's way: an X25519 private key is 32 random bytes
// written in base64, its public key likewise (what `wg genkey` and
// `wg pubkey` print, and what a lease carries).
import { KeyObject } from 'node:crypto';
import { TunDriverError } from '../errors.js';
import { privateKeyObject, publicBytesOf, newPrivateKey } from './primitives.js';

export const KEY_BYTES = 32;

/** A node's own key pair, with the public key in the form the control plane publishes. */
export interface NodeKeyPair {
  privateKey: KeyObject;
  /** Base64 of the 32-byte X25519 public key. */
  publicKey: string;
  /** The same, as bytes. */
  publicBytes: Uint8Array;
}

/** A new X25519 private key, base64 (what `tun-driver keygen` prints). */
export function generatePrivateKey(): string {
  return Buffer.from(newPrivateKey().raw).toString('base64');
}

/**
 * Decodes a base64 key of 32 bytes.
 * @throws TunDriverError `TUN_ERR_USAGE` naming `what` when it is not one.
 */
export function decodeKey(text: string, what: string): Uint8Array {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== trimmed) {
    throw new TunDriverError('TUN_ERR_USAGE', `${what} is not a key: expected 44 characters of base64 (32 bytes), as tun-driver keygen / pubkey print`);
  }
  return new Uint8Array(bytes);
}

/** Whether `text` is a key as keygen / pubkey print it (base64 of 32 bytes). */
export function isKeyText(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  try {
    decodeKey(text, 'a key');
    return true;
  } catch {
    return false;
  }
}

/** The key pair of a base64 private key. @throws TunDriverError `TUN_ERR_USAGE` for a malformed key. */
export function keyPairOf(privateBase64: string, what = 'the private key'): NodeKeyPair {
  const privateKey = privateKeyObject(decodeKey(privateBase64, what));
  const publicBytes = publicBytesOf(privateKey);
  return { privateKey, publicKey: Buffer.from(publicBytes).toString('base64'), publicBytes };
}

/** Base64 public key of a base64 private key (what `tun-driver pubkey` prints). */
export function publicKeyOf(privateBase64: string): string {
  return keyPairOf(privateBase64).publicKey;
}
