// The overlay's control plane on etcd, with flannel's key layout: read the
// network config, take a subnet under a lease that the client renews,
// watch everyone's subnets, and write subnet.env for CNI and for the next
// start. Losing the lease (revoked, or expired while etcd was away) is
// fatal, as in flannel: the node's pods are numbered out of a subnet it no
// longer holds.
import { Etcd3, Lease as EtcdLease } from 'etcd3';
import { LeaseSourceStatus } from '../../control/daemon-status.js';
import { TunDriverError } from '../../errors.js';
import { formatCidr, formatIPv4, Prefix } from '../../packet/addr.js';
import { formatCidr6, Prefix6 } from '../../packet/addr6.js';
import { describeSubnets, Lease, sameSubnets } from '../leases.js';
import { ControlPlane, ControlPlaneEvents } from '../control-plane.js';
import { describeEtcdError, openEtcd, retryUntil, settleWithin } from './etcd-connection.js';
import { NetworkConfig, parseNetworkConfig } from './network-config.js';
import { configKey, PublishedBackend, subnetKey, subnetRecord, subnetsDir } from './subnet-keys.js';
import { AcquiredSubnet, acquireSubnet } from './subnet-lease.js';
import { readRememberedSubnet, readRememberedSubnet6 } from './subnet-env.js';
import type { LeaseDelta } from '../control-plane.js';
import { SubnetWatch } from './subnet-watch.js';
import { describeEtcdSecurity, EtcdSecurity } from './etcd-security.js';

export interface EtcdControlPlaneOptions {
  endpoints: string[];
  prefix: string;
  publicIp: number;
  subnetFile: string;
  leaseTtlSeconds: number;
  /** How long to keep trying to reach etcd at start before giving up (exit 2). */
  connectTimeoutMs: number;
  /** This node's public key, published with its lease (BackendData.PublicKey). */
  publicKey?: string;
  /** TLS and authentication to etcd (flannel's --etcd-cafile, --etcd-certfile, ...). */
  security?: EtcdSecurity;
  /** This node's IPv6 underlay address (--public-ipv6), published as PublicIPv6 on a dual-stack network. */
  publicIpv6?: Uint8Array;
  /**
   * A kernel backend's record for this node, made once the config is read
   * (the vxlan backend's VtepMAC): published instead of the udp/wireguard one.
   */
  backend?: (config: NetworkConfig) => PublishedBackend | undefined;
}

const NO_EVENTS: ControlPlaneEvents = { onChange: () => undefined, onWarning: () => undefined, onFatal: () => undefined };

export class EtcdControlPlane implements ControlPlane {
  private events = NO_EVENTS;
  private renewalFailing = false;
  private lastRenewal = new Date();

  // Client, lease and watch are replaced together when the credentials are reloaded (reloadSecurity).
  private constructor(
    private client: Etcd3,
    private options: EtcdControlPlaneOptions,
    private readonly config: NetworkConfig,
    private acquired: AcquiredSubnet,
    private leaseId: string,
    private watch: SubnetWatch,
    private readonly backend?: PublishedBackend,
  ) {
    this.watchLease(acquired.lease);
  }

  /**
   * Connects, reads the config and takes a subnet. Every failure here is a
   * TUN_ERR_ETCD (exit 2) that leaves nothing behind in etcd.
   */
  static async open(options: EtcdControlPlaneOptions): Promise<EtcdControlPlane> {
    const client = openEtcd(options.endpoints, options.security);
    let acquired: AcquiredSubnet | undefined;
    try {
      const key = configKey(options.prefix);
      const text = await retryUntil(options.endpoints, options.connectTimeoutMs, () => client.get(key).string());
      if (text === null) {
        throw new TunDriverError('TUN_ERR_ETCD', `no network config at ${key} in etcd: put one, e.g. etcdctl put ${key} '{"Network": "10.244.0.0/16", "Backend": {"Type": "udp"}}'`);
      }
      const config = parseNetworkConfig(text, key);
      if (config.backend === 'wireguard' && !options.publicKey) {
        throw new TunDriverError('TUN_ERR_USAGE', `${key} says "Backend": {"Type": "wireguard"}: give this node --private-key FILE (tun-driver keygen --out FILE makes one)`);
      }
      const backend = options.backend?.(config);
      const remembered = readRememberedSubnet(options.subnetFile);
      const remembered6 = readRememberedSubnet6(options.subnetFile);
      acquired = await retryUntil(options.endpoints, options.connectTimeoutMs, () =>
        acquireSubnet(client, { prefix: options.prefix, config, publicIp: options.publicIp, remembered, remembered6, ttlSeconds: options.leaseTtlSeconds, publicKey: options.publicKey, publicIpv6: options.publicIpv6, backend }),
      );
      // Under load (a cluster-wide restart of 1,000 nodes on one etcd) one call may miss its 3 s deadline: retry within --etcd-timeout.
      const lease = acquired.lease;
      const leaseId = await retryUntil(options.endpoints, options.connectTimeoutMs, () => lease.grant());
      // Until start(), changes only update the watch's view.
      let plane: EtcdControlPlane | undefined;
      const watch = new SubnetWatch(client, options.prefix, config, {
        onChange: (leases, why, delta) => plane?.leasesChanged(leases, why, delta),
        onProblem: (message) => plane?.events.onWarning(message),
      });
      await retryUntil(options.endpoints, options.connectTimeoutMs, () => watch.start());
      plane = new EtcdControlPlane(client, options, config, acquired, leaseId, watch, backend);
      return plane;
    } catch (err) {
      if (acquired) await settleWithin(acquired.lease.revoke());
      client.close();
      if (err instanceof TunDriverError) throw err;
      throw new TunDriverError('TUN_ERR_ETCD', `etcd at ${options.endpoints.join(', ')}: ${describeEtcdError(err)}`, { cause: err });
    }
  }

  /** The IPv4 network and this node's IPv4 subnet; undefined on an IPv6-only network. */
  get network(): Prefix | undefined {
    return this.config.ipv4?.network;
  }

  get subnet(): Prefix | undefined {
    return this.acquired.subnet;
  }

  /** This node's subnets, for messages. */
  private get ownSubnets(): string {
    return describeSubnets(this.acquired);
  }

  get port(): number {
    return this.config.port;
  }

  /** The IPv6 network and this node's IPv6 subnet, on a dual-stack network ("EnableIPv6" in the config). */
  get ipv6(): { network6: Prefix6; subnet6: Prefix6 } | undefined {
    const subnet6 = this.acquired.subnet6;
    return this.config.ipv6 && subnet6 ? { network6: this.config.ipv6.network, subnet6 } : undefined;
  }

  /** This node's key under <prefix>/subnets/ (both subnets on a dual-stack network). */
  private get ownKey(): string {
    return subnetKey(this.options.prefix, this.subnet, this.acquired.subnet6);
  }

  /** The network config's backend (Backend.Type and its fields). */
  get networkBackend(): NetworkConfig['backend'] {
    return this.config.backend;
  }

  /** The config's vxlan fields (VNI, Port, GBP, DirectRouting), on a vxlan network. */
  get vxlan(): NetworkConfig['vxlan'] {
    return this.config.vxlan;
  }

  /** The network's preshared key (Backend.PSK of a wireguard backend), if it has one. */
  get psk(): Uint8Array | undefined {
    return this.config.psk;
  }

  /** How this node came by its subnet: 'still ours', 'remembered' or 'new'. */
  get how(): string {
    return this.acquired.how;
  }

  leases(): Lease[] {
    return this.watch.leases;
  }

  start(events: ControlPlaneEvents): void {
    this.events = events;
  }

  async abandon(): Promise<void> {
    this.watch.close();
    await settleWithin(this.acquired.lease.revoke());
    this.client.close();
  }

  /**
   * Stops renewing but keeps the subnet key: like flannel, a daemon that is
   * restarted within the lease's TTL gets its subnet back, and the other
   * nodes never lose their route to its pods meanwhile.
   */
  close(): void {
    this.events = NO_EVENTS;
    this.watch.close();
    this.acquired.lease.release();
    this.client.close();
  }

  async publishKey(publicKey: string): Promise<string> {
    this.publishedKey = publicKey;
    const key = this.ownKey;
    const dualStack = this.config.ipv6 ? { publicIpv6: this.options.publicIpv6 } : undefined;
    await this.client.put(key).value(subnetRecord(this.options.publicIp, publicKey, dualStack)).lease(this.leaseId).exec();
    return `published in ${key} (BackendData.PublicKey): the other nodes switch when their watch sees it`;
  }

  describe(): { summary: string; details: Record<string, unknown> } {
    const how = describeEtcdSecurity(this.options.security ?? { sources: {} }, this.options.endpoints);
    const v6 = this.ipv6 ? ` and ${formatCidr6(this.ipv6.subnet6, false)} in ${formatCidr6(this.ipv6.network6, false)}` : '';
    const v4 = this.subnet && this.network ? `${formatCidr(this.subnet, false)} in ${formatCidr(this.network, false)}` : '';
    return { summary: `etcd (${how}): holding ${v4 || `(IPv6 only) ${formatCidr6(this.ipv6!.subnet6, false)} in ${formatCidr6(this.ipv6!.network6, false)}`} (${this.how})${v4 ? v6 : ''}`, details: { how: this.how, etcd: how } };
  }

  status(): LeaseSourceStatus {
    return {
      source: 'etcd',
      endpoints: this.options.endpoints,
      key: this.ownKey,
      leaseId: this.leaseId,
      leaseTtlSeconds: this.options.leaseTtlSeconds,
      lastRenewal: this.lastRenewal.toISOString(),
      renewalFailing: this.renewalFailing,
    };
  }

  /**
   * New certificate files (or password) read at SIGHUP: connect a new
   * client with them and move this node's subnet key onto a lease of the
   * new client before letting the old one go, so the key is never absent
   * (flannel restarts for this; a restart here also keeps the subnet, but
   * the key would lapse if it took longer than the lease's TTL).
   * Until the key has moved, any failure leaves everything as it was.
   * Resolves with a line for the log.
   */
  async reloadSecurity(security: EtcdSecurity): Promise<string> {
    const o = this.options;
    const client = openEtcd(o.endpoints, security);
    let acquired: AcquiredSubnet;
    try {
      // A read first: credentials etcd refuses change nothing.
      await client.get(configKey(o.prefix)).string();
      acquired = await acquireSubnet(client, { prefix: o.prefix, config: this.config, publicIp: o.publicIp, remembered: this.subnet, remembered6: this.acquired.subnet6, ttlSeconds: o.leaseTtlSeconds, publicKey: this.publishedKey ?? o.publicKey, publicIpv6: o.publicIpv6, backend: this.backend });
    } catch (err) {
      client.close();
      throw new TunDriverError('TUN_ERR_ETCD', `etcd refused the new credentials: ${describeEtcdError(err)}`, { cause: err });
    }
    if (!sameSubnets(acquired, this.acquired)) {
      // Cannot happen while the key names this node; never trade subnets under running pods.
      await settleWithin(acquired.lease.revoke());
      client.close();
      throw new TunDriverError('TUN_ERR_ETCD', `with the new credentials etcd offered ${describeSubnets(acquired)}, not this node's ${this.ownSubnets}: keeping the current connection`);
    }
    // The key now lives on the new lease: from here on, the new client is the one.
    const old = { client: this.client, watch: this.watch, lease: this.acquired.lease };
    const leaseId = await acquired.lease.grant();
    const watch = new SubnetWatch(client, o.prefix, this.config, {
      onChange: (leases, why, delta) => this.leasesChanged(leases, why, delta),
      onProblem: (message) => this.events.onWarning(message),
    });
    this.client = client;
    this.acquired = acquired;
    this.leaseId = leaseId;
    this.watch = watch;
    this.options = { ...o, security };
    this.watchLease(acquired.lease);
    old.watch.close();
    // The old lease holds no key any more: revoking it only ends it sooner (and must not read as a lost lease).
    old.lease.removeAllListeners();
    await settleWithin(old.lease.revoke());
    old.client.close();
    await retryUntil(o.endpoints, o.connectTimeoutMs, () => watch.start());
    return `${this.ownKey} now under lease ${leaseId} of a client with the new credentials`;
  }

  /** The key published with the lease by publishKey (SIGHUP with a new --private-key). */
  private publishedKey?: string;

  /**
   * The watch is also how a revoked lease shows up at once (flannel's
   * MonitorLease): the renewal would notice only at its next round, TTL/3
   * later. If this node's key is gone or names another node, stop.
   */
  private leasesChanged(leases: Lease[], why: string, delta?: LeaseDelta): void {
    // With a delta only a change that names this node's subnets can touch its key.
    const mine = (l: Lease): boolean => sameSubnets(l, this.acquired);
    if (delta && !delta.added.some(mine) && !delta.removed.some(mine)) {
      this.events.onChange(leases, why, delta);
      return;
    }
    const own = leases.find(mine);
    if (own?.publicIp !== this.options.publicIp) {
      const holder = own ? `now names ${formatIPv4(own.publicIp)}` : 'was deleted (its lease revoked or expired)';
      this.events.onFatal(new Error(`${this.ownKey} ${holder}: this node no longer holds ${this.ownSubnets}; restart to take a subnet again`));
      return;
    }
    this.events.onChange(leases, why, delta);
  }

  private watchLease(lease: EtcdLease): void {
    lease.on('keepaliveSucceeded', () => {
      this.lastRenewal = new Date();
      if (this.renewalFailing) this.events.onWarning(`renewing the lease on ${this.ownSubnets} works again`);
      this.renewalFailing = false;
    });
    lease.on('keepaliveFailed', (err) => {
      if (!this.renewalFailing) this.events.onWarning(`cannot renew the lease on ${this.ownSubnets} (${describeEtcdError(err)}); retrying, forwarding goes on`);
      this.renewalFailing = true;
    });
    lease.on('lost', (err) => {
      this.events.onFatal(new Error(`lost the lease on ${this.ownKey} (${describeEtcdError(err)}): this node (${formatIPv4(this.options.publicIp)}) no longer holds ${this.ownSubnets} under ${subnetsDir(this.options.prefix)}; restart to take a subnet again`));
    });
  }
}
