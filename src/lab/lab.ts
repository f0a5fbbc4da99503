// A lab: hosts, switches, routers and pods made of tdlab- network
// namespaces on this machine, wired with veth pairs and bridges over our
// own rtnetlink API. Nothing is ever configured in the root namespace:
// every veth is created inside a lab namespace with its peer placed
// straight into another lab namespace.
import { ChildProcess, SpawnOptions } from 'node:child_process';
import { TunDriverError } from '../errors.js';
import { addr6List, addrAdd } from '../netlink/addr.js';
import { IFA_F } from '../netlink/nl/constants.js';
import { linkAddBridge, linkAddVeth, linkByName, linkSetMaster, linkSetMtu, linkSetUp } from '../netlink/link.js';
import { routeAdd } from '../netlink/route.js';
import { NetlinkSocket } from '../netlink/socket.js';
import { netnsCreate, netnsDelete, netnsList, netnsOpen } from '../netns/netns.js';
import { killNetnsProcesses, spawnInNetns } from '../netns/processes.js';
import { sysctlWrite } from '../netns/sysctl.js';
import { native } from '../native/addon.js';
import { parseCidr, parseIPv4 } from '../packet/addr.js';
import { parseAnyCidr, parseCidr6, parseIPv6 } from '../packet/addr6.js';
import { startLabEtcd } from './lab-etcd.js';
import { LabNode, LabState, listLabStates, readLabState, removeLabState, writeLabState } from './state.js';
import { LAB_PREFIX, namespaceOf, podName, Topology } from './topology.js';

const BRIDGE = 'br0';

/** The nodes a topology becomes, with their namespaces and addresses. */
export function planNodes(t: Topology): LabNode[] {
  const nodes: LabNode[] = t.segments.map((s) => ({ name: s.name, kind: 'switch', netns: namespaceOf(t.name, s.name), addresses: [] }));
  for (const h of t.hosts) {
    nodes.push({ name: h.name, kind: 'host', netns: namespaceOf(t.name, h.name), addresses: interfaceAddresses(t, h) });
  }
  for (const r of t.routers) {
    nodes.push({ name: r.name, kind: 'router', netns: namespaceOf(t.name, r.name), addresses: r.interfaces.flatMap((i) => interfaceAddresses(t, i)) });
  }
  // Pods start empty: their addresses are what tun-driver-cni returns (lab-pods.ts).
  for (const h of t.hosts) {
    for (let j = 1; j <= (h.pods?.count ?? 0); j++) {
      const name = podName(h.name, j);
      nodes.push({ name, kind: 'pod', netns: namespaceOf(t.name, name), addresses: [], host: h.name });
    }
  }
  return nodes;
}

/** The prefixes an interface on a segment gets: its IPv4 address, and its IPv6 one on a dual-stack segment. */
function interfaceAddresses(t: Topology, i: { segment: string; address: string; address6?: string }): string[] {
  const segment = t.segments.find((s) => s.name === i.segment)!;
  const out = [`${i.address}/${parseCidr(segment.subnet).length}`];
  if (i.address6 && segment.subnet6) out.push(`${i.address6}/${parseCidr6(segment.subnet6).length}`);
  return out;
}

function withNetlink<T>(netns: string, fn: (nl: NetlinkSocket) => T): T {
  const nl = NetlinkSocket.open({ netns });
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

/**
 * Connects `ifname` in namespace `netns` to bridge `bridge` in `bridgeNetns`
 * through a veth pair whose bridge-side end is called `portName`.
 */
function plug(netns: string, ifname: string, bridgeNetns: string, bridge: string, portName: string, cidrs: string[], mtu?: number): void {
  const bridgeFd = netnsOpen(bridgeNetns);
  try {
    withNetlink(netns, (nl) => linkAddVeth(nl, ifname, portName, bridgeFd));
  } finally {
    native.close(bridgeFd);
  }
  withNetlink(bridgeNetns, (nl) => {
    const port = linkByName(nl, portName);
    if (mtu) linkSetMtu(nl, port.index, mtu);
    linkSetMaster(nl, port.index, linkByName(nl, bridge).index);
    linkSetUp(nl, port.index);
  });
  withNetlink(netns, (nl) => {
    const link = linkByName(nl, ifname);
    if (mtu) linkSetMtu(nl, link.index, mtu);
    for (const cidr of cidrs) addrAdd(nl, link.index, parseAnyCidr(cidr).prefix);
    linkSetUp(nl, link.index);
  });
}

function addBridge(netns: string, name: string, cidr?: string, mtu?: number): void {
  withNetlink(netns, (nl) => {
    linkAddBridge(nl, name);
    const br = linkByName(nl, name);
    if (mtu) linkSetMtu(nl, br.index, mtu);
    if (cidr) addrAdd(nl, br.index, parseCidr(cidr));
    linkSetUp(nl, br.index);
  });
}

function addDefaultRoute(netns: string, gateway: string, gateway6?: string): void {
  withNetlink(netns, (nl) => {
    routeAdd(nl, { dst: parseCidr('0.0.0.0/0'), gateway: parseIPv4(gateway)! });
    if (gateway6) routeAdd(nl, { dst: parseCidr6('::/0'), gateway: parseIPv6(gateway6)! });
  });
}

function build(t: Topology, nodes: LabNode[]): void {
  const ns = (node: string): string => namespaceOf(t.name, node);
  for (const node of nodes) {
    netnsCreate(node.netns);
    // Lab links are point-to-bridge with addresses the topology (or the
    // pods' IPAM) made unique: duplicate address detection would only keep
    // each new link's IPv6 addresses tentative for a second or more.
    for (const scope of ['all', 'default']) sysctlWrite(`net.ipv6.conf.${scope}.accept_dad`, 0, node.netns);
    withNetlink(node.netns, (nl) => linkSetUp(nl, linkByName(nl, 'lo').index));
  }
  const segMtu = new Map(t.segments.map((s) => [s.name, s.mtu]));
  for (const s of t.segments) addBridge(ns(s.name), BRIDGE, undefined, s.mtu);
  for (const r of t.routers) {
    r.interfaces.forEach((i, k) => plug(ns(r.name), `eth${k}`, ns(i.segment), BRIDGE, r.name, interfaceAddresses(t, i), segMtu.get(i.segment)));
    sysctlWrite('net.ipv4.ip_forward', 1, ns(r.name));
    if (r.interfaces.some((i) => i.address6)) sysctlWrite('net.ipv6.conf.all.forwarding', 1, ns(r.name));
  }
  for (const h of t.hosts) {
    plug(ns(h.name), 'eth0', ns(h.segment), BRIDGE, h.name, interfaceAddresses(t, h), segMtu.get(h.segment));
    const gateway = t.routers.flatMap((r) => r.interfaces).find((i) => i.segment === h.segment);
    if (gateway) addDefaultRoute(ns(h.name), gateway.address, h.address6 ? gateway.address6 : undefined);
    // The host's cni0 and the pods' eth0 come later, from the CNI plugin.
    if (h.pods) {
      sysctlWrite('net.ipv4.ip_forward', 1, ns(h.name));
      // Pods may have IPv6 addresses too (a dual-stack overlay).
      sysctlWrite('net.ipv6.conf.all.forwarding', 1, ns(h.name));
    }
  }
}

/**
 * Waits (at most 3 s) until every IPv6 link of the lab's hosts and routers
 * has its fe80:: address. The kernel adds it only once the link's carrier
 * event is processed, which it batches for up to a second; until then
 * neighbour discovery cannot start, and the first packet across a router
 * waits a retransmission (1 s) for it.
 */
async function ipv6LinksReady(nodes: LabNode[]): Promise<void> {
  const deadline = Date.now() + 3_000;
  for (const node of nodes.filter((n) => n.kind === 'host' || n.kind === 'router')) {
    const ready = (): boolean =>
      withNetlink(node.netns, (nl) => {
        const addrs = addr6List(nl);
        const linkLocal = new Set(addrs.filter((a) => a.scope === 253 && (a.flags & IFA_F.TENTATIVE) === 0).map((a) => a.index));
        return addrs.every((a) => a.scope !== 0 || linkLocal.has(a.index));
      });
    while (!ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
}

/** Namespaces that belong to lab `name`: recorded ones plus any stray tdlab-<name>-* ones. */
function labNamespaces(name: string, state: LabState | undefined): string[] {
  const others = listLabStates().filter((s) => s.name !== name).flatMap((s) => s.nodes.map((n) => n.netns));
  const recorded = state?.nodes.map((n) => n.netns) ?? [];
  const prefix = `${LAB_PREFIX}${name}-`;
  const stray = netnsList().filter((n) => n.startsWith(prefix) && !others.includes(n));
  return [...new Set([...recorded, ...stray])];
}

/** A lab as `lab ls` lists it. */
export interface LabSummary {
  name: string;
  createdAt?: string;
  nodes: LabNode[];
  /** Namespaces of this lab that exist right now. */
  present: number;
}

/**
 * A lab that is up: hosts, switches, routers and pods made of `tdlab-<lab>-<node>` network namespaces, wired with veth pairs and bridges.
 * Build one with {@link Lab.up}, reopen one with {@link Lab.open}, remove it with {@link Lab.down}. Nothing is configured in the root namespace. Needs root.
 */
export class Lab {
  private constructor(readonly state: LabState) {}

  get name(): string {
    return this.state.name;
  }

  /**
   * Builds the lab; on any failure removes whatever it had made and rethrows.
   * @throws TunDriverError `TUN_ERR_EXISTS` (a lab of that name is up), `TUN_ERR_LAB` (etcd did not start), `TUN_ERR_NETLINK`/`TUN_ERR_NETNS`/`TUN_ERR_PERMISSION` from the build.
   */
  static async up(topology: Topology): Promise<Lab> {
    if (readLabState(topology.name) || labNamespaces(topology.name, undefined).length > 0) {
      throw new TunDriverError('TUN_ERR_EXISTS', `lab "${topology.name}" is already up (remove it with: tun-driver lab down ${topology.name})`);
    }
    const state: LabState = { name: topology.name, createdAt: new Date().toISOString(), builtBy: process.pid, topology, nodes: planNodes(topology) };
    writeLabState(state);
    const lab = new Lab(state);
    try {
      build(topology, state.nodes);
      if (topology.segments.some((s) => s.subnet6 !== undefined)) await ipv6LinksReady(state.nodes);
      if (topology.etcd) await startLabEtcd(lab);
    } catch (err) {
      await Lab.down(topology.name);
      throw err;
    }
    return lab;
  }

  /**
   * Re-opens a lab that is up (for `lab exec` and tests).
   * @throws TunDriverError `TUN_ERR_LAB` when no lab of that name is up.
   */
  static open(name: string): Lab {
    const state = readLabState(name);
    if (!state) throw new TunDriverError('TUN_ERR_LAB', `no lab named "${name}" is up (see: tun-driver lab ls)`);
    return new Lab(state);
  }

  /**
   * Stops every process inside the lab's namespaces and removes them, with
   * everything in them. Without a name: every lab and every tdlab- namespace.
   * Returns the namespaces removed.
   * Never throws for a lab that is not up (returns []).
   */
  static async down(name?: string): Promise<string[]> {
    const labs = name ? [name] : [...new Set([...listLabStates().map((s) => s.name)])];
    const targets = new Set<string>();
    for (const lab of labs) for (const n of labNamespaces(lab, readLabState(lab))) targets.add(n);
    if (!name) for (const n of netnsList()) if (n.startsWith(LAB_PREFIX)) targets.add(n);
    const present = new Set(netnsList());
    const removed: string[] = [];
    for (const n of targets) if (present.has(n)) await killNetnsProcesses(n);
    for (const n of targets) {
      if (!present.has(n)) continue;
      netnsDelete(n);
      removed.push(n);
    }
    for (const lab of labs) removeLabState(lab);
    return removed;
  }

  /** The labs that are up (with how many of their namespaces exist), and stray `tdlab-` namespaces no lab owns. */
  static list(): { labs: LabSummary[]; orphans: string[] } {
    const present = new Set(netnsList());
    const labs = listLabStates().map((s) => ({ name: s.name, createdAt: s.createdAt, nodes: s.nodes, present: s.nodes.filter((n) => present.has(n.netns)).length }));
    const owned = new Set(labs.flatMap((l) => l.nodes.map((n) => n.netns)));
    const orphans = [...present].filter((n) => n.startsWith(LAB_PREFIX) && !owned.has(n));
    return { labs, orphans };
  }

  /**
   * Finds the lab that has a node called `node` (when only one does).
   * @throws TunDriverError `TUN_ERR_LAB` when no lab, or more than one, has such a node.
   */
  static findByNode(node: string): Lab {
    const matches = listLabStates().filter((s) => s.nodes.some((n) => n.name === node));
    if (matches.length === 1) return new Lab(matches[0]);
    if (matches.length === 0) throw new TunDriverError('TUN_ERR_LAB', `no lab that is up has a node "${node}" (see: tun-driver lab ls)`);
    throw new TunDriverError('TUN_ERR_LAB', `labs ${matches.map((m) => m.name).join(', ')} all have a node "${node}": say which with --lab NAME`);
  }

  /**
   * The node called `name`.
   * @throws TunDriverError `TUN_ERR_LAB` listing the nodes there are.
   */
  node(name: string): LabNode {
    const node = this.state.nodes.find((n) => n.name === name);
    if (!node) throw new TunDriverError('TUN_ERR_LAB', `lab ${this.name} has no node "${name}" (nodes: ${this.state.nodes.map((n) => n.name).join(', ')})`);
    return node;
  }

  /** The namespace of a node. */
  ns(node: string): string {
    return this.node(node).netns;
  }

  /** The first address of a node, without prefix length. */
  address(node: string): string {
    return this.node(node).addresses[0].split('/')[0];
  }

  /**
   * Starts `command` inside the node's namespace (the child is born there); like `child_process.spawn`.
   * @throws TunDriverError `TUN_ERR_LAB` (no such node), `TUN_ERR_NETNS` (its namespace is gone).
   */
  spawn(node: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawnInNetns(this.ns(node), command, args, options);
  }

  /** Runs a command in a node to completion; kills it after `timeoutMs`. */
  run(node: string, command: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(node, command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d) => (stdout += d));
      child.stderr!.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Removes this lab (see {@link Lab.down}); returns the namespaces removed. */
  down(): Promise<string[]> {
    return Lab.down(this.name);
  }
}
