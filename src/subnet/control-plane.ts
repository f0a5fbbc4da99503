// Where an overlay node learns its own subnet and everyone else's: a
// leases file (the embedded default) or etcd (src/etcd/). The daemon sees
// only this interface, so both feed the data plane the same way.
import { FSWatcher } from 'node:fs';
import { LeaseSourceStatus } from '../control/daemon-status.js';
import type { EtcdSecurity } from './etcd/etcd-security.js';
import { TunDriverError } from '../errors.js';
import { formatCidr, formatIPv4, Prefix, samePrefix } from '../packet/addr.js';
import { formatCidr6, Prefix6, sameIPv6 } from '../packet/addr6.js';
import { describeLease, describeSubnets, Lease, loadLeasesFile, sameSubnets, watchLeasesFile } from './leases.js';

/** Which lease objects a change put in and took out of the previous set. */
export interface LeaseDelta {
  added: readonly Lease[];
  removed: readonly Lease[];
}

export interface ControlPlaneEvents {
  /**
   * The whole set of leases after a change; `why` says what changed;
   * `delta`, when the control plane knows it, which lease objects came and
   * went (a lease that did not change is handed over as the same object).
   */
  onChange(leases: Lease[], why: string, delta?: LeaseDelta): void;
  /** Worth logging; the node carries on with what it has. */
  onWarning(message: string): void;
  /** The node cannot go on (etcd: it lost its subnet lease); stop. */
  onFatal(err: Error): void;
}

export interface ControlPlane {
  /** The cluster's IPv4 network and this node's IPv4 subnet; both undefined on an IPv6-only cluster (then ipv6 is there). */
  readonly network: Prefix | undefined;
  readonly subnet: Prefix | undefined;
  /** The cluster's and this node's IPv6 prefixes, on a dual-stack or IPv6-only cluster. */
  readonly ipv6?: { network6: Prefix6; subnet6: Prefix6 };
  readonly port: number;
  /** A preshared key the control plane gives every node (etcd: Backend.PSK). */
  readonly psk?: Uint8Array;
  leases(): Lease[];
  /** Starts delivering changes; called once the data plane is up. */
  start(events: ControlPlaneEvents): void;
  /** Set-up failed after the control plane was opened: give back what it took. */
  abandon(): Promise<void>;
  /** A clean stop: stop watching (and renewing). */
  close(): void;
  /** What `tun-driver status` shows about where the leases come from. */
  status(): LeaseSourceStatus;
  /** For the start-up log: one line on where this node's subnet and the leases come from, and fields for JSON logs. */
  describe(): { summary: string; details: Record<string, unknown> };
  /**
   * New credentials for the control plane's store (SIGHUP re-read the etcd
   * certificate files): reconnect with them without losing this node's
   * subnet. Resolves with a line for the log. Only the etcd control plane has it.
   */
  reloadSecurity?(security: EtcdSecurity): Promise<string>;
  /**
   * This node's key changed: publish the new public key with its lease.
   * Resolves with what the operator should know (a leases file is theirs to edit).
   */
  publishKey(publicKey: string): Promise<string>;
}

/** The leases file: this node's subnet comes from the flags, the rest from the file. */
export class FileControlPlane implements ControlPlane {
  private current: Lease[];
  private watcher?: FSWatcher;

  constructor(
    readonly network: Prefix | undefined,
    readonly subnet: Prefix | undefined,
    private readonly publicIp: number,
    readonly port: number,
    private readonly file: string,
    /** This node's public key with --private-key: its own entry, if it lists one, must agree. */
    private publicKey?: string,
    readonly ipv6?: { network6: Prefix6; subnet6: Prefix6 },
    /** A kernel backend: the file's per-node ports are not this node's (they are the udp backend's). */
    private readonly ignorePorts = false,
  ) {
    this.current = loadLeasesFile(file, network, ipv6?.network6);
    this.checkOwnLease(this.current);
  }

  leases(): Lease[] {
    return this.current;
  }

  start(events: ControlPlaneEvents): void {
    const reject = (err: Error): void => events.onWarning(`ignoring the new ${this.file}: ${err.message}; keeping the previous leases`);
    this.watcher = watchLeasesFile(this.file, this.network, (next) => {
      try {
        this.checkOwnLease(next);
      } catch (err) {
        return reject(err as Error);
      }
      this.current = next;
      events.onChange(next, `${this.file} changed`);
    }, reject, this.ipv6?.network6);
  }

  async abandon(): Promise<void> {
    this.close();
  }

  close(): void {
    this.watcher?.close();
  }

  status(): LeaseSourceStatus {
    return { source: this.file };
  }

  async publishKey(publicKey: string): Promise<string> {
    this.publicKey = publicKey;
    return `put "publicKey": "${publicKey}" in this node's entry of ${this.file}: the other nodes seal with the new key once they read it (until then this node opens both)`;
  }

  describe(): { summary: string; details: Record<string, unknown> } {
    const v4 = this.subnet && this.network ? `${formatCidr(this.subnet, false)} in ${formatCidr(this.network, false)}` : '';
    const v6 = this.ipv6 ? `${formatCidr6(this.ipv6.subnet6, false)} in ${formatCidr6(this.ipv6.network6, false)}` : '';
    return { summary: `leases file ${this.file}: holding ${[v4, v6].filter(Boolean).join(' and ')} (from --subnet)`, details: { source: this.file } };
  }

  /** This node's own entry in the file, if listed, must agree with the flags. */
  private checkOwnLease(leases: Lease[]): void {
    const own = { subnet: this.subnet, subnet6: this.ipv6?.subnet6 };
    for (const l of leases) {
      // On an IPv6-only node the IPv6 subnet is what names a node.
      const sameSubnet = this.subnet ? !!l.subnet && samePrefix(l.subnet, this.subnet) : sameSubnets(l, own);
      if (l.publicIp === this.publicIp && (!sameSubnet || (l.port !== this.port && !this.ignorePorts))) {
        throw new TunDriverError('TUN_ERR_USAGE', `${this.file} lists ${formatIPv4(this.publicIp)} (this node) with ${describeLease(l)}, but the flags say ${describeSubnets(own)} port ${this.port}`);
      }
      if (l.publicIp === this.publicIp && l.publicKey && l.publicKey !== this.publicKey) {
        throw new TunDriverError('TUN_ERR_USAGE', `${this.file} lists this node (${formatIPv4(this.publicIp)}) with publicKey ${l.publicKey}, but ${this.publicKey ? `--private-key's public key is ${this.publicKey}` : 'it runs without --private-key'}`);
      }
      const own6 = this.ipv6?.subnet6;
      if (l.publicIp === this.publicIp && l.subnet6 && !(own6 && l.subnet6.length === own6.length && sameIPv6(l.subnet6.network, 0, own6.network))) {
        throw new TunDriverError('TUN_ERR_USAGE', `${this.file} lists this node (${formatIPv4(this.publicIp)}) with subnetV6 ${formatCidr6(l.subnet6, false)}, but the flags say ${own6 ? formatCidr6(own6, false) : 'no IPv6 subnet'}`);
      }
      if (sameSubnet && l.publicIp !== this.publicIp) {
        throw new TunDriverError('TUN_ERR_USAGE', `${this.file} gives this node's subnet ${describeSubnets(own)} to ${formatIPv4(l.publicIp)}, not to --public-ip ${formatIPv4(this.publicIp)}`);
      }
    }
  }
}
