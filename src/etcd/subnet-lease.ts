// Taking a subnet: one etcd lease per daemon run, and a create-if-absent
// transaction on the subnet key, so two nodes that race can never both
// get the same subnet. The etcd3 client renews the lease (every TTL/3).
import { Etcd3, Lease as EtcdLease } from 'etcd3';
import { TunDriverError } from '../errors.js';
import { formatIPv4, Prefix, samePrefix } from '../packet/addr.js';
import { freeSubnets, isLeasable, leasableCount } from './allocation.js';
import { settleWithin } from './etcd-connection.js';
import { NetworkConfig } from './network-config.js';
import { parseSubnetEntry, subnetKey, subnetRecord, subnetsDir } from './subnet-keys.js';

export interface AcquireOptions {
  prefix: string;
  config: NetworkConfig;
  publicIp: number;
  /** The subnet this node held before (subnet.env), asked for first. */
  remembered?: Prefix;
  ttlSeconds: number;
  /** Published in BackendData when the node authenticates. */
  publicKey?: string;
}

export interface AcquiredSubnet {
  subnet: Prefix;
  lease: EtcdLease;
  /** How the subnet was chosen, for the log. */
  how: 'still ours' | 'remembered' | 'new';
}

const MAX_ATTEMPTS = 10;

interface Held {
  key: string;
  subnet: Prefix;
  publicIp: number;
  modRevision: string;
}

async function listHeld(client: Etcd3, opts: AcquireOptions): Promise<Held[]> {
  const res = await client.getAll().prefix(subnetsDir(opts.prefix)).exec();
  const held: Held[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    const parsed = parseSubnetEntry(opts.prefix, key, kv.value.toString(), opts.config);
    if ('lease' in parsed) held.push({ key, subnet: parsed.lease.subnet, publicIp: parsed.lease.publicIp, modRevision: kv.mod_revision });
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
    const record = subnetRecord(opts.publicIp, opts.publicKey);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const held = await listHeld(client, opts);
      const ours = held.filter((h) => h.publicIp === opts.publicIp && isLeasable(opts.config, h.subnet));
      const remembered = opts.remembered;
      const mine = ours.find((h) => remembered && samePrefix(h.subnet, remembered)) ?? ours[0];
      if (mine) {
        // Re-attach the key to this run's lease, unless it changed meanwhile.
        const txn = await client.if(mine.key, 'Mod', '==', mine.modRevision).then(client.put(mine.key).value(record).lease(leaseId)).commit();
        if (txn.succeeded) return { subnet: mine.subnet, lease, how: 'still ours' };
        continue;
      }
      let wanted: Prefix | undefined;
      let how: AcquiredSubnet['how'] = 'new';
      if (remembered && isLeasable(opts.config, remembered) && !held.some((h) => samePrefix(h.subnet, remembered))) {
        wanted = remembered;
        how = 'remembered';
      } else {
        const free = freeSubnets(opts.config, held.map((h) => h.subnet));
        if (free.length === 0) {
          throw new TunDriverError('TUN_ERR_ETCD', `no free subnet: all ${leasableCount(opts.config)} /${opts.config.subnetLen} subnets from ${formatIPv4(opts.config.subnetMin)} to ${formatIPv4(opts.config.subnetMax)} are leased; widen Network or SubnetMin/SubnetMax in ${opts.prefix}/config, or delete stale keys under ${subnetsDir(opts.prefix)}`);
        }
        wanted = free[Math.floor(Math.random() * free.length)];
      }
      const key = subnetKey(opts.prefix, wanted);
      const txn = await client.if(key, 'Create', '==', 0).then(client.put(key).value(record).lease(leaseId)).commit();
      if (txn.succeeded) return { subnet: wanted, lease, how };
    }
    throw new TunDriverError('TUN_ERR_ETCD', `could not take a subnet under ${subnetsDir(opts.prefix)} in ${MAX_ATTEMPTS} tries: other nodes kept taking the same ones; start again`);
  } catch (err) {
    await settleWithin(lease.revoke());
    throw err;
  }
}
