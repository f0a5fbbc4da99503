// npm run bench:tun — echo requests written into a real TUN and the
// kernel's replies read back, inside a tdlab- namespace: batched I/O
// (many packets per syscall loop and per readiness event) against
// one packet at a time, same window, same run. Bounded in count and time.
import { LinuxTun } from '../src/tun/linux-tun.js';
import { parseIPv4 } from '../src/packet/addr.js';
import { netnsCreate, netnsDelete, netnsExists } from '../src/netns/netns.js';
import { echoRoundTrip } from '../harness/echo-roundtrip.js';
import { median } from '../harness/quantile.js';

const NETNS = `tdlab-bench-tun-${process.pid}`;
const COUNT = Number(process.env.BENCH_COUNT ?? 200_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MODES = [
  { name: 'one-at-a-time', batchSize: 1 },
  { name: 'batch-64', batchSize: 64 },
  { name: 'batch-256', batchSize: 256 },
];

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:tun needs root (it builds a tdlab- namespace)');
  netnsCreate(NETNS);
  const tun = LinuxTun.create({ name: 'tdbench0', addresses: ['10.244.9.1/24'], netns: NETNS });
  try {
    const results = new Map<string, number[]>();
    // Interleave the modes round by round so drift hits them all alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of MODES) {
        const r = await echoRoundTrip(tun, { count: COUNT, timeoutMs: SECONDS * 1000, tunAddress: parseIPv4('10.244.9.1')!, peerAddress: parseIPv4('10.244.9.2')!, batchSize: mode.batchSize });
        if (r.mismatched) throw new Error(`${mode.name}: ${r.mismatched} wrong replies`);
        const pps = r.received / (r.elapsedMs / 1000);
        results.set(mode.name, [...(results.get(mode.name) ?? []), pps]);
        console.log(`round ${round} ${mode.name.padEnd(14)} ${r.received} replies in ${r.elapsedMs.toFixed(0)} ms = ${Math.round(pps)} round trips/s`);
      }
    }
    const base = median(results.get('one-at-a-time')!);
    console.log(`\nTUN echo round trips per second (median of ${ROUNDS}; window 256, 56-byte payload; node ${process.version})`);
    console.log('mode            round-trips/s   vs one-at-a-time');
    for (const mode of MODES) {
      const m = median(results.get(mode.name)!);
      console.log(`${mode.name.padEnd(15)} ${String(Math.round(m)).padStart(13)}   ${(m / base).toFixed(2)}x`);
    }
  } finally {
    tun.close();
    if (netnsExists(NETNS)) netnsDelete(NETNS);
  }
}

main().catch((err) => {
  console.error(`bench:tun: ${err instanceof Error ? err.message : err}`);
  if (netnsExists(NETNS)) netnsDelete(NETNS);
  process.exitCode = 1;
});
