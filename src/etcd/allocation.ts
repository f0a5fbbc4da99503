// Which subnet a node may take: pure arithmetic over the network config and
// the subnets already leased, kept apart from etcd so it is unit-tested.
import { Prefix } from '../packet/addr.js';
import { NetworkConfig } from './network-config.js';

/** Whether `subnet` is one the config allows to lease (right size, inside SubnetMin..SubnetMax). */
export function isLeasable(config: NetworkConfig, subnet: Prefix): boolean {
  return subnet.length === config.subnetLen && subnet.network >= config.subnetMin && subnet.network <= config.subnetMax;
}

/** How many subnets the config allows in all. */
export function leasableCount(config: NetworkConfig): number {
  return (config.subnetMax - config.subnetMin) / 2 ** (32 - config.subnetLen) + 1;
}

/**
 * Up to `limit` free subnets, lowest first. Like flannel, the caller picks
 * one of them at random, so nodes that race rarely want the same one; the
 * etcd transaction is what makes the choice safe.
 */
export function freeSubnets(config: NetworkConfig, taken: readonly Prefix[], limit = 100): Prefix[] {
  const used = new Set(taken.filter((p) => p.length === config.subnetLen).map((p) => p.network));
  // A shorter prefix covering part of the range blocks the subnets inside it.
  const covering = taken.filter((p) => p.length < config.subnetLen);
  const size = 2 ** (32 - config.subnetLen);
  const free: Prefix[] = [];
  for (let n = config.subnetMin; n <= config.subnetMax && free.length < limit; n += size) {
    if (used.has(n)) continue;
    if (covering.some((c) => n >= c.network && n < c.network + 2 ** (32 - c.length))) continue;
    free.push({ network: n, address: n, length: config.subnetLen });
  }
  return free;
}
