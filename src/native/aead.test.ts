// The addon's ChaCha20-Poly1305 (native/aead.cc), each of its ways (OpenSSL's
// primitives, joined into one ChaCha20 call where the bytes around allow it
// or not, and EVP), checked against node:crypto byte for byte: every length
// around ChaCha's 64-byte blocks and Poly1305's 16-byte ones, every
// padding, in place and apart, alone in a buffer and amid other bytes
// (left untouched); and every single-bit forgery refused.
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

/**
 * Where a packet and its message lie: `alone`, the packet at its buffer's
 * start and the message 8 bytes into another (ChaCha20 in three calls);
 * `amid`, both among other bytes, 64 and more before and after (one call
 * that runs over 64 of the bytes before: they must come out untouched).
 */
type Placement = 'alone' | 'amid';

/** A copy of `message` to open, placed as `placement` says (amid: 100 random bytes before it, 30 after); and its offset. */
function place(message: Buffer, placement: Placement): [Buffer, number] {
  if (placement === 'alone') return [Buffer.from(message), 0];
  return [Buffer.concat([randomBytes(100), message, randomBytes(30)]), 100];
}

/** Seals `packet` with the addon into a fresh buffer placed as `placement` says; the bytes around packet and message must be left as they were. */
function seal(key: InstanceType<typeof native.TransportKey>, receiver: number, counter: number, packet: Buffer, pad: number, placement: Placement = 'alone'): Buffer {
  const total = HEADER + packet.length + pad + TAG;
  const [msgAt, pktAt, around] = placement === 'alone' ? [8, 0, 0] : [100, 70, 80];
  const out = randomBytes(msgAt + total + around);
  const src = Buffer.concat([randomBytes(pktAt), packet, randomBytes(around)]);
  const [outBefore, srcBefore] = [Buffer.from(out), Buffer.from(src)];
  key.sealBatch(out, Uint32Array.of(msgAt), Uint32Array.of(total), 0, 1, receiver, counter, src, Uint32Array.of(pktAt), Uint32Array.of(packet.length), 0);
  assert.deepEqual(out.subarray(0, msgAt), outBefore.subarray(0, msgAt), `${placement}: the bytes before the message`);
  assert.deepEqual(out.subarray(msgAt + total), outBefore.subarray(msgAt + total), `${placement}: the bytes after the message`);
  assert.deepEqual(src, srcBefore, `${placement}: the packet's buffer`);
  return out.subarray(msgAt, msgAt + total);
}

const LENGTHS = [0, 1, 15, 16, 17, 31, 48, 63, 64, 65, 79, 80, 127, 128, 129, 1000, 1280, 1407, 1408, 1420, 9000];

for (const useWay of [undefined, 'unjoined', 'evp'] as const) {
  const way = useWay === undefined ? 'the default way' : useWay === 'evp' ? 'EVP' : 'the primitives unjoined';
  test(`ChaCha20-Poly1305 on ${way}: every length and padding seals as node:crypto does and opens back`, () => {
    const keyBytes = randomBytes(32);
    const sealer = new native.TransportKey(keyBytes, useWay);
    const opener = new native.TransportKey(keyBytes, useWay);
    let counter = 0;
    for (const len of LENGTHS) {
      for (const [pad, placement] of [0, 1, 7, 15].flatMap((p) => (['alone', 'amid'] as const).map((w) => [p, w] as const))) {
        const packet = randomBytes(len);
        counter += 977; // counters that fill both halves of the 64-bit field over the loop
        const n = counter * 0x10001;
        const message = seal(sealer, 0xa1b2c3d4, n, packet, pad, placement);
        assert.deepEqual(message, reference(keyBytes, 0xa1b2c3d4, BigInt(n), packet, pad), `len ${len} pad ${pad} ${placement}`);
        const [copy, at] = place(message, placement);
        const before = Buffer.from(copy);
        assert.equal(opener.open(copy, at, message.length), len + pad);
        assert.deepEqual(copy.subarray(at + HEADER, at + HEADER + len), packet);
        assert.deepEqual(copy.subarray(at + HEADER + len, at + HEADER + len + pad), Buffer.alloc(pad));
        assert.deepEqual(copy.subarray(0, at + HEADER), before.subarray(0, at + HEADER), `${placement}: header and the bytes before it`);
        assert.deepEqual(copy.subarray(at + HEADER + len + pad), before.subarray(at + HEADER + len + pad), `${placement}: tag and the bytes after it`);
      }
    }
  });

  test(`ChaCha20-Poly1305 on ${way}: a flipped bit anywhere in the nonce, ciphertext or tag is refused; a key differing in one bit opens nothing`, () => {
    const keyBytes = randomBytes(32);
    const key = new native.TransportKey(keyBytes, useWay);
    const packet = randomBytes(200);
    const message = seal(key, 1, 42, packet, 8);
    for (let byte = 8; byte < message.length; byte++) {
      for (const [bit, placement] of [[0x01, 'alone'], [0x80, 'amid']] as const) {
        const [forged, at] = place(message, placement);
        forged[at + byte] ^= bit;
        const sent = Buffer.from(forged);
        assert.equal(key.open(forged, at, message.length), -1, `byte ${byte} bit ${bit} ${placement}`);
        // The primitives check the tag before decrypting: a forgery is left as it came (EVP decrypts, then refuses).
        if (key.path === 'primitives') assert.deepEqual(forged, sent, `byte ${byte} bit ${bit} ${placement} was decrypted`);
      }
    }
    const other = Buffer.from(keyBytes);
    other[31] ^= 1;
    assert.equal(new native.TransportKey(other, useWay).open(Buffer.from(message), 0, message.length), -1);
    assert.equal(key.open(message.subarray(0, message.length - 1), 0, message.length - 1), -1, 'a truncated message');
    assert.equal(key.open(message, 0, HEADER + TAG - 1), -1, 'shorter than header and tag');
  });

  test(`ChaCha20-Poly1305 on ${way}: a packet sealed in place (already at its message's payload) is the same message`, () => {
    const keyBytes = randomBytes(32);
    const key = new native.TransportKey(keyBytes, useWay);
    const packet = randomBytes(1408);
    const total = HEADER + packet.length + TAG;
    const buf = Buffer.alloc(total);
    packet.copy(buf, HEADER);
    key.sealBatch(buf, Uint32Array.of(0), Uint32Array.of(total), 0, 1, 9, 7, buf, Uint32Array.of(HEADER), Uint32Array.of(packet.length), 0);
    assert.deepEqual(buf, reference(keyBytes, 9, 7n, packet, 0));
    // Amid other bytes (so the one-call way runs over the 64 before the payload), padded over bytes that are not zeros.
    for (const pad of [0, 5, 15]) {
      const len = 1000 - pad;
      const at = 200;
      const wide = randomBytes(at + HEADER + len + pad + TAG + 50);
      const before = Buffer.from(wide);
      key.sealBatch(wide, Uint32Array.of(at), Uint32Array.of(HEADER + len + pad + TAG), 0, 1, 9, 8, wide, Uint32Array.of(at + HEADER), Uint32Array.of(len), 0);
      assert.deepEqual(wide.subarray(at, at + HEADER + len + pad + TAG), reference(keyBytes, 9, 8n, before.subarray(at + HEADER, at + HEADER + len), pad), `in place amid, pad ${pad}`);
      assert.deepEqual(wide.subarray(0, at), before.subarray(0, at), 'the bytes before the message');
      assert.deepEqual(wide.subarray(at + HEADER + len + pad + TAG), before.subarray(at + HEADER + len + pad + TAG), 'the bytes after it');
    }
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
  assert.equal(new native.TransportKey(randomBytes(32), 'unjoined').path, 'primitives');
  assert.equal(new native.TransportKey(randomBytes(32), 'evp').path, 'evp');
  assert.throws(() => new native.TransportKey(randomBytes(32), 'fast' as 'evp'), /way is 'evp' or 'unjoined'/);
});
