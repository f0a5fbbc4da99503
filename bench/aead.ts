// npm run bench:aead — the authenticated overlay's per-datagram crypto, in
// one run: seal + open of a 1,400-byte inner packet (a full TCP segment),
// by each option issue 14 asks to compare:
//   node:chacha / node:aes-gcm      node:crypto, a cipher object per call
//   native:chacha / native:aes-gcm  the addon's AeadKey (OpenSSL contexts kept)
// Every option's output is checked against node:crypto's before timing.
import { AeadAlgorithm, nativeAead, nodeAead } from '../src/crypto/aead.js';
import { SEALED_OVERHEAD, writeSealedHeader } from '../src/crypto/sealed-datagram.js';

const PAYLOAD = Number(process.env.BENCH_AEAD_BYTES ?? 1400);
const ROUNDS = Number(process.env.BENCH_AEAD_ROUNDS ?? 200_000);
const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
const algorithms: AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm'];

function datagram(counter: number): Uint8Array {
  const d = new Uint8Array(PAYLOAD + SEALED_OVERHEAD);
  writeSealedHeader(d, 0, 1_700_000_000_000, counter);
  for (let i = 0; i < PAYLOAD; i++) d[16 + i] = (i * 31 + counter) & 0xff;
  return d;
}

const results: Array<[string, number]> = [];
for (const alg of algorithms) {
  // Cross-check: native seal == node:crypto seal, and each opens the other's.
  const a = datagram(5);
  const b = datagram(5);
  nativeAead(alg, key).seal(a, 0, PAYLOAD);
  nodeAead(alg, key).seal(b, 0, PAYLOAD);
  if (Buffer.compare(a, b) !== 0) throw new Error(`${alg}: native and node:crypto disagree`);
  if (nodeAead(alg, key).open(a, 0, a.length) !== PAYLOAD) throw new Error(`${alg}: node:crypto cannot open native's datagram`);
  for (const [impl, make] of [['node', nodeAead], ['native', nativeAead]] as const) {
    const aead = make(alg, key);
    const d = datagram(1);
    const opener = make(alg, key);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) {
      writeSealedHeader(d, 0, 1_700_000_000_000, i);
      aead.seal(d, 0, PAYLOAD);
      if (opener.open(d, 0, d.length) !== PAYLOAD) throw new Error('open failed');
    }
    const ns = Number(process.hrtime.bigint() - t0) / ROUNDS;
    results.push([`${impl}:${alg === 'chacha20-poly1305' ? 'chacha' : 'aes-gcm'}`, ns]);
  }
}
process.stdout.write(`seal + open of a ${PAYLOAD}-byte payload, ${ROUNDS} rounds each (${new Date().toISOString()}):\n`);
const best = Math.min(...results.map(([, ns]) => ns));
for (const [name, ns] of results) {
  process.stdout.write(`${name.padEnd(16)} ${(ns / 1000).toFixed(2).padStart(6)} us   ${((PAYLOAD * 8) / ns).toFixed(2).padStart(6)} Gbit/s one core   ${(ns / best).toFixed(2)}x the fastest\n`);
}
