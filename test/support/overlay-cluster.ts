// A cluster lab with one overlay daemon per host, for the overlay's
// integration tests, benchmark and demo: host i owns 10.244.i.0/24. The
// control plane is a leases file listing every host, or (etcd: true) the
// lab's own etcd, where each host asks for its pods' subnet first.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Lab } from '../../src/lab/lab.js';
import { presetTopology } from '../../src/lab/presets.js';
import { labEtcdctl, labEtcdEndpoints, labSubnetFile } from '../../src/lab/lab-etcd.js';
import { DaemonRun, startDaemon } from './daemon-harness.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

export const NETWORK = '10.244.0.0/16';

export interface LeaseEntry { subnet: string; publicIp: string; port?: number }

export function leaseFor(host: number): LeaseEntry {
  return { subnet: `10.244.${host}.0/24`, publicIp: `198.51.100.${host}` };
}

export class OverlayCluster {
  readonly daemons = new Map<number, DaemonRun>();

  /** etcd mode: the subnet lease TTL every daemon is started with (seconds). */
  leaseTtl = 30;
  /** Flags every daemon of this cluster gets (before a start's own), e.g. ['--offload', 'off']. */
  commonArgs: string[] = [];

  private constructor(readonly lab: Lab, readonly hosts: number, readonly leasesFile: string, readonly etcd: boolean) {}

  static async up(name: string, hosts: number, pods: number, options: { etcd?: boolean } = {}): Promise<OverlayCluster> {
    const lab = await Lab.up(presetTopology('cluster', { name, hosts, pods, etcd: options.etcd }));
    const dir = mkdtempSync(join(tmpdir(), 'tdlab-leases-'));
    const cluster = new OverlayCluster(lab, hosts, join(dir, 'leases.json'), options.etcd ?? false);
    cluster.writeLeases(Array.from({ length: hosts }, (_, i) => leaseFor(i + 1)));
    return cluster;
  }

  /** etcd mode: runs etcdctl against the lab's etcd (from the first member). */
  async etcdctl(...args: string[]): Promise<string> {
    const r = await labEtcdctl(this.lab, args);
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** The subnets host i's daemon routes to right now (from `tun-driver status --json`). */
  async peers(host: number): Promise<string[]> {
    const r = await this.lab.run(`host-${host}`, process.execPath, [CLI, 'status', '--tun', 'flannel0', '--json']);
    if (r.code !== 0) throw new Error(`status on host-${host}: ${r.stderr}`);
    return (JSON.parse(r.stdout)[0].peers as Array<{ subnet: string }>).map((p) => p.subnet).sort();
  }

  writeLeases(nodes: LeaseEntry[], network = NETWORK): void {
    writeFileSync(this.leasesFile, JSON.stringify({ network, nodes }, null, 2));
  }

  /** Starts host i's daemon (resolves once it is up). */
  async start(host: number, extra: string[] = []): Promise<DaemonRun> {
    const run = await startDaemon(this.lab, `host-${host}`, this.args(host, extra), /overlay up/);
    this.daemons.set(host, run);
    return run;
  }

  args(host: number, own: string[] = []): string[] {
    const extra = [...this.commonArgs, ...own];
    if (this.etcd) {
      return ['overlay', '--etcd-endpoints', labEtcdEndpoints(this.lab).join(','), '--public-ip', `198.51.100.${host}`, '--subnet-file', labSubnetFile(this.lab, `host-${host}`), '--subnet-lease-ttl', String(this.leaseTtl), '--json-log', ...extra];
    }
    return ['overlay', '--network', NETWORK, '--subnet', `10.244.${host}.0/24`, '--public-ip', `198.51.100.${host}`, '--leases', this.leasesFile, '--json-log', ...extra];
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
