// The addon's ChaCha20-Poly1305 (native/aead.cc), both of its ways (OpenSSL's
// primitives and EVP), checked against node:crypto byte for byte: every
// length around ChaCha's 64-byte blocks and Poly1305's 16-byte ones, every
// padding, in place and apart; and every single-bit forgery refused.
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { native } from './addon.js';

const HEADER = 16;
const TAG = 16;

/** WireGuard's transport message for `packet` padded by `pad`, as node:crypto seals it. */
function reference(key: Buffer, receiver: number, counter: bigint, packet: Buffer, pad: number): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(4, 0);
  header.writeUInt32LE(receiver, 4);
  header.writeBigUInt64LE(counter, 8);
  const nonce = Buffer.concat([Buffer.alloc(4), header.subarray(8)]);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  const sealed = Buffer.concat([cipher.update(Buffer.concat([packet, Buffer.alloc(pad)])), cipher.final()]);
  return Buffer.concat([header, sealed, cipher.getAuthTag()]);
}

/** Seals `packet` with the addon into a fresh buffer (at offset 8, so offsets are honoured). */
function seal(key: InstanceType<typeof native.TransportKey>, receiver: number, counter: number, packet: Buffer, pad: number): Buffer {
  const total = HEADER + packet.length + pad + TAG;
  const out = Buffer.alloc(8 + total, 0xee);
  key.sealBatch(out, Uint32Array.of(8), Uint32Array.of(total), 0, 1, receiver, counter, packet, Uint32Array.of(0), Uint32Array.of(packet.length), 0);
  return out.subarray(8);
}

const LENGTHS = [0, 1, 15, 16, 17, 31, 48, 63, 64, 65, 79, 80, 127, 128, 129, 1000, 1280, 1407, 1408, 1420, 9000];

for (const useEvp of [false, true]) {
  const way = useEvp ? 'EVP' : 'the default way';
  test(`ChaCha20-Poly1305 on ${way}: every length and padding seals as node:crypto does and opens back`, () => {
    const keyBytes = randomBytes(32);
    const sealer = new native.TransportKey(keyBytes, useEvp);
    const opener = new native.TransportKey(keyBytes, useEvp);
    let counter = 0;
    for (const len of LENGTHS) {
      for (const pad of [0, 1, 7, 15]) {
        const packet = randomBytes(len);
        counter += 977; // counters that fill both halves of the 64-bit field over the loop
        const n = counter * 0x10001;
        const message = seal(sealer, 0xa1b2c3d4, n, packet, pad);
        assert.deepEqual(message, reference(keyBytes, 0xa1b2c3d4, BigInt(n), packet, pad), `len ${len} pad ${pad}`);
        const copy = Buffer.from(message);
        assert.equal(opener.open(copy, 0, copy.length), len + pad);
        assert.deepEqual(copy.subarray(HEADER, HEADER + len), packet);
        assert.deepEqual(copy.subarray(HEADER + len, HEADER + len + pad), Buffer.alloc(pad));
      }
    }
  });

  test(`ChaCha20-Poly1305 on ${way}: a flipped bit anywhere in the nonce, ciphertext or tag is refused; a key differing in one bit opens nothing`, () => {
    const keyBytes = randomBytes(32);
    const key = new native.TransportKey(keyBytes, useEvp);
    const packet = randomBytes(200);
    const message = seal(key, 1, 42, packet, 8);
    for (let byte = 8; byte < message.length; byte++) {
      for (const bit of [0x01, 0x80]) {
        const forged = Buffer.from(message);
        forged[byte] ^= bit;
        const sent = Buffer.from(forged);
        assert.equal(key.open(forged, 0, forged.length), -1, `byte ${byte} bit ${bit}`);
        // The primitives check the tag before decrypting: a forgery is left as it came (EVP decrypts, then refuses).
        if (key.path === 'primitives') assert.deepEqual(forged, sent, `byte ${byte} bit ${bit} was decrypted`);
      }
    }
    const other = Buffer.from(keyBytes);
    other[31] ^= 1;
    assert.equal(new native.TransportKey(other, useEvp).open(Buffer.from(message), 0, message.length), -1);
    assert.equal(key.open(message.subarray(0, message.length - 1), 0, message.length - 1), -1, 'a truncated message');
    assert.equal(key.open(message, 0, HEADER + TAG - 1), -1, 'shorter than header and tag');
  });

  test(`ChaCha20-Poly1305 on ${way}: a packet sealed in place (already at its message's payload) is the same message`, () => {
    const keyBytes = randomBytes(32);
    const key = new native.TransportKey(keyBytes, useEvp);
    const packet = randomBytes(1408);
    const total = HEADER + packet.length + TAG;
    const buf = Buffer.alloc(total);
    packet.copy(buf, HEADER);
    key.sealBatch(buf, Uint32Array.of(0), Uint32Array.of(total), 0, 1, 9, 7, buf, Uint32Array.of(HEADER), Uint32Array.of(packet.length), 0);
    assert.deepEqual(buf, reference(keyBytes, 9, 7n, packet, 0));
    assert.throws(
      () => key.sealBatch(buf, Uint32Array.of(0), Uint32Array.of(total), 0, 1, 9, 7, buf, Uint32Array.of(HEADER + 1), Uint32Array.of(packet.length - 1), 0),
      /partly overlaps/,
    );
  });
}

test('Node\'s own OpenSSL (not a shared system one) gives the addon its primitives', (t) => {
  const path = new native.TransportKey(randomBytes(32)).path;
  const shared = (process.config.variables as Record<string, unknown>).node_shared_openssl;
  if (shared === true || shared === 'true') {
    t.diagnostic(`this Node links a shared OpenSSL: the addon takes the ${path} way`);
    return;
  }
  assert.equal(path, 'primitives');
  assert.equal(new native.TransportKey(randomBytes(32), true).path, 'evp');
});
