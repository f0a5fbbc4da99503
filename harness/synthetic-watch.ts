// A `lab watch` page server fed a made-up cluster (N hosts, 2 pods each,
// every host peering with every other, rates that change each second), for
// measuring how the page renders at a size no lab here can reach.
//   node synthetic-watch.js PORT HOSTS
// Prints "listening" once it serves; run it inside a namespace.
import type { DaemonStatus, OverlayStatus, PeerStatus } from '../src/control/daemon-status.js';
import type { LabState } from '../src/lab/state.js';
import { buildSnapshot, HostReading } from '../src/watch/cluster-snapshot.js';
import { WatchServer } from '../src/watch/watch-server.js';

/** host i (1-based): underlay 198.51.100.i... past 254 the lab would run out; the feed stays below that. */
const hostIp = (i: number): string => `198.51.${100 + Math.floor(i / 250)}.${i % 250 || 250}`;

export function syntheticState(hosts: number): LabState {
  const nodes: LabState['nodes'] = [];
  for (let i = 1; i <= hosts; i++) {
    nodes.push({ name: `host-${i}`, kind: 'host', netns: `tdlab-syn-host-${i}`, addresses: [`${hostIp(i)}/16`] });
    for (let p = 1; p <= 2; p++) nodes.push({ name: `host-${i}-pod${p}`, kind: 'pod', netns: `tdlab-syn-host-${i}-pod${p}`, host: `host-${i}`, addresses: [`10.244.${i}.${p + 1}/24`] });
  }
  return { name: 'synthetic', createdAt: new Date().toISOString(), builtBy: process.pid, topology: { name: 'synthetic' } as LabState['topology'], nodes };
}

export function syntheticReadings(hosts: number, tick: number): Map<string, HostReading> {
  const readings = new Map<string, HostReading>();
  for (let i = 1; i <= hosts; i++) {
    const peers: PeerStatus[] = [];
    for (let j = 1; j <= hosts; j++) {
      if (j === i) continue;
      const rate = ((i * 7 + j * 13 + tick * 5) % 97) * 10_000;
      peers.push({ subnet: `10.244.${j}.0/24`, publicIp: hostIp(j), port: 8285, txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, txPacketsPerSecond: rate / 1000, txBytesPerSecond: rate, rxPacketsPerSecond: rate / 1200, rxBytesPerSecond: rate * 0.8 });
    }
    const status = { mode: 'overlay', device: 'flannel0', pid: 1000 + i, startedAt: '', uptimeSeconds: tick, network: '10.244.0.0/16', subnet: `10.244.${i}.0/24`, endpoint: `${hostIp(i)}:8285`, publicIp: hostIp(i), port: 8285, counters: { sent: 0, delivered: 0, errorsGenerated: 0, fragmented: 0, dropped: {} }, peers } as unknown as OverlayStatus;
    readings.set(`host-${i}`, { daemons: [{ status: status as DaemonStatus, dropsPerSecond: i % 5 === 0 ? { 'unknown-peer': tick % 3 } : {} }], answeredBefore: true });
  }
  return readings;
}

async function main(): Promise<void> {
  const [port, hosts] = process.argv.slice(2).map(Number);
  const state = syntheticState(hosts);
  let tick = 0;
  await WatchServer.start({ host: '127.0.0.1', port }, {
    read: async () => buildSnapshot(state, syntheticReadings(hosts, tick++), undefined),
    probe: async () => {
      throw new Error('the synthetic feed has no packets to probe');
    },
  });
  process.stdout.write('listening\n');
}

if (process.argv[1] === new URL(import.meta.url).pathname) main().catch((err) => {
  process.stderr.write(`synthetic-watch: ${err.message}\n`);
  process.exitCode = 1;
});
