// The lab's topology file: what a lab is made of, validated with messages
// that say what to fix. JSON; see presets.ts for examples.
import { z } from 'zod';
import { BACKEND_TYPES } from '../subnet/etcd/network-config.js';
import { TunDriverError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import { formatIPv4, parseCidr, parseIPv4, Prefix, prefixContains } from '../packet/addr.js';
import { formatIPv6, parseCidr6, parseIPv6, Prefix6, prefix6Contains } from '../packet/addr6.js';

/** Every lab namespace is named tdlab-<lab>-<node>; cleanup finds them by this prefix. */
export const LAB_PREFIX = 'tdlab-';
export const UNDERLAY = parseCidr('198.51.100.0/24');
export const POD_NETWORK = parseCidr('10.244.0.0/16');
/** The IPv6 pod network of a dual-stack lab (`"etcd": {"ipv6": true}`, or the overlay's IPv6 --network). */
export const POD_NETWORK6 = parseCidr6('fd00:10:244::/48');
/** Where a lab's IPv6 segments live: inside the documentation prefix (RFC 3849), never a routed one. */
export const UNDERLAY6 = parseCidr6('2001:db8::/32');

/** What a lab name may be: it becomes part of every namespace name (tdlab-NAME-NODE). */
export const LAB_NAME = /^[a-z][a-z0-9-]{0,19}$/;

const nodeName = z.string().regex(/^[a-z][a-z0-9-]{0,14}$/, 'must be 1-15 characters: lower-case letters, digits and "-", starting with a letter');
const ipv4 = z.string().refine((s) => parseIPv4(s) !== undefined, 'must be an IPv4 address like 198.51.100.1');
const cidr = z.string().refine((s) => {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}, 'must be an IPv4 prefix like 198.51.100.0/24');
const ipv6 = z.string().refine((s) => parseIPv6(s) !== undefined, 'must be an IPv6 address like 2001:db8:a::1');
const cidr6 = z.string().refine((s) => {
  try {
    parseCidr6(s);
    return true;
  } catch {
    return false;
  }
}, 'must be an IPv6 prefix like 2001:db8:a::/64');

export const TopologySchema = z
  .object({
    name: z.string().regex(LAB_NAME, 'must be 1-20 characters: lower-case letters, digits and "-"'),
    /** Switches: each a bridge in its own namespace, with an IPv4 subnet inside 198.51.100.0/24. */
    /** subnet6 (optional, inside 2001:db8::/32) makes the segment dual-stack: its hosts and routers may then have an address6. */
    segments: z.array(z.object({ name: nodeName, subnet: cidr, subnet6: cidr6.optional(), mtu: z.number().int().min(576).max(9000).optional() }).strict()).min(1),
    hosts: z
      .array(
        z
          .object({
            name: nodeName,
            segment: nodeName,
            address: ipv4,
            address6: ipv6.optional(),
            /** Pods: namespaces behind a bridge (cni0) on the host; the host gets subnet .1. */
            pods: z.object({ subnet: cidr, count: z.number().int().min(1).max(64) }).strict().optional(),
          })
          .strict(),
      )
      .min(1),
    routers: z
      .array(z.object({ name: nodeName, interfaces: z.array(z.object({ segment: nodeName, address: ipv4, address6: ipv6.optional() }).strict()).min(2) }).strict())
      .default([]),
    /** An etcd cluster inside the lab: one member on each host named here (the overlay's control plane). */
    /** ipv6: a dual-stack network config; with ipv4 false too, an IPv6-only one ("EnableIPv4": false). */
    etcd: z.object({ members: z.array(nodeName).min(1).max(5), tls: z.boolean().optional(), ipv6: z.boolean().optional(), ipv4: z.boolean().optional() }).strict().optional(),
    /** How the lab's nodes carry pods across: flannel's Backend.Type, stored in the etcd network config (default udp). */
    backend: z.enum(BACKEND_TYPES).optional(),
  })
  .strict();

export type Topology = z.infer<typeof TopologySchema>;

function fail(message: string): never {
  throw new TunDriverError('TUN_ERR_LAB', message);
}

/** Structure (zod) plus the rules a schema cannot say: uniqueness, containment, overlap. */
export function validateTopology(input: unknown, source = 'topology'): Topology {
  const parsed = TopologySchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(`${source}: ${issue.path.join('.') || '(top level)'} ${issue.message}`);
  }
  const t = parsed.data;
  const names = new Set<string>();
  const addresses = new Set<number>();
  const segments = new Map<string, Prefix>();
  const segments6 = new Map<string, Prefix6>();
  const addresses6 = new Set<string>();
  const claim = (name: string): void => {
    if (names.has(name)) fail(`${source}: the name "${name}" is used twice (segments, hosts, routers and pods share one name space)`);
    names.add(name);
  };
  const claimAddress = (where: string, text: string, segment: string): void => {
    const subnet = segments.get(segment);
    if (!subnet) fail(`${source}: ${where} is on segment "${segment}", which is not declared in "segments"`);
    const a = parseIPv4(text)!;
    if (!prefixContains(subnet, a)) fail(`${source}: ${where} address ${text} is outside its segment ${segment} (${formatIPv4(subnet.network)}/${subnet.length})`);
    if (a === subnet.network || a === (subnet.network | (~(0xffffffff << (32 - subnet.length)) >>> 0)) >>> 0) fail(`${source}: ${where} address ${text} is the network or broadcast address of ${segment}`);
    if (addresses.has(a)) fail(`${source}: address ${text} (${where}) is used twice`);
    addresses.add(a);
  };
  const claimAddress6 = (where: string, text: string | undefined, segment: string): void => {
    if (text === undefined) return;
    const subnet = segments6.get(segment);
    if (!subnet) fail(`${source}: ${where} has address6 ${text}, but segment "${segment}" has no subnet6`);
    const a = parseIPv6(text)!;
    if (!prefix6Contains(subnet, a)) fail(`${source}: ${where} address6 ${text} is outside its segment ${segment} (${formatIPv6(subnet.network)}/${subnet.length})`);
    const key = formatIPv6(a);
    if (addresses6.has(key)) fail(`${source}: address6 ${text} (${where}) is used twice`);
    addresses6.add(key);
  };
  for (const s of t.segments) {
    claim(s.name);
    const p = parseCidr(s.subnet);
    if (!prefixContains(UNDERLAY, p.network) || p.length < UNDERLAY.length) fail(`${source}: segment ${s.name} subnet ${s.subnet} must lie inside the lab underlay 198.51.100.0/24`);
    for (const [other, q] of segments) {
      if (prefixContains(q, p.network) || prefixContains(p, q.network)) fail(`${source}: segments ${s.name} and ${other} overlap`);
    }
    segments.set(s.name, p);
    if (s.subnet6 !== undefined) {
      const p6 = parseCidr6(s.subnet6);
      if (!prefix6Contains(UNDERLAY6, p6.network) || p6.length < UNDERLAY6.length || p6.length > 120) fail(`${source}: segment ${s.name} subnet6 ${s.subnet6} must be a /32-/120 inside the lab's IPv6 underlay 2001:db8::/32`);
      for (const [other, q] of segments6) if (prefix6Contains(q, p6.network) || prefix6Contains(p6, q.network)) fail(`${source}: the subnet6 of segments ${s.name} and ${other} overlap`);
      segments6.set(s.name, p6);
    }
  }
  const pods: Array<[string, Prefix]> = [];
  for (const h of t.hosts) {
    claim(h.name);
    claimAddress(`host ${h.name}`, h.address, h.segment);
    claimAddress6(`host ${h.name}`, h.address6, h.segment);
    if (h.pods) {
      const p = parseCidr(h.pods.subnet);
      if (!prefixContains(POD_NETWORK, p.network) || p.length < POD_NETWORK.length || p.length > 28) fail(`${source}: host ${h.name} pod subnet ${h.pods.subnet} must be a /16-/28 inside 10.244.0.0/16`);
      if (h.pods.count + 2 > 2 ** (32 - p.length) - 1) fail(`${source}: host ${h.name} pod subnet ${h.pods.subnet} is too small for ${h.pods.count} pods`);
      for (const [other, q] of pods) if (prefixContains(q, p.network) || prefixContains(p, q.network)) fail(`${source}: pod subnets of ${h.name} and ${other} overlap`);
      pods.push([h.name, p]);
      for (let i = 1; i <= h.pods.count; i++) claim(podName(h.name, i));
    }
  }
  if (t.etcd) {
    if (t.etcd.ipv4 === false && !t.etcd.ipv6) fail(`${source}: etcd.ipv4 false needs etcd.ipv6 true (an IPv6-only network)`);
    const hosts = new Set(t.hosts.map((h) => h.name));
    for (const [i, m] of t.etcd.members.entries()) {
      if (!hosts.has(m)) fail(`${source}: etcd member ${m} is not a host of the lab`);
      if (t.etcd.members.indexOf(m) !== i) fail(`${source}: etcd member ${m} is listed twice`);
    }
  }
  for (const r of t.routers) {
    claim(r.name);
    const seen = new Set<string>();
    for (const i of r.interfaces) {
      if (seen.has(i.segment)) fail(`${source}: router ${r.name} has two interfaces on segment ${i.segment}`);
      seen.add(i.segment);
      claimAddress(`router ${r.name}`, i.address, i.segment);
      claimAddress6(`router ${r.name}`, i.address6, i.segment);
    }
  }
  return t;
}

export function loadTopologyFile(path: string): Topology {
  return validateTopology(readJsonFile(path, 'topology file', 'TUN_ERR_LAB'), path);
}

export function podName(host: string, index: number): string {
  return `${host}-pod${index}`;
}

export function namespaceOf(lab: string, node: string): string {
  return `${LAB_PREFIX}${lab}-${node}`;
}
