// The route table kept in step with the control plane's leases, so that a
// lease change costs what changed, not the cluster's size. Rebuilt whole,
// every node of a 1,000-node cluster paid 1,000 new peers, a new table and
// the garbage of both on every change anywhere in the cluster (in
// `npm run bench:etcd -- --nodes 1000` that was most of a worker's CPU,
// two thirds of it collecting garbage: docs/etcd.md).
//
// The control planes hand over the whole set each time, and a lease that
// did not change is the same object as before (SubnetWatch keeps it), so a
// lease seen before keeps its peer, counters and route entries untouched.
// A lease not seen before is admitted (the caller's check and rewrite) and
// becomes a new peer; a new peer for the same node (subnet and endpoint) as
// one that left, as when a leases file is read again, takes its counters.
// Where the control plane also says which leases came and went (etcd's
// watch does), only those are looked at; without that, finding them is a
// pass over the set (a Map probe per lease, no allocation per lease).
import { endpointKey, Peer, peerFromLease, RouteTable } from './route-table.js';
import { subnetName, type Lease } from '../subnet/leases.js';
import type { LeaseDelta } from '../subnet/control-plane.js';
import { describePeer } from './route-table.js';

/** What a lease change did to the route table: the peers it added and removed (an unchanged lease keeps its peer). */
export interface PeerChanges {
  added: Peer[];
  removed: Peer[];
}


export class LeasePeers {
  readonly routes = new RouteTable();
  /** The control plane's lease objects routed now, each with its peer. */
  private byLease = new Map<Lease, Peer>();

  get peers(): readonly Peer[] {
    return this.routes.peers;
  }

  /**
   * Brings the table to `leases`. `admit` returns the lease to route for a
   * lease not seen before (the same one, or a rewrite of it), or undefined
   * to leave it out; a lease it admitted is not asked about again. With
   * `delta` (which must be exactly how `leases` differs from the set last
   * given), only the leases in it are looked at.
   */
  update(leases: readonly Lease[], admit: (l: Lease) => Lease | undefined = (l) => l, delta?: LeaseDelta): PeerChanges {
    const changes = delta ? this.applyDelta(delta, admit) : this.diff(leases, admit);
    if (changes.added.length > 0 && changes.removed.length > 0) carryCounters(changes.removed, changes.added);
    for (const p of changes.removed) this.routes.remove(p);
    for (const p of changes.added) this.routes.add(p);
    return changes;
  }

  private applyDelta(delta: LeaseDelta, admit: (l: Lease) => Lease | undefined): PeerChanges {
    const removed: Peer[] = [];
    for (const l of delta.removed) {
      const peer = this.byLease.get(l);
      if (!peer) continue;
      this.byLease.delete(l);
      removed.push(peer);
    }
    const added: Peer[] = [];
    for (const l of delta.added) {
      if (this.byLease.has(l)) continue;
      const peer = this.admitted(l, admit);
      if (!peer) continue;
      this.byLease.set(l, peer);
      added.push(peer);
    }
    return { added, removed };
  }

  private admitted(l: Lease, admit: (l: Lease) => Lease | undefined): Peer | undefined {
    const routed = admit(l);
    return routed ? peerFromLease(routed) : undefined;
  }

  private diff(leases: readonly Lease[], admit: (l: Lease) => Lease | undefined): PeerChanges {
    const before = this.byLease;
    const next = new Map<Lease, Peer>();
    const added: Peer[] = [];
    for (const l of leases) {
      if (next.has(l)) continue;
      const known = before.get(l);
      if (known) {
        next.set(l, known);
        continue;
      }
      const peer = this.admitted(l, admit);
      if (!peer) continue;
      next.set(l, peer);
      added.push(peer);
    }
    const removed: Peer[] = [];
    if (next.size !== before.size || added.length > 0) {
      for (const [l, peer] of before) if (next.get(l) !== peer) removed.push(peer);
    }
    this.byLease = next;
    return { added, removed };
  }
}

/** The same node (subnet and endpoint) keeps its traffic counters across a new peer. */
function carryCounters(removed: readonly Peer[], added: readonly Peer[]): void {
  const node = (p: Peer): string => `${subnetName(p)}@${endpointKey(p.publicIp, p.port)}`;
  const gone = new Map(removed.map((p) => [node(p), p]));
  for (const p of added) {
    const old = gone.get(node(p));
    if (!old) continue;
    p.txPackets = old.txPackets;
    p.txBytes = old.txBytes;
    p.rxPackets = old.rxPackets;
    p.rxBytes = old.rxBytes;
  }
}

/**
 * The log's account of a lease change: every peer while there are a few;
 * in a large cluster the count and the peers that came and went (a line
 * naming 1,000 peers on every change anywhere would flood the log).
 */
export function describePeerChanges(peers: readonly Peer[], added: readonly Peer[], removed: readonly Peer[], listAtMost = 8): string {
  if (peers.length <= listAtMost) return `${peers.length} peer(s): ${peers.map((p) => describePeer(p)).join(', ') || 'none'}`;
  const names = (ps: readonly Peer[]): string => ps.slice(0, listAtMost).map((p) => describePeer(p)).join(', ') + (ps.length > listAtMost ? `, and ${ps.length - listAtMost} more` : '');
  return `${peers.length} peers${added.length ? `; added ${names(added)}` : ''}${removed.length ? `; removed ${names(removed)}` : ''}`;
}
