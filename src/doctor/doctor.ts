// `tun-driver doctor`: what the tutorial found by hand in a day
// (section 3.5), found in seconds. Each check reports ok / warning /
// problem with its evidence and, for anything wrong, the exact command
// that fixes it. Reads only; changes nothing.
import { queryStatus } from '../control/control-server.js';
import { DaemonStatus, isEtcdLeases, OverlayStatus } from '../control/daemon-status.js';
import { listControlSockets } from '../control/paths.js';
import { Address6, addr6List, addrList } from '../netlink/addr.js';
import { Rule, ruleList } from '../netlink/rule.js';
import { AF_INET6, RT_TABLE } from '../netlink/nl/constants.js';
import { tunRoute6 } from '../relay/tun-route6.js';
import { Link, linkList } from '../netlink/link.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { sysctlRead } from '../netns/sysctl.js';
import { formatCidr, formatIPv4, parseCidr, parseIPv4, prefixContains } from '../packet/addr.js';
import { Route, Route6, route6List, routeList } from '../netlink/route.js';
import { readRpFilter } from '../relay/rp-filter.js';
import { blockingRules, droppingPolicies, readRuleset, Traffic } from './firewall.js';
import { liveProbe } from './live-probe.js';
import { ip6MasqRules, ipMasqRules, listIpMasq } from '../overlay/ip-masq.js';
import { parseCidr6 } from '../packet/addr6.js';
import { encapOverhead, overlayPathMtu } from '../overlay/mtu.js';
import { checkKernelBackend } from './kernel-backend.js';

import type { Finding, Verdict } from './finding.js';

export type { Finding, Verdict };

/** What doctor knows about a device: the daemon on it, if one answers on its control socket. */
interface Subject {
  link: Link;
  addresses: string[];
  daemon?: DaemonStatus;
}


export async function runDoctor(options: { tun?: string; probe?: string } = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  const add = (check: string, status: Verdict, evidence: string, fix?: string): void => void findings.push({ check, status, evidence, fix });
  const nl = NetlinkSocket.open();
  let links: Link[];
  let addrs: ReturnType<typeof addrList>;
  let routes: Route[];
  let v6: IPv6Facts;
  try {
    links = linkList(nl);
    addrs = addrList(nl);
    routes = routeList(nl);
    v6 = readIPv6Facts(nl);
  } catch (err) {
    nl.close();
    throw err;
  }
  const daemons = new Map<string, DaemonStatus>();
  const sockets = new Map<string, string>();
  for (const s of listControlSockets()) {
    try {
      daemons.set(s.device, (await queryStatus(s.path, 1000)) as DaemonStatus);
      sockets.set(s.device, s.path);
    } catch {
      add(`daemon on ${s.device}`, 'warning', `a control socket exists for ${s.device} but nobody answers: the daemon was probably killed`, `remove it: rm ${s.path}`);
    }
  }
  // Kernel backends (vxlan, host-gw) have no TUN: their daemon's status names the entries to check.
  const ruleset = readRuleset();
  try {
    for (const [device, d] of daemons) {
      if (d.mode !== 'overlay' || !d.kernel || (options.tun && options.tun !== device)) continue;
      add(`${device} daemon`, 'ok', `overlay with the ${d.kernel.type} backend (pid ${d.pid}) is running, up ${d.uptimeSeconds} s`);
      checkKernelBackend(nl, { ...d, kernel: d.kernel }, links, ruleset, add);
      checkForwarding(d.kernel.type, add);
      if (options.tun) return findings;
    }
  } finally {
    nl.close();
  }
  const tuns = links.filter((l) => l.kind === 'tun' && (!options.tun || l.name === options.tun));
  if (options.tun && tuns.length === 0) {
    add(`device ${options.tun}`, 'problem', `${options.tun} does not exist in this network namespace`, `start the daemon that makes it (tun-driver relay/overlay ... --tun ${options.tun}), or tun-driver tun add ${options.tun} --address CIDR`);
    return findings;
  }
  if (tuns.length === 0 && findings.length === 0) add('TUN devices', 'warning', 'no TUN device in this network namespace: nothing to diagnose', 'start tun-driver relay or overlay first');
  for (const link of tuns) {
    const globals6 = v6.addrs.filter((a) => a.index === link.index && a.scope === 0).map((a) => a.cidr);
    const subject: Subject = { link, addresses: [...addrs.filter((a) => a.index === link.index).map((a) => a.cidr), ...globals6], daemon: daemons.get(link.name) };
    checkDevice(subject, add);
    checkRoutesAndAddresses(subject, routes, addrs, links, add);
    if (globals6.length && subject.daemon?.mode !== 'overlay') checkIPv6BoundRoute(link, v6, add);
    checkRpFilter(subject, add);
    const daemon = subject.daemon;
    if (daemon?.mode === 'overlay') {
      checkOverlay({ ...subject, daemon }, links, addrs, add);
      checkWireGuard(daemon, routes, add);
    }
    checkFirewall(subject, ruleset, add);
    if (subject.daemon) {
      // The live probe: an overlay pings a peer's overlay address (that node's kernel answers); a relay needs a target.
      const peer = subject.daemon.mode === 'overlay' ? subject.daemon.peers[0]?.subnet : undefined;
      // By default a peer's TUN address (its subnet's network address, of whichever family names it).
      const target = options.probe ?? (peer ? peer.split('/')[0] : undefined);
      if (target) findings.push(await liveProbe(sockets.get(link.name)!, link.name, subject.daemon.mode, target));
      else add(`${link.name} live probe`, 'warning', `not run: give --probe ADDR (a host the ${subject.daemon.mode} should reach) to send one test packet through ${link.name}`);
    }
  }
  return findings;
}

type Add = (check: string, status: Verdict, evidence: string, fix?: string) => void;

/** A kernel backend forwards between pods and other nodes in the kernel: ip_forward must be on. */
function checkForwarding(backend: string, add: Add): void {
  const on = sysctlRead('net.ipv4.ip_forward') === '1';
  add('ip_forward', on ? 'ok' : 'problem', `net.ipv4.ip_forward is ${on ? 1 : 0}${on ? '' : `: the ${backend} backend cannot forward between pods and other nodes`}`, on ? undefined : 'sysctl -w net.ipv4.ip_forward=1');
}

function checkDevice(s: Subject, add: Add): void {
  const { link } = s;
  add(`${link.name} up`, link.up ? 'ok' : 'problem', `${link.name} is ${link.up ? 'up' : 'down'}`, link.up ? undefined : `ip link set dev ${link.name} up`);
  add(`${link.name} attached`, link.lowerUp ? 'ok' : 'problem',
    link.lowerUp ? `a process holds ${link.name} open (carrier up)` : `no process holds ${link.name} open (NO-CARRIER): packets routed into it are dropped`,
    link.lowerUp ? undefined : `start the daemon on it, e.g. tun-driver relay --tun ${link.name} --attach`);
  add(`${link.name} addresses`, s.addresses.length ? 'ok' : 'problem', s.addresses.length ? `${link.name} has ${s.addresses.join(', ')}` : `${link.name} has no IPv4 or global IPv6 address, so nothing routes into it`,
    s.addresses.length ? undefined : `ip addr add CIDR dev ${link.name}`);
  if (s.daemon) add(`${link.name} daemon`, 'ok', `${s.daemon.mode} (pid ${s.daemon.pid}) is running on ${link.name}, up ${s.daemon.uptimeSeconds} s`);
}

/** Routes into the device (the kernel's connected route counts), and no address of it used elsewhere. */
function checkRoutesAndAddresses(s: Subject, routes: Route[], addrs: ReturnType<typeof addrList>, links: Link[], add: Add): void {
  const name = s.link.name;
  const into = routes.filter((r) => r.oif === s.link.index).map((r) => (r.dst.length === 0 ? 'default' : formatCidr({ ...r.dst, address: r.dst.network })));
  const own = addrs.find((a) => a.index === s.link.index);
  if (own) {
    add(`${name} routes`, into.length ? 'ok' : 'problem', into.length ? `routes into ${name}: ${into.join(', ')}` : `no route points into ${name}: nothing will be sent through it`,
      into.length ? undefined : `ip route add ${formatCidr(own.prefix, false)} dev ${name}`);
  }
  for (const mine of addrs.filter((a) => a.index === s.link.index)) {
    const clash = addrs.find((a) => a.index !== s.link.index && a.prefix.address === mine.prefix.address);
    if (clash) {
      const other = links.find((l) => l.index === clash.index)?.name ?? `#${clash.index}`;
      add(`${name} address ${mine.cidr}`, 'problem', `${mine.prefix.address === clash.prefix.address ? formatIPv4(mine.prefix.address) : mine.cidr} is also on ${other}: replies may leave or arrive through the wrong device`, `ip addr del ${clash.cidr} dev ${other}`);
    }
  }
}

/** What the IPv6 checks read once: addresses, oif rules, and the routes of every table. */
interface IPv6Facts {
  addrs: Address6[];
  rules: Rule[];
  routes: Route6[];
}

function readIPv6Facts(nl: NetlinkSocket): IPv6Facts {
  const tables = (r: Rule[]): number[] => [...new Set(r.map((x) => x.table))];
  const rules = ruleList(nl, AF_INET6);
  return { addrs: addr6List(nl), rules, routes: [RT_TABLE.MAIN, ...tables(rules)].flatMap((t) => route6List(nl, t)) };
}

/**
 * `ping -6 -I tun19 <host>` needs a route for traffic bound to the TUN
 * (IPv4 needs none): a default route into it in the main table, or an
 * `oif` rule whose table has one (what the relay installs, tun-route6.ts).
 */
function checkIPv6BoundRoute(link: Link, v6: IPv6Facts, add: Add): void {
  const name = link.name;
  const defaultInto = (table: number): boolean => v6.routes.some((r) => r.table === table && r.dst.length === 0 && r.oif === link.index);
  const rule = v6.rules.find((r) => r.oifName === name && defaultInto(r.table));
  if (rule) return add(`${name} IPv6 route`, 'ok', `traffic bound to ${name} finds a route: rule ${rule.priority} (oif ${name}) looks up table ${rule.table}, which has a default route into ${name}`);
  if (defaultInto(RT_TABLE.MAIN)) return add(`${name} IPv6 route`, 'ok', `the main table's IPv6 default route points into ${name}`);
  const fix = tunRoute6(name, link.index).commands.join(' && ');
  add(`${name} IPv6 route`, 'problem', `no IPv6 route for traffic bound to ${name}: ping -6 -I ${name} <host> fails with "connect: Network is unreachable" (IPv4 treats a device-bound destination as on-link; IPv6 does not). tun-driver relay installs one while it runs`, fix);
}

function checkRpFilter(s: Subject, add: Add): void {
  const name = s.link.name;
  const r = readRpFilter(name);
  const detail = `net.ipv4.conf.all.rp_filter=${r.all}, net.ipv4.conf.${name}.rp_filter=${r.device}: effective ${r.effective} (${['off', 'strict', 'loose'][r.effective] ?? r.effective})`;
  // Replies written into a relay's TUN come from hosts whose route points
  // elsewhere: strict mode drops them. An overlay's TUN carries the
  // cluster route, so its reverse path is the TUN itself.
  if (r.effective === 1 && s.daemon?.mode !== 'overlay') {
    add(`${name} reverse-path filter`, 'problem', `${detail}: strict reverse-path filtering drops the replies written into ${name} (their source routes via another interface)`, `sysctl -w net.ipv4.conf.${name}.rp_filter=2`);
  } else {
    add(`${name} reverse-path filter`, 'ok', detail);
  }
}

function checkOverlay(s: Subject & { daemon: OverlayStatus }, links: Link[], addrs: ReturnType<typeof addrList>, add: Add): void {
  const name = s.link.name;
  const forward = sysctlRead('net.ipv4.ip_forward');
  // An IPv6-only node (its subnet is an IPv6 one) forwards no IPv4.
  if (!s.daemon.subnet.includes(':')) add('ip_forward', forward === '1' ? 'ok' : 'problem', `net.ipv4.ip_forward=${forward}${forward === '1' ? '' : ': pods behind this node cannot reach the overlay'}`, forward === '1' ? undefined : 'sysctl -w net.ipv4.ip_forward=1');
  if (s.daemon.subnet6) {
    const forward6 = sysctlRead('net.ipv6.conf.all.forwarding');
    add('ipv6 forwarding', forward6 === '1' ? 'ok' : 'problem', `net.ipv6.conf.all.forwarding=${forward6}${forward6 === '1' ? '' : `: this node has IPv6 subnet ${s.daemon.subnet6}, but its pods' IPv6 traffic cannot reach the overlay`}`, forward6 === '1' ? undefined : 'sysctl -w net.ipv6.conf.all.forwarding=1');
  }
  checkEtcdLease(s, add);
  checkIpMasq(s, add);
  const endpoint = s.daemon.endpoint;
  const publicIp = parseIPv4(s.daemon.publicIp);
  const underlayAddr = addrs.find((a) => a.prefix.address === publicIp);
  const underlay = underlayAddr && links.find((l) => l.index === underlayAddr.index);
  if (!underlay) return add(`${name} MTU`, 'warning', `cannot find the interface holding ${endpoint}`);
  const sealed = s.daemon.publicKey !== undefined;
  const ipv6Underlay = s.daemon.publicIpv6 !== undefined;
  const outer = encapOverhead(ipv6Underlay);
  const pathMtu = overlayPathMtu(underlay.mtu, sealed, ipv6Underlay);
  const overhead = underlay.mtu - pathMtu;
  const fits = s.link.mtu + overhead <= underlay.mtu;
  const what = sealed ? `${outer} bytes of UDP/IP and ${overhead - outer} of WireGuard header and tag` : `${outer} bytes of UDP/IP`;
  add(`${name} MTU`, fits ? 'ok' : 'problem',
    `${name} mtu ${s.link.mtu} + ${what} ${fits ? '<=' : '>'} ${underlay.name} mtu ${underlay.mtu}${fits ? '' : ': full-size packets do not fit one datagram (the daemon must answer Fragmentation Needed or fragment)'}`,
    fits ? undefined : `restart the overlay without --mtu (default ${pathMtu}), or: ip link set dev ${name} mtu ${pathMtu}`);
}

/** Beyond this, a session can no longer carry traffic (WireGuard's REJECT_AFTER_TIME). */
const STALE_HANDSHAKE_S = 180;

/**
 * An overlay with --private-key: has each WireGuard peer answered a
 * handshake lately? A peer that is idle (no attempt under way) is fine; one
 * whose initiations go unanswered is not, and the likely causes are named.
 */
function checkWireGuard(daemon: OverlayStatus, routes: Route[], add: Add): void {
  for (const p of daemon.peers) {
    const wg = p.wireguard;
    if (!wg) continue;
    const who = `WireGuard peer ${p.subnet} at ${p.publicIp}:${p.port}`;
    const age = wg.latestHandshakeAgeSeconds;
    const trying = wg.unansweredSeconds !== null && wg.unansweredSeconds >= 5; // at least REKEY_TIMEOUT unanswered
    if (age !== null && age <= STALE_HANDSHAKE_S) {
      add(who, 'ok', `latest handshake ${age} s ago; transfer ${wg.transferRx} B received, ${wg.transferTx} B sent`);
    } else if (!trying) {
      add(who, 'ok', `${age === null ? 'no handshake yet' : `latest handshake ${age} s ago`}, none needed: no traffic for it since`);
    } else {
      const endpoint = parseIPv4(p.publicIp)!;
      const routed = routes.some((r) => r.table === 254 && prefixContains(r.dst, endpoint));
      const causes = [
        routed ? undefined : `no route to its endpoint ${p.publicIp}`,
        `its lease names a key (${wg.publicKey}) that is not the one it runs with`,
        `it does not know this node's key (${daemon.publicKey}) or endpoint (${daemon.endpoint}), or a different preshared key`,
        `a firewall drops UDP port ${p.port} on the way`,
      ].filter(Boolean);
      add(who, 'problem', `${age === null ? 'no handshake ever' : `no handshake for ${age} s`} (over ${STALE_HANDSHAKE_S} s), initiations unanswered for ${wg.unansweredSeconds} s (${wg.initiationsSent} sent); the likely causes: ${causes.join('; ')}`,
        routed ? `on that node: tun-driver status (or wg show) and compare its public key and peers with this lease; from here: tun-driver doctor --probe <a pod address behind it>` : `add a route to ${p.publicIp}, e.g. ip route add ${p.publicIp}/32 dev <underlay interface>`);
    }
  }
}

/** An overlay with --ip-masq (and --ip6-masq): are its rules in place, exactly as it installed them? */
function checkIpMasq(s: Subject & { daemon: OverlayStatus }, add: Add): void {
  const d = s.daemon;
  if (d.ipMasq) {
    const why = `the daemon runs with --ip-masq (${d.ipMasq.subnetFile} says FLANNEL_IPMASQ=true)`;
    checkMasqTable(s.link.name, 'ip', d.ipMasq.table, ipMasqRules(parseCidr(d.network), parseCidr(d.subnet)), why, add);
  }
  if (d.ip6Masq && d.network6 && d.subnet6) {
    checkMasqTable(s.link.name, 'ip6', d.ip6Masq.table, ip6MasqRules(parseCidr6(d.network6), parseCidr6(d.subnet6)), 'the daemon runs with --ip6-masq', add);
  }
}

/** One family's masquerading table against the rules the daemon installs. */
function checkMasqTable(tun: string, family: 'ip' | 'ip6', table: string, want: string[], why: string, add: Add): void {
  const check = family === 'ip' ? 'ip masquerade' : 'ip6 masquerade';
  let have: string[] | undefined;
  try {
    have = listIpMasq(tun, family);
  } catch (err) {
    return add(check, 'warning', `cannot read the rules: ${(err as Error).message}`);
  }
  const fix = `restart the overlay on ${tun} (it installs table ${family} ${table} at start)`;
  if (!have) return add(check, 'problem', `${why} but table ${family} ${table} is missing: pods reach outside the cluster with their own addresses, and replies never come back`, fix);
  const missing = want.filter((r) => !have.includes(r));
  if (missing.length) return add(check, 'problem', `table ${family} ${table} lacks: ${missing.join('; ')}`, fix);
  add(check, 'ok', `table ${family} ${table}: ${have.join('; ')}`);
}

/** An overlay on etcd: is it still renewing the lease that holds its subnet? */
function checkEtcdLease(s: Subject & { daemon: OverlayStatus }, add: Add): void {
  const leases = s.daemon.leases;
  if (!isEtcdLeases(leases)) return;
  const where = `${leases.key} (lease ${leases.leaseId}, TTL ${leases.leaseTtlSeconds} s, last renewed ${leases.lastRenewal})`;
  // The fix is the command that shows whether etcd answers from this node.
  if (leases.renewalFailing) {
    add('etcd lease', 'problem', `the daemon cannot renew ${where}: forwarding goes on with the last known routes, but if etcd stays out of reach past the TTL this node loses its subnet`,
      `etcdctl --endpoints ${leases.endpoints.join(',')} endpoint health`);
  } else {
    add('etcd lease', 'ok', `renewing ${where}`);
  }
}

function checkFirewall(s: Subject, ruleset: Record<string, any> | undefined, add: Add): void {
  const name = s.link.name;
  const traffic: Traffic | undefined = s.daemon?.mode === 'overlay'
    ? { proto: 'udp', port: s.daemon.port }
    : s.daemon?.mode === 'relay' ? { proto: 'icmp' } : undefined;
  if (!traffic) return;
  const what = traffic.proto === 'udp' ? `the overlay's UDP port ${traffic.port}` : 'the relayed ICMP replies';
  if (!ruleset) return add(`${name} firewall`, 'warning', 'could not read the nftables ruleset (nft missing or not permitted): firewall not checked');
  const blocking = blockingRules(ruleset, traffic);
  for (const b of blocking) add(`${name} firewall`, 'problem', `${b.evidence}: drops ${what}`, b.fix);
  for (const p of droppingPolicies(ruleset)) add(`${name} firewall policy`, 'warning', `${p}: ${what} must be accepted explicitly`);
  if (blocking.length === 0) add(`${name} firewall`, 'ok', `no rule drops ${what}`);
}
