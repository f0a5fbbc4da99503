// AEAD over one sealed datagram, in place: the addon's AeadKey (OpenSSL
// contexts kept per key) and, for the benchmark and as an independent
// check in tests, node:crypto's one-object-per-call API. bench/aead.ts
// picked the native one and AES-256-GCM, which is faster than
// ChaCha20-Poly1305 where the CPU has AES instructions (docs/benchmarks.md).
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { native } from '../native/addon.js';
import { SEALED_HEADER, SEALED_TAG, writeSealedHeader } from './sealed-datagram.js';

export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

/** One key. The datagram at buf[off]: header (AAD, counter = nonce), payload, tag. */
export interface Aead {
  /** Encrypts buf[off+16, off+16+len) in place and writes the tag after it. */
  seal(buf: Uint8Array, off: number, len: number): void;
  /**
   * Writes each datagram's header (epoch, counter, counter + 1, ...) and seals it: lengths count header and tag. The
   * plaintext is each datagram's payload, or with `src` the packet at src[srcOffsets[srcFirst + i - first]].
   */
  sealBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, first: number, count: number, epoch: number, counter: number, src?: Uint8Array, srcOffsets?: Uint32Array, srcFirst?: number): void;
  /** Decrypts buf[off, off+total) in place; the payload length, or -1 when it does not authenticate. */
  open(buf: Uint8Array, off: number, total: number): number;
}

export function nativeAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead {
  return new native.AeadKey(algorithm === 'chacha20-poly1305' ? 0 : 1, key);
}

function nonceOf(buf: Uint8Array, off: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.set(buf.subarray(off + 8, off + 16), 4);
  return nonce;
}

/** node:crypto: a cipher object and output buffers per datagram. */
export function nodeAead(algorithm: AeadAlgorithm, key: Uint8Array): Aead {
  const k = Buffer.from(key);
  return {
    sealBatch(buf, offsets, lengths, first, count, epoch, counter, src, srcOffsets, srcFirst = 0) {
      for (let i = first; i < first + count; i++) {
        const len = lengths[i] - SEALED_HEADER - SEALED_TAG;
        if (src && srcOffsets) buf.set(src.subarray(srcOffsets[srcFirst + i - first], srcOffsets[srcFirst + i - first] + len), offsets[i] + SEALED_HEADER);
        writeSealedHeader(buf, offsets[i], epoch, counter + i - first);
        this.seal(buf, offsets[i], len);
      }
    },
    seal(buf, off, len) {
      const c = createCipheriv(algorithm as 'chacha20-poly1305', k, nonceOf(buf, off), { authTagLength: SEALED_TAG });
      c.setAAD(buf.subarray(off, off + SEALED_HEADER), { plaintextLength: len });
      const out = c.update(buf.subarray(off + SEALED_HEADER, off + SEALED_HEADER + len));
      c.final();
      buf.set(out, off + SEALED_HEADER);
      buf.set(c.getAuthTag(), off + SEALED_HEADER + len);
    },
    open(buf, off, total) {
      const len = total - SEALED_HEADER - SEALED_TAG;
      if (len < 0) return -1;
      const d = createDecipheriv(algorithm as 'chacha20-poly1305', k, nonceOf(buf, off), { authTagLength: SEALED_TAG });
      d.setAAD(buf.subarray(off, off + SEALED_HEADER), { plaintextLength: len });
      d.setAuthTag(buf.subarray(off + SEALED_HEADER + len, off + total));
      const out = d.update(buf.subarray(off + SEALED_HEADER, off + SEALED_HEADER + len));
      try {
        d.final();
      } catch {
        return -1;
      }
      buf.set(out, off + SEALED_HEADER);
      return len;
    },
  };
}
