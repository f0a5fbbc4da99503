// The data plane's side of a large cluster, for bench:etcd --nodes N: the
// route lookup per packet with N peers against 2 (the route table is
// longest-prefix match over a Map per prefix length), and a leases file of
// N entries reloaded as the daemon does on a change (parse + setLeases).
import { Overlay } from '../src/overlay/overlay.js';
import { parseLeases } from '../src/subnet/leases.js';
import { peerFromLease, RouteTable } from '../src/overlay/route-table.js';
import { parseCidr } from '../src/packet/addr.js';
import { MemoryTun } from '../src/tun/memory-tun.js';
import { plainTransport } from '../src/backend/udp/transport.js';
import { MemoryUdp } from '../src/overlay/memory-udp.js';

const LOOKUPS = 2_000_000;

function nodeSubnet(i: number): string {
  return `10.${200 + (i >> 8)}.${i & 0xff}.0/24`;
}

function lookupNs(peers: number): number {
  const table = new RouteTable(Array.from({ length: peers }, (_, i) => peerFromLease({ subnet: parseCidr(nodeSubnet(i + 1)), publicIp: 0xc6330000 + i, port: 8285 })));
  const dsts = new Uint32Array(1024).map((_, k) => (parseCidr(nodeSubnet(1 + (k % peers))).network + 2) >>> 0);
  let found = 0;
  for (let i = 0; i < 200_000; i++) if (table.lookup(dsts[i & 1023])) found++; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) if (table.lookup(dsts[i & 1023])) found++;
  const ns = Number(process.hrtime.bigint() - t0) / LOOKUPS;
  if (found === 0) throw new Error('no route found');
  return ns;
}

export function dataPlaneAtScale(nodes: number): { lookupNsFew: number; lookupNsMany: number; reloadMs: number } {
  const network = parseCidr(nodes > 1000 ? '10.200.0.0/13' : '10.200.0.0/14');
  const file = { network: `10.200.0.0/${network.length}`, nodes: Array.from({ length: nodes }, (_, i) => ({ subnet: nodeSubnet(i + 1), publicIp: `198.51.${100 + (i >> 8)}.${i & 0xff}` })) };
  const net = new MemoryUdp(false);
  const overlay = new Overlay(new MemoryTun(), net, { transport: plainTransport, network, subnet: parseCidr(nodeSubnet(1)), tunMtu: 1472, pathMtu: 1472 });
  const reload = (): number => {
    const t0 = performance.now();
    overlay.setLeases(parseLeases(JSON.parse(JSON.stringify(file)), network, 'bench'));
    return performance.now() - t0;
  };
  for (let i = 0; i < 5; i++) reload();
  const times = Array.from({ length: 20 }, reload).sort((a, b) => a - b);
  return { lookupNsFew: lookupNs(2), lookupNsMany: lookupNs(nodes), reloadMs: times[10] };
}
