// npm run bench:checksum — the Internet checksum over a 64 KiB payload
// (what the TUN offload path sums for every super-packet it splits or
// merges), by each kernel DESIGN.md asks to compare, in one run:
//   ts-16       the byte-pair loop (sumWords), the project's original
//   ts-32       TypeScript over 32-bit words (sumWords32, RFC 1071)
//   native      the addon's checksumSum (C++, 64-bit accumulator)
// WebAssembly SIMD is not measured: see docs/benchmarks.md. Every kernel's
// result is checked against the others before any timing counts.
import { native } from '../src/native/addon.js';
import { foldPartial, sumWords, sumWords32 } from '../src/packet/checksum.js';

const SIZE = Number(process.env.BENCH_CHECKSUM_BYTES ?? 65536);
const ROUNDS = Number(process.env.BENCH_CHECKSUM_ROUNDS ?? 2000);

const kernels: Record<string, (b: Uint8Array, s: number, e: number) => number> = {
  'ts-16': (b, s, e) => foldPartial(sumWords(b, s, e, 0)),
  'ts-32': (b, s, e) => sumWords32(b, s, e, 0),
  native: (b, s, e) => native.checksumSum(b, s, e, 0),
};

function main(): void {
  const buf = new Uint8Array(SIZE + 8);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
  // Odd and even starts and lengths: all kernels must agree.
  for (const [s, e] of [[0, SIZE], [1, SIZE], [3, SIZE - 1], [2, 7], [0, 0]]) {
    const want = kernels['ts-16'](buf, s, e);
    for (const [name, k] of Object.entries(kernels)) {
      if (k(buf, s, e) !== want) throw new Error(`${name} disagrees on [${s}, ${e})`);
    }
  }
  const results: Array<[string, number]> = [];
  for (const [name, k] of Object.entries(kernels)) {
    for (let i = 0; i < ROUNDS / 10; i++) k(buf, 2, SIZE + 2); // warm up the JIT
    const t0 = process.hrtime.bigint();
    let x = 0;
    for (let i = 0; i < ROUNDS; i++) x ^= k(buf, 2, SIZE + 2);
    const ns = Number(process.hrtime.bigint() - t0) / ROUNDS;
    if (x < 0) console.log(x); // keep the result alive
    results.push([name, ns]);
  }
  const best = Math.min(...results.map(([, ns]) => ns));
  console.log(`checksum over ${SIZE} bytes, ${ROUNDS} rounds each (node ${process.version})`);
  console.log('kernel     µs/64KiB    GB/s   vs fastest');
  for (const [name, ns] of results) {
    console.log(`${name.padEnd(8)} ${(ns / 1000).toFixed(2).padStart(10)} ${(SIZE / ns).toFixed(2).padStart(7)} ${(ns / best).toFixed(2).padStart(9)}x`);
  }
}

main();
