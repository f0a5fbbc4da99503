// The delegate's configuration, built as flannel's plugin builds it: the
// standard bridge plugin with host-local IPAM over the node's subnet,
// from what the daemon wrote to subnet.env. Pure, so it is unit-tested.
import { firstAddress6, SubnetEnv } from '../subnet/etcd/subnet-env.js';
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6, formatIPv6 } from '../packet/addr6.js';
import { isObject, JsonObject, NetConf } from './net-conf.js';

/**
 * `over` merged into `base`: objects key by key (so `{"ipam": {"dataDir": ...}}`
 * keeps the generated ranges), anything else replaces.
 */
export function mergeJson(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const old = out[key];
    out[key] = isObject(old) && isObject(value) ? mergeJson(old, value) : value;
  }
  return out;
}

/**
 * The configuration tun-driver-cni gives the delegate (bridge + host-local unless `delegate.type` says otherwise) for a node's subnet.env, with `conf.delegate` merged over it.
 * Pure; never throws.
 */
export function delegateConf(conf: NetConf, env: SubnetEnv): JsonObject {
  const type = typeof conf.delegate.type === 'string' ? conf.delegate.type : 'bridge';
  const generated: JsonObject = {
    type,
    // The daemon masquerades when it says so; otherwise the bridge plugin must.
    ipMasq: !env.ipMasq,
    mtu: env.mtu,
    ...(type === 'bridge' ? { bridge: 'cni0', isGateway: true, hairpinMode: true } : {}),
    ipam: {
      type: 'host-local',
      // A dual-stack node: one range of each family, so each pod gets an address of each (flannel's plugin does the same); an IPv6-only node: the IPv6 one.
      ranges: [...(env.subnet ? [[{ subnet: formatCidr(env.subnet, false) }]] : []), ...(env.subnet6 ? [[{ subnet: formatCidr6(env.subnet6, false) }]] : [])],
      // With the gateway named: bridge's CHECK compares the route it finds (via the gateway) with the result's.
      routes: [
        ...(env.network && env.subnet ? [{ dst: formatCidr(env.network, false), gw: formatIPv4(env.subnet.network + 1) }] : []),
        ...(env.network6 && env.subnet6 ? [{ dst: formatCidr6(env.network6, false), gw: formatIPv6(firstAddress6(env.subnet6)) }] : []),
      ],
    },
  };
  // The delegate speaks the runtime's version and network name whatever `delegate` says.
  return { ...mergeJson(generated, conf.delegate), cniVersion: conf.cniVersion, name: conf.name };
}
