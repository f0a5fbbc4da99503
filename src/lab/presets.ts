// Built-in topologies. `two-hosts` is the tutorial's host-1/host-2;
// `routed` puts a router between them (for traceroute); `cluster` is N
// hosts with M pods each (flannel's layout: host i owns 10.244.i.0/24),
// optionally with an "internet" host behind a router.
import { TunDriverError } from '../errors.js';
import { Topology, validateTopology } from './topology.js';
import type { BackendName } from '../subnet/etcd/network-config.js';

/** Options of {@link presetTopology}. */
export interface PresetOptions {
  /** cluster: number of hosts (1-20). */
  hosts?: number;
  /** cluster: pods per host (1-64). */
  pods?: number;
  /** Lab name (default: the preset's name). */
  name?: string;
  /** cluster: run an etcd member on each of the first three hosts. */
  etcd?: boolean;
  /** cluster with etcd: TLS with client certificates and RBAC (lab-etcd-tls.ts). */
  etcdTls?: boolean;
  /** cluster: add a host outside the cluster ("internet", 198.51.100.129) behind a router, for --ip-masq. */
  internet?: boolean;
  /** cluster with etcd: a dual-stack network config (EnableIPv6, IPv6Network fd00:10:244::/48). */
  ipv6?: boolean;
  /** cluster with etcd: an IPv6-only network config (EnableIPv4 false, EnableIPv6, IPv6Network fd00:10:244::/48). */
  ipv6Only?: boolean;
  /** cluster: the backend its nodes run (flannel's Backend.Type, written into etcd's network config). */
  backend?: BackendName;
  /** cluster: the underlay is dual-stack too (2001:db8:100::/64, host-i at 2001:db8:100::i), for an IPv6 underlay. */
  underlay6?: boolean;
}

const underlay = [{ name: 'underlay', subnet: '198.51.100.0/24' }];

const PRESETS: Record<string, (o: PresetOptions) => unknown> = {
  'two-hosts': (o) => ({
    name: o.name ?? 'two-hosts',
    segments: underlay,
    hosts: [
      { name: 'host-1', segment: 'underlay', address: '198.51.100.1' },
      { name: 'host-2', segment: 'underlay', address: '198.51.100.2' },
    ],
  }),
  routed: (o) => ({
    name: o.name ?? 'routed',
    segments: [
      { name: 'lan-a', subnet: '198.51.100.0/25' },
      { name: 'lan-b', subnet: '198.51.100.128/25' },
    ],
    hosts: [
      { name: 'host-1', segment: 'lan-a', address: '198.51.100.1' },
      { name: 'host-2', segment: 'lan-b', address: '198.51.100.130' },
    ],
    routers: [{ name: 'router-1', interfaces: [{ segment: 'lan-a', address: '198.51.100.126' }, { segment: 'lan-b', address: '198.51.100.254' }] }],
  }),
  cluster: (o) => {
    const hosts = o.hosts ?? 3;
    const pods = o.pods ?? 2;
    if (!(Number.isInteger(hosts) && hosts >= 1 && hosts <= 20)) throw new TunDriverError('TUN_ERR_USAGE', `--hosts ${hosts}: use 1 to 20`);
    if (!(Number.isInteger(pods) && pods >= 1 && pods <= 64)) throw new TunDriverError('TUN_ERR_USAGE', `--pods ${pods}: use 1 to 64`);
    const nodes = Array.from({ length: hosts }, (_, i) => ({
      name: `host-${i + 1}`,
      segment: 'underlay',
      address: `198.51.100.${i + 1}`,
      ...(o.underlay6 ? { address6: `2001:db8:100::${(i + 1).toString(16)}` } : {}),
      pods: { subnet: `10.244.${i + 1}.0/24`, count: pods },
    }));
    // The internet: a segment of its own beyond a router that knows nothing
    // of the pod network, so only masqueraded pod traffic gets answers.
    // With an IPv6 underlay, the internet is dual-stack too (2001:db8:200::1 behind 2001:db8:100::fe).
    const v6 = <T extends object>(value: T, extra: object): T => (o.underlay6 ? { ...value, ...extra } : value);
    const internet = o.internet
      ? {
          segments: [v6({ name: 'underlay', subnet: '198.51.100.0/25' }, { subnet6: '2001:db8:100::/64' }), v6({ name: 'outside', subnet: '198.51.100.128/25' }, { subnet6: '2001:db8:200::/64' })],
          hosts: [...nodes, v6({ name: 'internet', segment: 'outside', address: '198.51.100.129' }, { address6: '2001:db8:200::1' })],
          routers: [{ name: 'router', interfaces: [v6({ segment: 'underlay', address: '198.51.100.126' }, { address6: '2001:db8:100::fe' }), v6({ segment: 'outside', address: '198.51.100.254' }, { address6: '2001:db8:200::fe' })] }],
        }
      : { segments: o.underlay6 ? underlay.map((s) => ({ ...s, subnet6: '2001:db8:100::/64' })) : underlay, hosts: nodes };
    return {
      name: o.name ?? 'cluster',
      ...internet,
      ...(o.backend ? { backend: o.backend } : {}),
      ...(o.etcd ? { etcd: { members: Array.from({ length: Math.min(hosts, 3) }, (_, i) => `host-${i + 1}`), ...(o.etcdTls ? { tls: true } : {}), ...(o.ipv6 || o.ipv6Only ? { ipv6: true } : {}), ...(o.ipv6Only ? { ipv4: false } : {}) } } : {}),
    };
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);

/**
 * The topology of a built-in preset (`two-hosts`, `routed`, `cluster`), validated.
 * @throws TunDriverError `TUN_ERR_USAGE` (unknown preset, hosts or pods out of range), `TUN_ERR_LAB` (an invalid result).
 */
export function presetTopology(preset: string, options: PresetOptions = {}): Topology {
  const make = PRESETS[preset];
  if (!make) throw new TunDriverError('TUN_ERR_USAGE', `unknown preset "${preset}": choose one of ${PRESET_NAMES.join(', ')}`);
  return validateTopology(make(options), `preset ${preset}`);
}
