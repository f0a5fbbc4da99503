// Every node's view of the cluster: list <prefix>/subnets/ once, then watch
// it from the next revision. When the watch is lost (etcd restarted, the
// connection dropped) or cancelled (its revision was compacted away), list
// again and watch again, so the view always converges on what etcd holds.
// While etcd is away the last view stays: forwarding goes on.
//
// Events that arrive together (one watch response holds many: a cluster
// of 1,000 nodes restarting puts 1,000 keys) are handed on as one change
// at the end of the tick, with the lease objects that came and went (the
// delta), so the data plane touches only those (src/overlay/lease-peers.ts).
// A lease that did not change stays the same object, across renewals and
// re-lists: that identity is what the delta and the data plane rely on.
import { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { LeaseDelta } from '../control-plane.js';
import { Lease } from '../leases.js';
import { sameIPv6 } from '../../packet/addr6.js';
import { describeEtcdError } from './etcd-connection.js';
import { NetworkConfig } from './network-config.js';
import { parseSubnetEntry, subnetsDir } from './subnet-keys.js';

export interface SubnetWatchHandlers {
  /**
   * The whole set of leases after a change; `why` says what changed (for
   * the log); `delta`, after watch events (not after a list), which lease
   * objects came and went since the last call.
   */
  onChange(leases: Lease[], why: string, delta?: LeaseDelta): void;
  /** Something the operator should know that does not stop the daemon. */
  onProblem(message: string): void;
}

const RETRY_MS = 500;

export class SubnetWatch {
  private byKey = new Map<string, Lease>();
  /** Revision of the last list: events at or below it are already in byKey. */
  private listedAt = 0;
  private watcher?: Watcher;
  private closed = false;
  private resyncing = false;
  private retryTimer?: NodeJS.Timeout;
  /** Changes seen since the last onChange, handed on together at the end of the tick. */
  private pending: string[] = [];
  /** Each key changed since the last onChange, with its lease (or none) as of that call. */
  private pendingBefore = new Map<string, Lease | undefined>();
  private flushing?: NodeJS.Immediate;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly config: NetworkConfig,
    private readonly handlers: SubnetWatchHandlers,
  ) {}

  get leases(): Lease[] {
    return [...this.byKey.values()];
  }

  /** Lists and starts watching; rejects only if the first list fails. */
  async start(): Promise<void> {
    await this.resync('listed', true);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.flushing) clearImmediate(this.flushing);
    this.dropWatcher();
  }

  private dropWatcher(): void {
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return;
    w.removeAllListeners();
    w.on('error', () => undefined);
    w.cancel().catch(() => undefined);
  }

  /** Lists and watches again; `first` (start) rethrows a failure instead of retrying. */
  private async resync(why: string, first = false): Promise<void> {
    if (this.closed || this.resyncing) return;
    this.resyncing = true;
    this.dropWatcher();
    try {
      const res = await this.client.getAll().prefix(subnetsDir(this.prefix)).exec();
      if (this.closed) return;
      const old = this.byKey;
      this.byKey = new Map();
      this.pendingBefore.clear(); // the list's onChange below hands over the whole set
      for (const kv of res.kvs) this.apply(kv.key.toString(), kv.value.toString());
      // A lease listed again as it was stays the object it was: a watch lost and listed again costs the data plane only what changed.
      for (const [key, lease] of this.byKey) {
        const was = old.get(key);
        if (was && sameEndpoint(was, lease)) this.byKey.set(key, was);
      }
      this.listedAt = Number(res.header.revision);
      this.handlers.onChange(this.leases, why);
      const watcher = await this.client.watch().prefix(subnetsDir(this.prefix)).startRevision(String(this.listedAt + 1)).create();
      if (this.closed) {
        watcher.cancel().catch(() => undefined);
        return;
      }
      this.attach(watcher);
    } catch (err) {
      if (first) throw err;
      this.handlers.onProblem(`cannot list ${subnetsDir(this.prefix)} (${describeEtcdError(err)}); keeping the last known routes, retrying`);
      this.retryTimer = setTimeout(() => void this.resync(why), RETRY_MS);
    } finally {
      this.resyncing = false;
    }
  }

  private attach(watcher: Watcher): void {
    this.watcher = watcher;
    let lost = false;
    const event = (kind: 'put' | 'delete') => (kv: IKeyValue): void => {
      if (Number(kv.mod_revision) <= this.listedAt) return;
      const key = kv.key.toString();
      const before = this.byKey.get(key);
      if (kind === 'put') this.apply(key, kv.value.toString());
      else this.byKey.delete(key);
      const after = this.byKey.get(key);
      if (before === after) return; // nothing known either way
      if (before && after && sameEndpoint(before, after)) {
        // A renewal, not a change: the lease stays the object it was, so the data plane sees nothing new (lease-peers.ts).
        this.byKey.set(key, before);
        return;
      }
      if (!this.pendingBefore.has(key)) this.pendingBefore.set(key, before);
      this.changed(`${kind} ${key.slice(subnetsDir(this.prefix).length)}`);
    };
    watcher
      .on('put', event('put'))
      .on('delete', event('delete'))
      .on('disconnected', (err) => {
        if (!lost) this.handlers.onProblem(`lost the watch on etcd (${describeEtcdError(err)}); keeping the last known routes, reconnecting`);
        lost = true;
      })
      .on('connected', () => {
        // Resuming at the last revision would do, but a fresh list is what
        // makes the view right even if the watch missed something.
        if (lost) void this.resync('watch reconnected, listed again');
      })
      .on('error', (err) => void this.resync(`watch cancelled (${describeEtcdError(err)}), listed again`));
  }

  /** Records a change; the first in a tick schedules the one onChange for all of them. */
  private changed(why: string): void {
    this.pending.push(why);
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      const whys = this.pending;
      this.pending = [];
      const delta = this.delta();
      if (this.closed || whys.length === 0) return;
      this.handlers.onChange(this.leases, whys.length === 1 ? whys[0] : `${whys.length} changes: ${whys.slice(0, 3).join(', ')}${whys.length > 3 ? ', ...' : ''}`, delta);
    });
  }

  /** The lease objects the pending changes took out and put in (a key changed and changed back is neither). */
  private delta(): LeaseDelta {
    const added: Lease[] = [];
    const removed: Lease[] = [];
    for (const [key, before] of this.pendingBefore) {
      const after = this.byKey.get(key);
      if (before === after) continue;
      if (before) removed.push(before);
      if (after) added.push(after);
    }
    this.pendingBefore.clear();
    return { added, removed };
  }

  private apply(key: string, value: string): void {
    const parsed = parseSubnetEntry(this.prefix, key, value, this.config);
    if ('lease' in parsed) this.byKey.set(key, parsed.lease);
    else {
      this.byKey.delete(key);
      this.handlers.onProblem(`ignoring ${parsed.problem}`);
    }
  }
}

/** Whether two leases of one key reach the node the same way (then a put of it is a renewal). */
function sameEndpoint(a: Lease, b: Lease): boolean {
  const v6 = a.publicIpv6 && b.publicIpv6 ? a.publicIpv6.length === 16 && sameIPv6(a.publicIpv6, 0, b.publicIpv6) : a.publicIpv6 === b.publicIpv6;
  return a.publicIp === b.publicIp && a.port === b.port && a.publicKey === b.publicKey && v6;
}
