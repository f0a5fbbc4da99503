// Taking a subnet: one etcd lease per daemon run, and a create-if-absent
// transaction on the subnet key, so two nodes that race can never both
// get the same subnet. The etcd3 client renews the lease (every TTL/3).
// On a dual-stack network the key names both subnets, and the IPv6 one is
// paired with the IPv4 one (the k-th of each): the same IPv4 subnet always
// makes the same key, so create-if-absent keeps both exclusive. On an
// IPv6-only network the key names the IPv6 subnet alone (0.0.0.0-0&...).
import { Etcd3, Lease as EtcdLease } from 'etcd3';
import { TunDriverError } from '../../errors.js';
import { formatCidr, formatIPv4, Prefix, samePrefix } from '../../packet/addr.js';
import { formatIPv6, Prefix6, sameIPv6 } from '../../packet/addr6.js';
import { freeSubnets, freeSubnets6, isLeasable, isLeasable6, leasableCount } from './allocation.js';
import { settleWithin } from './etcd-connection.js';
import { bigIntToIPv6, ipv6ToBigInt, NetworkConfig, NetworkConfig4, NetworkConfig6 } from './network-config.js';
import { parseSubnetEntry, PublishedBackend, subnetKey, subnetRecord, subnetsDir } from './subnet-keys.js';

export interface AcquireOptions {
  prefix: string;
  config: NetworkConfig;
  publicIp: number;
  /** The subnet this node held before (subnet.env), asked for first: its IPv4 one, or on an IPv6-only network its IPv6 one. */
  remembered?: Prefix;
  remembered6?: Prefix6;
  ttlSeconds: number;
  /** Published in BackendData when the node authenticates. */
  publicKey?: string;
  /** Published as PublicIPv6 on a dual-stack network (for an IPv6 underlay). */
  publicIpv6?: Uint8Array;
  /** A kernel backend's record (BackendType vxlan with its VtepMAC, host-gw); without it the record says udp or wireguard. */
  backend?: PublishedBackend;
}

export interface AcquiredSubnet {
  /** Absent on an IPv6-only network. */
  subnet?: Prefix;
  /** Its IPv6 partner on a dual-stack network; the subnet itself on an IPv6-only one. */
  subnet6?: Prefix6;
  lease: EtcdLease;
  /** How the subnet was chosen, for the log. */
  how: 'still ours' | 'remembered' | 'new';
}

const MAX_ATTEMPTS = 10;

interface Held {
  key: string;
  subnet?: Prefix;
  subnet6?: Prefix6;
  publicIp: number;
  modRevision: string;
}

async function listHeld(client: Etcd3, opts: AcquireOptions): Promise<Held[]> {
  const res = await client.getAll().prefix(subnetsDir(opts.prefix)).exec();
  const held: Held[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    const parsed = parseSubnetEntry(opts.prefix, key, kv.value.toString(), opts.config);
    if ('lease' in parsed) held.push({ key, subnet: parsed.lease.subnet, subnet6: parsed.lease.subnet6, publicIp: parsed.lease.publicIp, modRevision: kv.mod_revision });
  }
  return held;
}

/**
 * Gets this node a subnet. In order of preference, like flannel:
 * a subnet key that already names this node's public IP (a restart), the
 * subnet remembered in subnet.env if it is still free, then a free one at
 * random among the first 100. Throws TUN_ERR_ETCD when the network is full.
 */
export async function acquireSubnet(client: Etcd3, opts: AcquireOptions): Promise<AcquiredSubnet> {
  const lease = client.lease(opts.ttlSeconds);
  try {
    const leaseId = await lease.grant();
    const config6 = opts.config.ipv6;
    const record = subnetRecord(opts.publicIp, opts.publicKey, config6 ? { publicIpv6: opts.publicIpv6 } : undefined, opts.backend);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const held = await listHeld(client, opts);
      const config4 = opts.config.ipv4;
      // Only a key of every family the network runs is one this node can go on with.
      const fits = (h: Held): boolean => (!config4 || (h.subnet !== undefined && isLeasable(config4, h.subnet))) && (!config6 || (h.subnet6 !== undefined && isLeasable6(config6, h.subnet6)));
      const ours = held.filter((h) => h.publicIp === opts.publicIp && fits(h));
      const remembered = opts.remembered;
      const mine = ours.find((h) => remembered && h.subnet && samePrefix(h.subnet, remembered)) ?? ours[0];
      if (mine) {
        // Re-attach the key to this run's lease, unless it changed meanwhile.
        const txn = await client.if(mine.key, 'Mod', '==', mine.modRevision).then(client.put(mine.key).value(record).lease(leaseId)).commit();
        if (txn.succeeded) return { lease, how: 'still ours', ...(mine.subnet ? { subnet: mine.subnet } : {}), ...(mine.subnet6 ? { subnet6: mine.subnet6 } : {}) };
        continue;
      }
      const choice = config4 ? chooseSubnet(opts, config4, held) : chooseSubnet6(opts, config6!, held);
      const key = subnetKey(opts.prefix, choice.subnet, choice.subnet6);
      const txn = await client.if(key, 'Create', '==', 0).then(client.put(key).value(record).lease(leaseId)).commit();
      if (txn.succeeded) return { ...choice, lease };
    }
    throw new TunDriverError('TUN_ERR_ETCD', `could not take a subnet under ${subnetsDir(opts.prefix)} in ${MAX_ATTEMPTS} tries: other nodes kept taking the same ones; start again`);
  } catch (err) {
    await settleWithin(lease.revoke());
    throw err;
  }
}

type Choice = Pick<AcquiredSubnet, 'subnet' | 'subnet6' | 'how'>;

/** An IPv4 subnet to ask for (the remembered one while free, else one of the free ones at random), with its IPv6 partner on a dual-stack network. */
function chooseSubnet(opts: AcquireOptions, config4: NetworkConfig4, held: Held[]): Choice {
  const remembered = opts.remembered;
  let wanted: Prefix;
  let how: AcquiredSubnet['how'] = 'new';
  if (remembered && isLeasable(config4, remembered) && !held.some((h) => h.subnet && samePrefix(h.subnet, remembered))) {
    wanted = remembered;
    how = 'remembered';
  } else {
    const free = freeSubnets(config4, held.flatMap((h) => (h.subnet ? [h.subnet] : [])));
    if (free.length === 0) {
      throw new TunDriverError('TUN_ERR_ETCD', `no free subnet: all ${leasableCount(config4)} /${config4.subnetLen} subnets from ${formatIPv4(config4.subnetMin)} to ${formatIPv4(config4.subnetMax)} are leased; widen Network or SubnetMin/SubnetMax in ${opts.prefix}/config, or delete stale keys under ${subnetsDir(opts.prefix)}`);
    }
    wanted = free[Math.floor(Math.random() * free.length)];
  }
  const wanted6 = pairedSubnet6(opts.config, wanted);
  return { subnet: wanted, ...(wanted6 ? { subnet6: wanted6 } : {}), how };
}

/** On an IPv6-only network: the remembered IPv6 subnet while free, else one of the free ones at random. */
function chooseSubnet6(opts: AcquireOptions, config6: NetworkConfig6, held: Held[]): Choice {
  const taken = held.flatMap((h) => (h.subnet6 ? [h.subnet6] : []));
  const remembered = opts.remembered6;
  const same = (a: Prefix6, b: Prefix6): boolean => a.length === b.length && sameIPv6(a.network, 0, b.network);
  if (remembered && isLeasable6(config6, remembered) && !taken.some((t) => same(t, remembered))) return { subnet6: remembered, how: 'remembered' };
  const free = freeSubnets6(config6, taken);
  if (free.length === 0) {
    throw new TunDriverError('TUN_ERR_ETCD', `no free IPv6 subnet: every /${config6.subnetLen} from ${formatIPv6(bigIntToIPv6(config6.subnetMin))} to ${formatIPv6(bigIntToIPv6(config6.subnetMax))} is leased; widen IPv6Network or IPv6SubnetMin/IPv6SubnetMax in ${opts.prefix}/config, or delete stale keys under ${subnetsDir(opts.prefix)}`);
  }
  return { subnet6: free[Math.floor(Math.random() * free.length)], how: 'new' };
}

/**
 * The IPv6 subnet paired with IPv4 subnet `subnet` on a dual-stack network:
 * the k-th IPv6 subnet of IPv6Network for the k-th IPv4 subnet of Network.
 * Undefined on an IPv4-only network.
 * @throws TunDriverError `TUN_ERR_ETCD` when IPv6SubnetMin/Max leave no partner for it.
 */
export function pairedSubnet6(config: NetworkConfig, subnet: Prefix): Prefix6 | undefined {
  const c6 = config.ipv6;
  const c4 = config.ipv4;
  if (!c6 || !c4) return undefined;
  const k = BigInt((subnet.network - c4.network.network) / 2 ** (32 - c4.subnetLen));
  const n = ipv6ToBigInt(c6.network.network) + k * (1n << BigInt(128 - c6.subnetLen));
  const network = bigIntToIPv6(n);
  if (n < c6.subnetMin || n > c6.subnetMax) {
    throw new TunDriverError('TUN_ERR_ETCD', `IPv4 subnet ${formatCidr(subnet, false)} pairs with IPv6 subnet ${formatIPv6(network)}/${c6.subnetLen}, outside IPv6SubnetMin..IPv6SubnetMax: widen them, or narrow SubnetMin/SubnetMax to match`);
  }
  return { network, address: network, length: c6.subnetLen };
}
