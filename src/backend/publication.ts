// What a node publishes in its lease, by backend, in flannel's JSON. It is
// needed before the backend opens: the node takes its subnet (and writes
// this record with it) first, then builds the data plane for that subnet.
// - vxlan: {"VNI": 1, "VtepMAC": ...} per family; the MAC follows from the
//   public IP, so it is known before the VTEP exists (./vxlan/vxlan-data.ts);
// - host-gw: null (a peer needs nothing but the public IP);
// - udp and wireguard: made by the subnet manager itself (null, or
//   {"PublicKey": ...}), because SIGHUP may publish a new key at run time.
import type { NetworkConfig } from '../subnet/etcd/network-config.js';
import type { PublishedBackend } from '../subnet/etcd/subnet-keys.js';
import { vxlanRecord } from './vxlan/vxlan-data.js';

/**
 * This node's record for a kernel backend's network, or undefined for a
 * user-space one (the subnet manager writes theirs).
 * @param hasIpv6Underlay whether the node has an IPv6 underlay address (its IPv6 VTEP needs one).
 */
export function publishedBackend(config: NetworkConfig, publicIp: number, hasIpv6Underlay: boolean): PublishedBackend | undefined {
  if (config.backend === 'vxlan') return vxlanRecord(config.vxlan!.vni, publicIp, !!config.ipv4, !!config.ipv6 && hasIpv6Underlay);
  if (config.backend === 'host-gw') return { type: 'host-gw', data: null, ...(config.ipv6 ? { v6Data: null } : {}) };
  return undefined;
}
