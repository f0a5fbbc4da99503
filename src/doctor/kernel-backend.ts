// doctor's checks for a kernel backend (vxlan, host-gw): the daemon says
// which entries each peer needs (status.kernel); doctor reads the kernel
// and reports each entry that is missing (with the command that puts it
// back), each entry of ours no peer needs (with the command that removes
// it), pods whose MTU is larger than the backend leaves, leases left out
// (another backend's record, host-gw peers off the link), strict
// reverse-path filtering where a peer's pods' packets arrive on one device
// and the route back to them leaves by another, and a firewall that drops
// VXLAN's UDP port. Reads only.
import type { KernelBackendStatus, OverlayStatus } from '../control/daemon-status.js';
import { Link } from '../netlink/link.js';
import { fdbList, neighList } from '../netlink/neigh.js';
import { AF_INET, AF_INET6, NUD } from '../netlink/nl/constants.js';
import { route6List, routeList } from '../netlink/route.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { formatCidr, formatIPv4, parseCidr, prefixContains } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import { formatMac } from '../packet/mac.js';
import { blockingRules } from './firewall.js';
import { RTPROT_TUN_DRIVER } from '../backend/kernel-entries.js';
import { readRpFilter, RpFilterReading } from '../relay/rp-filter.js';

type Add = (check: string, status: 'ok' | 'warning' | 'problem', evidence: string, fix?: string) => void;

const formatIp = (a: number | Uint8Array): string => (typeof a === 'number' ? formatIPv4(a) : formatIPv6(a));

/** The entries of ours in the kernel now, in the text status uses (`ip`/`bridge` syntax). */
function kernelEntries(nl: NetlinkSocket, k: KernelBackendStatus, links: Link[]): { neigh: Set<string>; fdb: Set<string>; route: Set<string> } {
  const neigh = new Set<string>();
  const fdb = new Set<string>();
  const route = new Set<string>();
  const byIndex = new Map(links.map((l) => [l.index, l.name]));
  const vteps = k.type === 'vxlan' ? k.devices : [];
  for (const d of vteps) {
    for (const family of [AF_INET, AF_INET6]) {
      for (const n of neighList(nl, family, d.index)) if (n.state & NUD.PERMANENT && n.dst !== undefined && n.lladdr) neigh.add(`${formatIp(n.dst)} lladdr ${formatMac(n.lladdr)} dev ${d.name} nud permanent`);
    }
    for (const f of fdbList(nl, d.index)) fdb.add(`${formatMac(f.lladdr!)} dev ${d.name} dst ${formatIp(f.dst!)} self permanent`);
  }
  const ours = new Set(k.devices.map((d) => d.index));
  // On a VTEP every route is ours; on host-gw's underlay only those tagged as ours (proto 75).
  const isOurs = (r: { oif?: number; protocol: number }): boolean => ours.has(r.oif ?? -1) && (k.type === 'vxlan' || r.protocol === RTPROT_TUN_DRIVER);
  for (const r of routeList(nl)) {
    if (!isOurs(r) || r.gateway === undefined) continue;
    route.add(`${formatCidr(r.dst, false)} via ${formatIPv4(r.gateway)} dev ${byIndex.get(r.oif!)}${r.onlink ? ' onlink' : ''}`);
  }
  for (const r of route6List(nl)) {
    if (!isOurs(r) || !r.gateway) continue;
    route.add(`${formatCidr6(r.dst, false)} via ${formatIPv6(r.gateway)} dev ${byIndex.get(r.oif!)}${r.onlink ? ' onlink' : ''}`);
  }
  return { neigh, fdb, route };
}

const COMMAND = { neigh: 'ip neigh', fdb: 'bridge fdb', route: 'ip route' } as const;

export function checkKernelBackend(nl: NetlinkSocket, daemon: OverlayStatus & { kernel: KernelBackendStatus }, links: Link[], ruleset: Record<string, any> | undefined, add: Add): void {
  const k = daemon.kernel;
  const name = k.type === 'vxlan' ? k.devices.map((d) => d.name).join(', ') : 'host-gw';
  for (const d of k.devices) {
    add(`${d.name} up`, d.up ? 'ok' : 'problem', `${d.name} is ${d.up ? 'up' : 'down'}`, d.up ? undefined : `ip link set dev ${d.name} up`);
  }
  // Each peer's entries, as the daemon programmed them, against what the kernel holds.
  const have = kernelEntries(nl, k, links);
  const wanted = { neigh: new Set<string>(), fdb: new Set<string>(), route: new Set<string>() };
  let missing = 0;
  for (const p of k.peers) {
    for (const e of p.entries) {
      // host-gw and DirectRouting routes sit on the underlay: the status text names the device.
      wanted[e.kind].add(e.text);
      if (e.kind === 'route' && p.via === 'direct') continue; // on the underlay: checked below
      if (!have[e.kind].has(e.text)) {
        missing++;
        add(`${name} lease ${p.subnet}`, 'problem', `the ${e.kind === 'fdb' ? 'FDB entry' : e.kind === 'neigh' ? 'neighbour' : 'route'} for ${p.subnet} at ${p.publicIp} is missing: ${e.text}`, `${COMMAND[e.kind]} replace ${e.text}`);
      }
    }
  }
  if (k.peers.some((p) => p.via === 'direct')) {
    const underlayRoutes = new Set(routeList(nl).filter((r) => r.gateway !== undefined).map((r) => `${formatCidr(r.dst, false)} via ${formatIPv4(r.gateway!)} dev ${links.find((l) => l.index === r.oif)?.name}`));
    for (const r of route6List(nl)) if (r.gateway) underlayRoutes.add(`${formatCidr6(r.dst, false)} via ${formatIPv6(r.gateway)} dev ${links.find((l) => l.index === r.oif)?.name}`);
    for (const p of k.peers) {
      for (const e of p.entries) {
        if (e.kind !== 'route' || p.via !== 'direct' || underlayRoutes.has(e.text)) continue;
        missing++;
        add(`${name} lease ${p.subnet}`, 'problem', `the route to ${p.subnet} via ${p.publicIp} is missing: ${e.text}`, `ip route replace ${e.text}`);
      }
    }
  }
  // DirectRouting routes sit on the underlay, beside routes that are not ours: only the wanted ones are looked for there.
  for (const p of k.peers) if (p.via === 'direct') for (const e of p.entries) wanted.route.delete(e.text);
  // Entries of ours that no lease needs: a peer that left while the agent was down, or a hand-made leftover.
  let stale = 0;
  for (const kind of ['neigh', 'fdb', 'route'] as const) {
    for (const text of have[kind]) {
      if (wanted[kind].has(text)) continue;
      stale++;
      add(`${name} stale entry`, 'warning', `${COMMAND[kind]} ${text}: no lease needs it (a node that left while no agent ran here?)`, `${COMMAND[kind]} del ${text.replace(/ nud permanent$/, '').replace(/ permanent$/, '')}`);
    }
  }
  if (missing === 0 && stale === 0) add(`${name} entries`, 'ok', `every peer's ${k.type === 'vxlan' ? 'neighbour, FDB entry and route' : 'route'} is in place (${k.peers.length} peer(s)), none stale`);
  checkReversePath(nl, k, links, add);
  // Leases the backend left out.
  for (const [why, n] of Object.entries(k.skipped)) {
    add(`${name} leases left out`, 'warning', `${n} lease(s): ${why}`, why.includes('layer-2 adjacency') ? 'run the network with "Backend": {"Type": "vxlan", "DirectRouting": true}: it routes directly where it can and encapsulates elsewhere' : undefined);
  }
  // Pods behind a bridge whose MTU is larger than the backend leaves lose their large packets.
  const mtu = Math.min(...k.devices.map((d) => d.mtu));
  const bridge = links.find((l) => l.name === 'cni0');
  if (bridge && bridge.mtu > mtu && k.type === 'vxlan') {
    add('pod MTU', 'problem', `cni0 (the pods' bridge) has MTU ${bridge.mtu}, but ${name} leaves ${mtu}: pods' full-size packets are dropped or fragmented`, `give pods MTU ${mtu} (subnet.env FLANNEL_MTU=${mtu}; re-add the pods), or raise the underlay's MTU`);
  } else if (bridge) {
    add('pod MTU', 'ok', `cni0 has MTU ${bridge.mtu}, within what ${name} leaves (${mtu})`);
  }
  if (k.type === 'vxlan' && k.port !== undefined) {
    if (!ruleset) return add(`${name} firewall`, 'warning', 'could not read the nftables ruleset (nft missing or not permitted): firewall not checked');
    const blocking = blockingRules(ruleset, { proto: 'udp', port: k.port });
    for (const b of blocking) add(`${name} firewall`, 'problem', `${b.evidence}: drops VXLAN's UDP port ${k.port}`, b.fix);
    if (blocking.length === 0) add(`${name} firewall`, 'ok', `no rule drops VXLAN's UDP port ${k.port}`);
  }
}

/**
 * Strict reverse-path filtering (rp_filter 1) drops a packet that arrives
 * on a device other than the one the route back to its source leaves by.
 * A peer's pods' packets arrive on flannel.<VNI> (vxlan) or on the underlay
 * (host-gw, DirectRouting); the backend's own route to the peer's subnet
 * leaves by the same device, so strict mode is fine until another route
 * wins for that subnet (a more specific one, or ours gone).
 */
function checkReversePath(nl: NetlinkSocket, k: KernelBackendStatus, links: Link[], add: Add): void {
  const routes = routeList(nl);
  const devOf = (index: number | undefined): string => links.find((l) => l.index === index)?.name ?? `ifindex ${index}`;
  const readings = new Map<string, RpFilterReading>();
  const text = (dev: string, r: RpFilterReading): string => `net.ipv4.conf.{all,${dev}}.rp_filter = ${r.all}, ${r.device}: effective ${r.effective}`;
  const dropping = new Set<string>();
  for (const p of k.peers) {
    let subnet;
    try {
      subnet = parseCidr(p.subnet);
    } catch {
      continue; // an IPv6-only peer: rp_filter is IPv4's
    }
    const arrival = p.via === 'vxlan' ? k.devices[0]?.name : /\bdev (\S+)/.exec(p.entries.find((e) => e.kind === 'route')?.text ?? '')?.[1];
    if (!arrival) continue;
    if (!readings.has(arrival)) readings.set(arrival, readRpFilter(arrival));
    const reading = readings.get(arrival)!;
    if (reading.effective !== 1) continue;
    const back = routes.filter((r) => prefixContains(r.dst, subnet.network)).sort((a, b) => b.dst.length - a.dst.length)[0];
    const leaves = back ? devOf(back.oif) : undefined;
    if (leaves === arrival) continue;
    dropping.add(arrival);
    add(`${arrival} reverse-path filter`, 'problem', `${text(arrival, reading)} (strict): packets from ${p.subnet}'s pods arrive on ${arrival}, but the route back to ${p.subnet} ${leaves ? `leaves by ${leaves} (${formatCidr(back!.dst, false)})` : 'is missing'}, so the kernel drops them`, `sysctl -w net/ipv4/conf/${arrival}/rp_filter=2   # or remove the route that wins over the backend's`);
  }
  for (const [dev, r] of readings) {
    if (!dropping.has(dev)) add(`${dev} reverse-path filter`, 'ok', `${text(dev, r)}${r.effective === 1 ? ' (strict: each peer\'s route leaves by the device its packets arrive on)' : ''}`);
  }
}
