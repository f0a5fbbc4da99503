// `tun-driver status`: asks the daemons of this network namespace (relay,
// overlay) what they are doing, over their control sockets.
import { Command } from 'commander';
import { TunDriverError } from '../errors.js';
import { queryStatus } from '../control/control-server.js';
import { listControlSockets } from '../control/paths.js';
import { printJson } from './output.js';
import { DaemonStatus, IoWaitStatus, isEtcdLeases, KernelBackendStatus, PeerStatus } from '../control/daemon-status.js';

type Status = DaemonStatus;

const rate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`);

/** How the data plane waits: the loop's mode and what it has done (--io-wait). */
function describeIoWait(w: IoWaitStatus | undefined): string[] {
  if (!w) return [];
  if (w.mode === 'libuv') return ['  io-wait libuv: a libuv readiness callback per fd'];
  return [`  io-wait ${w.adaptive ? 'auto' : 'poll'}: ${w.mode}; ${w.wakes} wakes (${rate(w.wakesPerSecond)}/s), ${w.slices} poll slices (${w.emptyPolls} empty), ${w.spins} answer spins (${w.spinHits} caught, ${w.spinMs} ms); hot ${w.heated} times, busy ${w.busied}`];
}

function describe(s: Status): string {
  const head = `${s.mode === 'overlay' && s.backend ? `overlay (${s.backend})` : s.mode} on ${s.device} (pid ${s.pid}, up ${s.uptimeSeconds} s)`;
  const drops = Object.entries(s.counters.dropped).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  if (s.mode === 'relay') {
    const c = s.counters;
    const lines = [`${head}: ${s.subnet}; requests ${c.requests} (${rate(s.rates.requestsPerSecond)}/s), replies ${c.replies} (${rate(s.rates.repliesPerSecond)}/s), errors relayed ${c.errorsRelayed}, generated ${c.errorsGenerated}; dropped: ${drops}; flows ${s.flowCount}`];
    lines.push(...describeIoWait(s.ioWait));
    for (const f of s.flows) lines.push(`  ${f.src} > ${f.dst} id ${f.id}${f.outId !== f.id ? ` (out ${f.outId})` : ''}: ${f.requests} requests, ${f.replies} replies, ${f.errors} errors, idle ${f.idleSeconds} s`);
    return lines.join('\n');
  }
  const c = s.counters;
  const lines = [`${head}: ${s.subnet} of ${s.network} at ${s.endpoint}; sent ${c.sent}, delivered ${c.delivered}, errors generated ${c.errorsGenerated}; dropped: ${drops}; ${s.leases.peers} peer(s) from ${s.leases.source}`];
  const l = s.leases;
  if (isEtcdLeases(l)) lines.push(`  etcd ${l.endpoints.join(',')}: ${l.key}, lease ${l.leaseId} (TTL ${l.leaseTtlSeconds} s), last renewed ${l.lastRenewal}${l.renewalFailing ? '; RENEWAL FAILING' : ''}`);
  const o = s.offloads;
  if (o) {
    const edgeDrops = Object.entries(o.drops).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    lines.push(`  offloads: tun ${o.tun}, udp${o.udpGso ? ' gso' : ''}${o.udpGro ? ' gro' : ''}${!o.udpGso && !o.udpGro ? ' off' : ''}; split ${o.superPacketsRead} super-packets into ${o.segmentsSplit}, merged ${o.segmentsMerged} into ${o.runsWritten}; edge drops: ${edgeDrops}; ${s.device} transmit queue dropped ${o.tunTxDropped}`);
  }
  lines.push(...describeIoWait(s.ioWait));
  if (s.kernel) return [...lines, ...describeKernel(s.kernel, s.peers)].join('\n');
  for (const p of s.peers) lines.push(`  peer ${p.subnet} at ${p.publicIp}:${p.port}: ${describeTraffic(p)}`);
  return lines.join('\n');
}

/** A peer's counters and rates. */
function describeTraffic(p: PeerStatus): string {
  return `tx ${p.txPackets} pkts (${rate(p.txPacketsPerSecond)}/s, ${rate(p.txBytesPerSecond * 8)}bit/s), rx ${p.rxPackets} pkts (${rate(p.rxPacketsPerSecond)}/s, ${rate(p.rxBytesPerSecond * 8)}bit/s)`;
}

/** A kernel backend: its devices with their counters, and each peer with the entries that carry traffic to it (and, with --peer-counters, its traffic). */
function describeKernel(k: KernelBackendStatus, peers: PeerStatus[]): string[] {
  const lines = [`  backend ${k.type}${k.vni !== undefined ? ` vni ${k.vni} port ${k.port} vtep ${k.vtepMac}` : ''}; adopted at start: ${k.adopted.kept} entries kept, ${k.adopted.removed} stale removed`];
  for (const d of k.devices) lines.push(`  device ${d.name}${d.mac ? ` ${d.mac}` : ''} mtu ${d.mtu}${d.up ? '' : ' DOWN'}: rx ${d.rxPackets} pkts ${d.rxBytes} bytes, tx ${d.txPackets} pkts ${d.txBytes} bytes, dropped rx ${d.rxDropped} tx ${d.txDropped}`);
  k.peers.forEach((p, i) => {
    const traffic = k.peerCounters && peers[i] ? ` ${describeTraffic(peers[i])}` : '';
    lines.push(`  peer ${p.subnet}${p.subnet6 ? ` and ${p.subnet6}` : ''} at ${p.publicIp}${p.publicIpv6 ? ` [${p.publicIpv6}]` : ''} (${p.via}):${traffic}`);
    for (const e of p.entries) lines.push(`    ${e.kind === 'fdb' ? 'bridge fdb' : e.kind === 'neigh' ? 'ip neigh' : 'ip route'} ${e.text}`);
  });
  const skipped = Object.entries(k.skipped);
  if (skipped.length) lines.push(`  leases skipped: ${skipped.map(([why, n]) => `${n}x ${why}`).join('; ')}`);
  return lines;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show what the tun-driver daemons in this network namespace are doing (mode, device, uptime, counters, flows or peers)')
    .option('--tun <name>', 'only the daemon on this device')
    .option('--json', 'print JSON (an array, one object per daemon)')
    .addHelpText('after', '\nExamples:\n  tun-driver status\n  tun-driver lab exec host-1 -- tun-driver status --tun flannel0 --json\n')
    .action(async (opts: { tun?: string; json?: boolean }) => {
      const sockets = listControlSockets().filter((s) => !opts.tun || s.device === opts.tun);
      if (sockets.length === 0) {
        throw new TunDriverError('TUN_ERR_NO_DEVICE', `no tun-driver daemon${opts.tun ? ` on ${opts.tun}` : ''} is running in this network namespace`);
      }
      const answers: Status[] = [];
      for (const s of sockets) {
        try {
          answers.push((await queryStatus(s.path)) as Status);
        } catch (err) {
          process.stderr.write(`tun-driver: the daemon on ${s.device} did not answer (${(err as Error).message}); it may have been killed\n`);
        }
      }
      if (answers.length === 0) {
        throw new TunDriverError('TUN_ERR_NO_DEVICE', `no tun-driver daemon${opts.tun ? ` on ${opts.tun}` : ''} answered in this network namespace (stale control socket${sockets.length > 1 ? 's' : ''}: ${sockets.map((s) => s.path).join(', ')})`);
      }
      if (opts.json) printJson(answers);
      else process.stdout.write(answers.map(describe).join('\n') + '\n');
    });
}
