// A cluster lab with one overlay daemon per host, for the overlay's
// integration tests, benchmark and demo. The control plane is a leases
// file listing every host (host i owns 10.244.i.0/24), or (etcd: true) the
// lab's own etcd, where each host takes whatever subnet is free. Once a
// host's daemon is up (its subnet.env written), its pods are added through
// tun-driver-cni, as a container runtime would add them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { presetTopology } from '../src/lab/presets.js';
import { labEtcdClientFlags, labEtcdctl, labEtcdEndpoints, labSubnetFile } from '../src/lab/lab-etcd.js';
import { DaemonRun, startDaemon } from './daemon-harness.js';
import { addPod, podsOf } from '../src/lab/lab-pods.js';
import type { JsonObject } from '../src/cni/net-conf.js';
import { writeSubnetEnv } from '../src/subnet/etcd/subnet-env.js';
import { parseCidr } from '../src/packet/addr.js';
import { parseCidr6 } from '../src/packet/addr6.js';
import type { OverlayStatus } from '../src/control/daemon-status.js';
import type { BackendName } from '../src/subnet/etcd/network-config.js';

const CLI = new URL('../src/cli/main.js', import.meta.url).pathname;

export const NETWORK = '10.244.0.0/16';
/** The IPv6 pod network of a dual-stack cluster: host i owns fd00:10:244:i::/64. */
export const NETWORK6 = 'fd00:10:244::/48';

export interface LeaseEntry { subnet?: string; subnetV6?: string; publicIp: string; publicIpV6?: string; port?: number; publicKey?: string }

export function leaseFor(host: number, dualStack = false): LeaseEntry & { subnet: string } {
  return { subnet: `10.244.${host}.0/24`, ...(dualStack ? { subnetV6: subnet6For(host) } : {}), publicIp: `198.51.100.${host}` };
}

/** Host i's IPv6 underlay address in a cluster with an IPv6 underlay. */
export function publicIpv6For(host: number): string {
  return `2001:db8:100::${host.toString(16)}`;
}

export function subnet6For(host: number): string {
  return `fd00:10:244:${host.toString(16)}::/64`;
}

export class OverlayCluster {
  readonly daemons = new Map<number, DaemonRun>();

  /** etcd mode: the subnet lease TTL every daemon is started with (seconds). */
  leaseTtl = 30;
  /**
   * Daemons run with --ip-masq, as kube-flannel.yml runs flanneld: then the
   * bridge plugin is told not to masquerade (it would also masquerade pod
   * traffic to other nodes' pods, flannel's behaviour without --ip-masq).
   */
  ipMasq = true;
  /** Whether start() adds the host's pods through the plugin (off for tests that add them their own way). */
  autoPods = true;
  /** Flags every daemon of this cluster gets (before a start's own), e.g. ['--offload', 'off']. */
  commonArgs: string[] = [];
  /** Hosts that run IPv4-only in a dual-stack cluster (no IPv6 --network/--subnet, no subnetV6 in the leases). */
  readonly ipv4Only = new Set<number>();
  /** The hosts have IPv6 underlay addresses (2001:db8:100::i): leases name them, daemons get --public-ipv6. */
  underlay6 = false;
  /** An IPv6-only pod network: daemons get only the IPv6 --network/--subnet, leases only subnetV6 (etcd: "EnableIPv4": false). */
  ipv6Only = false;
  /** The backend the daemons run (etcd: the config's Backend.Type; leases file: --backend). */
  backend: BackendName = 'udp';

  private constructor(readonly lab: Lab, readonly hosts: number, readonly leasesFile: string, readonly etcd: boolean, private readonly podDelegate: JsonObject, readonly dualStack: boolean) {}

  /**
   * `podDelegate` is merged over the plugin's delegate configuration, e.g.
   * {mtu: 1500} for pods whose MTU is above the overlay's path MTU.
   */
  static async up(name: string, hosts: number, pods: number, options: { etcd?: boolean; etcdTls?: boolean; internet?: boolean; podDelegate?: JsonObject; dualStack?: boolean; ipv4Only?: number[]; underlay6?: boolean; ipv6Only?: boolean; backend?: OverlayCluster['backend'] } = {}): Promise<OverlayCluster> {
    const lab = await Lab.up(presetTopology('cluster', { name, hosts, pods, etcd: options.etcd, etcdTls: options.etcdTls, internet: options.internet, ipv6: options.etcd && options.dualStack, ipv6Only: options.etcd && options.ipv6Only, underlay6: options.underlay6, backend: options.backend }));
    const dir = mkdtempSync(join(tmpdir(), 'tdlab-leases-'));
    const cluster = new OverlayCluster(lab, hosts, join(dir, 'leases.json'), options.etcd ?? false, options.podDelegate ?? {}, options.dualStack ?? false);
    cluster.underlay6 = options.underlay6 ?? false;
    cluster.backend = options.backend ?? 'udp';
    if (options.ipv6Only) {
      // No IPv4 pod network: nothing for --ip-masq to masquerade.
      cluster.ipv6Only = true;
      cluster.ipMasq = false;
    }
    for (const h of options.ipv4Only ?? []) cluster.ipv4Only.add(h);
    cluster.writeLeases(Array.from({ length: hosts }, (_, i) => ({
      ...(cluster.ipv6Only ? { subnetV6: subnet6For(i + 1), publicIp: `198.51.100.${i + 1}` } : leaseFor(i + 1, cluster.dualStack && !cluster.ipv4Only.has(i + 1))),
      ...(cluster.underlay6 && !cluster.ipv4Only.has(i + 1) ? { publicIpV6: publicIpv6For(i + 1) } : {}),
    })));
    return cluster;
  }

  /** etcd mode: runs etcdctl against the lab's etcd (from the first member). */
  async etcdctl(...args: string[]): Promise<string> {
    const r = await labEtcdctl(this.lab, args);
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** The name host i's daemon goes by in `status --tun`: its TUN, or the kernel backend's device. */
  get daemonName(): string {
    return this.backend === 'vxlan' ? 'flannel.1' : this.backend === 'host-gw' ? 'host-gw' : 'flannel0';
  }

  /** What host i's daemon says of itself (`tun-driver status --json`). */
  async status(host: number): Promise<OverlayStatus> {
    const r = await this.lab.run(`host-${host}`, process.execPath, [CLI, 'status', '--tun', this.daemonName, '--json']);
    if (r.code !== 0) throw new Error(`status on host-${host}: ${r.stderr}`);
    return JSON.parse(r.stdout)[0] as OverlayStatus;
  }

  /** The subnets host i's daemon routes to right now. */
  async peers(host: number): Promise<string[]> {
    return (await this.status(host)).peers.map((p) => p.subnet).sort();
  }

  writeLeases(nodes: LeaseEntry[], network = NETWORK): void {
    writeFileSync(this.leasesFile, JSON.stringify({ ...(this.ipv6Only ? {} : { network }), ...(this.dualStack || this.ipv6Only ? { networkV6: NETWORK6 } : {}), nodes }, null, 2));
  }

  /** Starts host i's daemon (resolves once it is up), then adds through the plugin any of its pods that have no network yet. */
  async start(host: number, extra: string[] = []): Promise<DaemonRun> {
    const run = await startDaemon(this.lab, `host-${host}`, this.args(host, extra), /overlay up/);
    this.daemons.set(host, run);
    if (this.autoPods) for (const pod of podsOf(this.lab, `host-${host}`)) {
      if (this.lab.node(pod).addresses.length === 0) await addPod(this.lab, pod, this.podDelegate);
    }
    return run;
  }

  /**
   * Leases mode, for benchmarks that run other tunnels in the same lab:
   * writes each host's subnet.env as its daemon would, then adds every pod
   * through the plugin, before any daemon runs.
   */
  async addPodsWithoutDaemons(podMtu?: number): Promise<void> {
    if (this.etcd) throw new Error('etcd mode: subnets come from the daemons');
    // Pod-to-pod traffic only: nobody masquerades.
    this.ipMasq = false;
    for (let h = 1; h <= this.hosts; h++) await this.addPodsWithoutDaemon(h, podMtu ?? 1472);
  }

  /** Host `host` runs another tunnel (wireguard-go, socat): writes its subnet.env as our daemon would and adds its pods through the plugin, unmasqueraded. */
  async addPodsWithoutDaemon(host: number, mtu: number): Promise<void> {
    const delegate = { ...this.podDelegate, ipMasq: false, mtu };
    const ipv6 = this.dualStack && !this.ipv4Only.has(host) ? { network6: parseCidr6(NETWORK6), subnet6: parseCidr6(subnet6For(host)) } : {};
    writeSubnetEnv(labSubnetFile(this.lab, `host-${host}`), { network: parseCidr(NETWORK), subnet: parseCidr(leaseFor(host).subnet), mtu, ipMasq: false, ...ipv6 });
    for (const pod of podsOf(this.lab, `host-${host}`)) if (this.lab.node(pod).addresses.length === 0) await addPod(this.lab, pod, delegate);
  }

  /** Pod j of host i's address, as the plugin gave it (no prefix length). */
  podIp(host: number, pod: number): string {
    const address = this.lab.node(`host-${host}-pod${pod}`).addresses[0];
    if (!address) throw new Error(`host-${host}-pod${pod} has no address: start host-${host}'s daemon first`);
    return address.split('/')[0];
  }

  /** Pod j of host i's IPv6 address on a dual-stack cluster (no prefix length). */
  podIp6(host: number, pod: number): string {
    const address = this.lab.node(`host-${host}-pod${pod}`).addresses.find((a) => a.includes(':'));
    if (!address) throw new Error(`host-${host}-pod${pod} has no IPv6 address`);
    return address.split('/')[0];
  }

  args(host: number, own: string[] = []): string[] {
    const backend = !this.etcd && this.backend !== 'udp' && this.backend !== 'wireguard' ? ['--backend', this.backend] : [];
    const extra = [...(this.ipMasq ? ['--ip-masq'] : []), ...backend, ...this.commonArgs, ...own];
    if (this.etcd) {
      const public6 = this.underlay6 && !this.ipv4Only.has(host) ? ['--public-ipv6', publicIpv6For(host)] : [];
      return ['overlay', '--etcd-endpoints', labEtcdEndpoints(this.lab).join(','), ...labEtcdClientFlags(this.lab), '--public-ip', `198.51.100.${host}`, ...public6, '--subnet-file', labSubnetFile(this.lab, `host-${host}`), '--subnet-lease-ttl', String(this.leaseTtl), '--json-log', ...extra];
    }
    const v6 = (this.dualStack && !this.ipv4Only.has(host)) || this.ipv6Only ? ['--network', NETWORK6, '--subnet', subnet6For(host), ...(this.underlay6 ? ['--public-ipv6', publicIpv6For(host)] : [])] : [];
    const v4 = this.ipv6Only ? [] : ['--network', NETWORK, '--subnet', `10.244.${host}.0/24`];
    return ['overlay', ...v4, ...v6, '--public-ip', `198.51.100.${host}`, '--leases', this.leasesFile, '--subnet-file', labSubnetFile(this.lab, `host-${host}`), '--json-log', ...extra];
  }

  async startAll(): Promise<void> {
    for (let h = 1; h <= this.hosts; h++) await this.start(h);
  }

  async stop(host: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const run = this.daemons.get(host);
    this.daemons.delete(host);
    return run ? run.stop(signal) : null;
  }

  async down(): Promise<void> {
    for (const h of [...this.daemons.keys()]) await this.stop(h).catch(() => undefined);
    await this.lab.down();
    rmSync(dirname(this.leasesFile), { recursive: true, force: true });
  }
}

/** The counters a daemon logged last (JSON log line with "counters"). */
export function lastCounters(run: DaemonRun): { sent: number; delivered: number; errorsGenerated: number; fragmented: number; dropped: Record<string, number>; peers: Array<{ subnet: string; txPackets: number; rxPackets: number }> } {
  const line = run.stderr().split('\n').filter((l) => l.includes('"counters"')).pop();
  if (!line) throw new Error(`no counters logged yet: ${run.stderr()}`);
  return JSON.parse(line).counters;
}
