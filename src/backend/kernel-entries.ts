// The kernel state a kernel backend keeps per peer, as a list of entries
// (neighbour, FDB entry, route), and the bookkeeping that brings the kernel
// from one lease set to the next by changing only the difference.
// Installs use "replace" requests, so an entry that is already there (a
// previous run's, adopted) is not added twice; removals tolerate an entry
// that is already gone.
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import { formatMac } from '../packet/mac.js';
import { fdbDelete, fdbReplace, IpAddress, neighDelete, neighReplace } from '../netlink/neigh.js';
import { Route6Spec, routeDelete, routeReplace, RouteSpec } from '../netlink/route.js';
import { NetlinkError, NetlinkSocket } from '../netlink/socket.js';
import type { AppliedLeases, EntryStatus, KernelPeerStatus } from './backend.js';
import { subnetName, type Lease } from '../subnet/leases.js';
import type { LeaseDelta } from '../subnet/control-plane.js';

/** rtm_protocol of every route a kernel backend installs, so a later run finds its own routes (`ip route show proto 75`). */
export const RTPROT_TUN_DRIVER = 75;

/** One piece of kernel state; `dev` names the device for people. */
export type Entry =
  | { kind: 'neigh'; index: number; dev: string; dst: IpAddress; mac: Uint8Array }
  | { kind: 'fdb'; index: number; dev: string; mac: Uint8Array; dst: IpAddress }
  | { kind: 'route'; dev: string; route: RouteSpec | Route6Spec };

const formatIp = (a: IpAddress): string => (typeof a === 'number' ? formatIPv4(a) : formatIPv6(a));

/** The entry as `ip` / `bridge` would print it; also its identity. */
export function describeEntry(e: Entry): string {
  switch (e.kind) {
    case 'neigh':
      return `${formatIp(e.dst)} lladdr ${formatMac(e.mac)} dev ${e.dev} nud permanent`;
    case 'fdb':
      return `${formatMac(e.mac)} dev ${e.dev} dst ${formatIp(e.dst)} self permanent`;
    case 'route': {
      const r = e.route;
      const dst = typeof r.dst.network === 'number' ? formatCidr(r.dst as RouteSpec['dst'], false) : formatCidr6(r.dst as Route6Spec['dst'], false);
      const via = r.gateway === undefined ? '' : ` via ${formatIp(r.gateway)}`;
      return `${dst}${via} dev ${e.dev}${r.onlink ? ' onlink' : ''}`;
    }
  }
}

export function installEntry(nl: NetlinkSocket, e: Entry): void {
  if (e.kind === 'neigh') neighReplace(nl, e.index, e.dst, e.mac);
  else if (e.kind === 'fdb') fdbReplace(nl, e.index, e.mac, e.dst);
  else routeReplace(nl, { ...e.route, protocol: RTPROT_TUN_DRIVER });
}

const GONE = new Set(['ENOENT', 'ESRCH', 'ENODEV']);

/** Removes an entry; one that is already gone (or whose device is) is fine. */
export function removeEntry(nl: NetlinkSocket, e: Entry): void {
  try {
    if (e.kind === 'neigh') neighDelete(nl, e.index, e.dst);
    else if (e.kind === 'fdb') fdbDelete(nl, e.index, e.mac, e.dst);
    else routeDelete(nl, e.route);
  } catch (err) {
    if (!(err instanceof NetlinkError && GONE.has(err.errnoName ?? ''))) throw err;
  }
}

/** What a backend wants in the kernel for one peer. */
export interface PeerPlan {
  /** In install order (neighbour, FDB entry, route: the route is usable once the rest is there); removed in reverse. */
  entries: Entry[];
  status: Omit<KernelPeerStatus, 'entries'>;
}

interface Installed {
  entries: Entry[];
  texts: string[];
  status: KernelPeerStatus;
}

const sameTexts = (a: string[], b: string[]): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

/** What one apply did: peers whose entries went in, came out, and (by key) failed with the kernel's reason. */
interface Changed {
  added: number;
  removed: number;
  failed: Map<string, string>;
}

/** The entries installed per peer (keyed by the peer's subnets), brought from one plan to the next. */
export class KernelEntries {
  private installed = new Map<string, Installed>();

  constructor(private readonly nl: NetlinkSocket) {}

  /**
   * Brings the kernel to `plans` (every peer): removes the entries of
   * peers that left or changed, then installs those of new or changed
   * peers. A peer whose install fails is rolled back and reported in
   * `failed` (its key to the kernel's reason); the others go on.
   */
  apply(plans: ReadonlyMap<string, PeerPlan>): Changed {
    const touched = new Map<string, PeerPlan | null>(plans);
    for (const key of this.installed.keys()) if (!plans.has(key)) touched.set(key, null);
    return this.change(touched);
  }

  /**
   * The same for some peers only: `touched` maps each peer that changed
   * to its plan, or to null when it is gone; the others stay as they are.
   * All removals come before any install, so two peers that swap an
   * address (and with it a VTEP MAC's FDB entry) never take out each
   * other's new entries.
   */
  change(touched: ReadonlyMap<string, PeerPlan | null>): Changed {
    let removed = 0;
    let added = 0;
    const failed = new Map<string, string>();
    for (const [key, next] of touched) {
      const old = this.installed.get(key);
      if (!old || (next && sameTexts(old.texts, next.entries.map(describeEntry)))) continue;
      for (const e of [...old.entries].reverse()) removeEntry(this.nl, e);
      this.installed.delete(key);
      removed++;
    }
    for (const [key, plan] of touched) {
      if (!plan || this.installed.has(key)) continue;
      const done: Entry[] = [];
      try {
        for (const e of plan.entries) {
          installEntry(this.nl, e);
          done.push(e);
        }
      } catch (err) {
        for (const e of done.reverse()) removeEntry(this.nl, e);
        failed.set(key, (err as Error).message);
        continue;
      }
      const texts = plan.entries.map(describeEntry);
      this.installed.set(key, { entries: plan.entries, texts, status: { ...plan.status, entries: plan.entries.map((e, i): EntryStatus => ({ kind: e.kind, text: texts[i] })) } });
      added++;
    }
    return { added, removed, failed };
  }

  get peers(): KernelPeerStatus[] {
    return [...this.installed.values()].map((i) => i.status);
  }

  /** Every installed entry, newest peer last. */
  get entries(): Entry[] {
    return [...this.installed.values()].flatMap((i) => i.entries);
  }

  /**
   * Adoption at start: of the entries a previous run left (`found`),
   * removes those no current peer needs. Call after the first apply().
   */
  removeStale(found: readonly Entry[]): { kept: number; removed: number } {
    let kept = 0;
    let removed = 0;
    const installed = new Set<string>();
    for (const i of this.installed.values()) for (const t of i.texts) installed.add(t);
    const seen = new Set<string>();
    for (const e of found) {
      // A dump may list one entry twice (the neighbour table during a change): count and remove it once.
      const text = describeEntry(e);
      if (seen.has(text)) continue;
      seen.add(text);
      if (installed.has(text)) kept++;
      else {
        removeEntry(this.nl, e);
        removed++;
      }
    }
    return { kept, removed };
  }

  /** Removes every installed entry (teardown). */
  removeAll(): void {
    for (const i of this.installed.values()) for (const e of [...i.entries].reverse()) removeEntry(this.nl, e);
    this.installed.clear();
  }
}

/** A peer's addresses as status shows them. */
export function peerStatus(l: Lease): { subnet: string; subnet6?: string; publicIp: string; publicIpv6?: string } {
  return {
    subnet: l.subnet ? formatCidr(l.subnet, false) : formatCidr6(l.subnet6!, false),
    ...(l.subnet6 ? { subnet6: formatCidr6(l.subnet6, false) } : {}),
    publicIp: formatIPv4(l.publicIp),
    ...(l.publicIpv6 ? { publicIpv6: formatIPv6(l.publicIpv6) } : {}),
  };
}

/**
 * Plans the leases, applies the plans, and reports the leases newly left
 * out (`skips` holds every lease left out now, with why; addresses are
 * left out of the reasons, so one reason is one counter). Without `delta`
 * every lease is planned and the kernel brought to the whole set; with it
 * (exactly how `leases` differs from the last set) only the leases it
 * names are planned, so a change costs the same in a cluster of 3 nodes
 * or of 1,000 (bench/kernel-replan.ts).
 */
export function applyPlans(entries: KernelEntries, leases: readonly Lease[], plan: (l: Lease) => PeerPlan | { problem: string }, skips: Map<string, string>, delta?: LeaseDelta): AppliedLeases {
  const now = new Map<string, string>();
  // A lease left out is named by its subnets and public IP, whether its plan or its install failed.
  const leaseName = new Map<string, string>();
  const planOf = (l: Lease): PeerPlan | { problem: string } => {
    const name = `${subnetName(l)} at ${formatIPv4(l.publicIp)}`;
    leaseName.set(subnetName(l), name);
    const p = plan(l);
    if ('problem' in p) now.set(name, p.problem);
    return p;
  };
  let result: Changed;
  if (delta) {
    const touched = new Map<string, PeerPlan | null>();
    for (const l of delta.removed) {
      touched.set(subnetName(l), null);
      skips.delete(`${subnetName(l)} at ${formatIPv4(l.publicIp)}`);
    }
    for (const l of delta.added) {
      const p = planOf(l);
      touched.set(subnetName(l), 'problem' in p ? null : p);
    }
    result = entries.change(touched);
  } else {
    const plans = new Map<string, PeerPlan>();
    for (const l of leases) {
      const p = planOf(l);
      if (!('problem' in p)) plans.set(subnetName(l), p);
    }
    result = entries.apply(plans);
  }
  for (const [key, why] of result.failed) now.set(leaseName.get(key) ?? key, why);
  // Only a lease newly left out is reported (a lease change elsewhere re-plans every lease).
  const skipped: string[] = [];
  for (const [lease, why] of now) if (skips.get(lease) !== why) skipped.push(`${lease}: ${why}`);
  if (!delta) skips.clear();
  for (const [lease, why] of now) skips.set(lease, why);
  return { added: result.added, removed: result.removed, skipped };
}

/** The leases left out now, counted by reason (addresses kept: each reason names its lease's problem). */
export function countSkips(skips: ReadonlyMap<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const why of skips.values()) out[why] = (out[why] ?? 0) + 1;
  return out;
}

/**
 * A kernel backend's peers: the entries it keeps, the leases it left out
 * now, and what its first apply found of a previous run's state. The first
 * follow() reads what is there before it installs anything, then removes
 * what no lease needs (adoption); every later one changes only the
 * difference.
 */
export class KernelPeers {
  readonly entries: KernelEntries;
  /** The leases left out now, with why. */
  readonly skipped = new Map<string, string>();
  adopted = { kept: 0, removed: 0 };
  private started = false;

  constructor(nl: NetlinkSocket) {
    this.entries = new KernelEntries(nl);
  }

  /** `delta` (how `leases` differs from the last set, when the control plane knows) is used once the first, whole apply is done. */
  follow(leases: readonly Lease[], plan: (l: Lease) => PeerPlan | { problem: string }, found: () => Entry[], log?: (line: string) => void, delta?: LeaseDelta): AppliedLeases {
    const left = this.started ? [] : found();
    const result = applyPlans(this.entries, leases, plan, this.skipped, this.started ? delta : undefined);
    if (!this.started) {
      this.started = true;
      this.adopted = this.entries.removeStale(left);
      if (this.adopted.kept || this.adopted.removed) log?.(`adopted the kernel state of a previous run: ${this.adopted.kept} entries kept, ${this.adopted.removed} stale ones removed`);
    }
    return result;
  }
}
