// npm run bench:aead — WireGuard's transport AEAD (ChaCha20-Poly1305, the
// counter as nonce, no additional data) per message, in one run: seal +
// open of a 1,400-byte packet (a full TCP segment), by each option:
//   node     node:crypto, a cipher object per message
//   noble    @noble/ciphers, pure TypeScript (the library the handshake uses for XChaCha20)
//   native   the addon's TransportKey on OpenSSL's ChaCha20 and Poly1305
//            primitives (where Node's OpenSSL exports them), a run of 64 per
//            call, packets and messages amid other bytes as the overlay lays
//            them out: ChaCha20 in one call per message (native/aead.cc)
//   native, unjoined  the same made to take separate calls for Poly1305's key,
//            the whole blocks and a partial last block with the padding
//   native, alone  the default way with each packet alone at the start of its
//            buffer (the one-call seal needs bytes before it), as before
//            the one-call way existed
//   evp      the same TransportKey made to take OpenSSL's EVP interface
//            (contexts kept per key), as it does where the primitives are not found
// Every option's output is checked against node:crypto's before timing.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { native } from '../src/native/addon.js';

const PAYLOAD = Number(process.env.BENCH_AEAD_BYTES ?? 1408);
const ROUNDS = Number(process.env.BENCH_AEAD_ROUNDS ?? 100_000);
const RUN = 64;
const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
const packet = new Uint8Array(PAYLOAD).map((_, i) => (i * 31) & 0xff);

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32LE(counter, 4);
  return n;
}

/** node:crypto: the message (header, ciphertext, tag) of `counter`. */
function nodeSeal(counter: number): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: 16 });
  const header = Buffer.alloc(16);
  header[0] = 4;
  header.writeUInt32LE(counter, 8);
  return Buffer.concat([header, c.update(packet), c.final(), c.getAuthTag()]);
}

function nodeOpen(m: Uint8Array, counter: number): number {
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: 16 });
  d.setAuthTag(m.subarray(m.length - 16));
  d.update(m.subarray(16, m.length - 16));
  d.final();
  return m.length - 32;
}

const size = PAYLOAD + 32;
const buf = new Uint8Array(RUN * size);
const offsets = new Uint32Array(RUN).map((_, i) => i * size);
const lengths = new Uint32Array(RUN).fill(size);
const srcOffsets = new Uint32Array(RUN);
const srcLengths = new Uint32Array(RUN).fill(PAYLOAD);
/** Where the packets and messages lie: alone (each packet at offset 0 of its own buffer, messages from offset 0) or amid other bytes. */
interface Layout {
  buf: Uint8Array;
  offsets: Uint32Array;
  src: Uint8Array;
  srcOffsets: Uint32Array;
}
const alone: Layout = { buf, offsets, src: packet, srcOffsets };
const amidStride = PAYLOAD + 16;
const amid: Layout = {
  buf: new Uint8Array(64 + RUN * size),
  offsets: offsets.map((o) => 64 + o),
  src: new Uint8Array(64 + RUN * amidStride + 64),
  srcOffsets: new Uint32Array(RUN).map((_, i) => 64 + i * amidStride),
};
for (const at of amid.srcOffsets) amid.src.set(packet, at);
const ways = [
  { name: 'native', way: undefined, layout: amid },
  { name: 'native, unjoined', way: 'unjoined' as const, layout: amid },
  { name: 'native, alone', way: undefined, layout: alone },
  { name: 'evp', way: 'evp' as const, layout: alone },
].map((w) => ({ ...w, sealer: new native.TransportKey(key, w.way), opener: new native.TransportKey(key, w.way) }));

// Cross-check: each way's message is node:crypto's, byte for byte, and noble opens it.
for (const { name, sealer, layout: l } of ways) {
  sealer.sealBatch(l.buf, l.offsets, lengths, 0, RUN, 0, 5, l.src, l.srcOffsets, srcLengths, 0);
  for (let k = 0; k < RUN; k++) {
    const message = l.buf.subarray(l.offsets[k], l.offsets[k] + size);
    if (Buffer.compare(message, nodeSeal(5 + k)) !== 0) throw new Error(`${name} (${sealer.path}) and node:crypto disagree`);
    if (chacha20poly1305(key, nonce(5 + k)).decrypt(message.subarray(16)).length !== PAYLOAD) throw new Error(`noble cannot open ${name}'s message`);
  }
}

const results: Array<[string, number]> = [];
let t0 = process.hrtime.bigint();
for (let i = 0; i < ROUNDS; i++) nodeOpen(nodeSeal(i), i);
results.push(['node', Number(process.hrtime.bigint() - t0) / ROUNDS]);

const noble = Math.max(1, Math.floor(ROUNDS / 10)); // pure TypeScript is slow: fewer rounds
t0 = process.hrtime.bigint();
for (let i = 0; i < noble; i++) {
  const sealed = chacha20poly1305(key, nonce(i)).encrypt(packet);
  chacha20poly1305(key, nonce(i)).decrypt(sealed);
}
results.push(['noble', Number(process.hrtime.bigint() - t0) / noble]);

for (const { name, sealer, opener, layout: l } of ways) {
  t0 = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i += RUN) {
    sealer.sealBatch(l.buf, l.offsets, lengths, 0, RUN, 0, i, l.src, l.srcOffsets, srcLengths, 0);
    for (let k = 0; k < RUN; k++) if (opener.open(l.buf, l.offsets[k], size) !== PAYLOAD) throw new Error('open failed');
  }
  results.push([name === 'evp' ? 'evp' : `${name} (${sealer.path})`, Number(process.hrtime.bigint() - t0) / ROUNDS]);
}

process.stdout.write(`seal + open of a ${PAYLOAD}-byte packet (ChaCha20-Poly1305, WireGuard's transport), ${ROUNDS} rounds (${new Date().toISOString()}):\n`);
const best = Math.min(...results.map(([, ns]) => ns));
for (const [name, ns] of results) {
  process.stdout.write(`${name.padEnd(30)} ${(ns / 1000).toFixed(2).padStart(6)} us   ${((PAYLOAD * 8) / ns).toFixed(2).padStart(6)} Gbit/s one core   ${(ns / best).toFixed(2)}x the fastest\n`);
}
