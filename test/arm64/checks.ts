// What the linux-arm64 prebuilt addon must do, run by an arm64 Node.js under
// qemu-user (test/integration/arm64.test.ts starts it, in a tdlab-
// namespace of its own). Each check compares the addon against an
// independent answer computed on the same machine: the TypeScript
// checksum, node:crypto's ChaCha20-Poly1305, the kernel's echo replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { native } from '../../src/native/addon.js';
import { foldPartial, sumWords } from '../../src/packet/checksum.js';
import { LinuxTun } from '../../src/tun/linux-tun.js';
import { parseIPv4 } from '../../src/packet/addr.js';
import { echoRoundTrip } from '../../harness/echo-roundtrip.js';

test('this is arm64, and the addon is the linux-arm64 prebuilt one', () => {
  assert.equal(process.arch, 'arm64');
  assert.equal(typeof native.checksumSum, 'function');
});

test('checksum: the addon\'s sum agrees with the TypeScript one on 2,000 random buffers and offsets', () => {
  for (let k = 0; k < 2000; k++) {
    const buf = randomBytes(randomInt(1, 3000));
    const start = randomInt(0, buf.length);
    const end = randomInt(start, buf.length + 1);
    const initial = randomInt(0, 0x10000);
    assert.equal(native.checksumSum(buf, start, end, initial), foldPartial(sumWords(buf, start, end, initial)), `len ${buf.length} [${start}, ${end})`);
  }
});

test('AEAD: messages sealed by the addon open with node:crypto, and node:crypto\'s open with the addon, on 500 random packets', () => {
  for (let k = 0; k < 500; k++) {
    const key = randomBytes(32);
    const tk = new native.TransportKey(Uint8Array.from(key));
    const len = randomInt(0, 1500);
    const packet = randomBytes(len);
    const pad = (16 - (len % 16)) % 16;
    const total = 16 + len + pad + 16;
    const buf = new Uint8Array(total + 32);
    const counter = randomInt(0, 2 ** 40);
    tk.sealBatch(buf, Uint32Array.of(0), Uint32Array.of(total), 0, 1, 7, counter, packet, Uint32Array.of(0), Uint32Array.of(len), 0);
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64LE(BigInt(counter), 4);
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAuthTag(Buffer.from(buf.subarray(16 + len + pad, total)));
    const plain = Buffer.concat([d.update(buf.subarray(16, 16 + len + pad)), d.final()]);
    assert.deepEqual(plain.subarray(0, len), packet);
    // The other way: node:crypto seals, the addon opens in place.
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    const body = Buffer.concat([c.update(Buffer.concat([packet, Buffer.alloc(pad)])), c.final(), c.getAuthTag()]);
    const msg = new Uint8Array(16 + body.length);
    msg[0] = 4;
    msg.set(Buffer.from(nonce.subarray(4)), 8);
    msg.set(body, 16);
    assert.equal(tk.open(msg, 0, msg.length), len + pad);
    assert.deepEqual(Buffer.from(msg.subarray(16, 16 + len)), packet);
    msg[20] ^= 1;
    assert.equal(tk.open(msg, 0, msg.length), -1, 'a flipped bit does not open');
    tk.destroy();
  }
});

test('a TUN opened and read on arm64: 200 echo requests written into it, every kernel reply read back intact', { skip: process.env.TD_ARM64_TUN !== '1' && 'TUN check only inside the namespace the arm64 test makes' }, async () => {
  const tun = LinuxTun.create({ name: 'tdarm0', addresses: ['10.244.9.1/24'] });
  try {
    const r = await echoRoundTrip(tun, { count: 200, timeoutMs: 30_000, tunAddress: parseIPv4('10.244.9.1')!, peerAddress: parseIPv4('10.244.9.2')!, batchSize: 32 });
    assert.equal(r.mismatched, 0);
    assert.equal(r.received, 200);
  } finally {
    tun.close();
  }
});
