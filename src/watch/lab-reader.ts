// Reads a lab for `lab watch`, once a second: every host's daemons over
// their control sockets (the socket names carry the host's netns inode, so
// no namespace is entered), pods from the lab's state file (the CNI plugin
// records them there), and, in a lab with etcd, the subnet leases every
// few seconds through etcdctl inside the lab. Reads only.
import { queryStatus } from '../control/control-server.js';
import type { DaemonStatus } from '../control/daemon-status.js';
import { listControlSocketsIn } from '../control/paths.js';
import { configKey, DEFAULT_ETCD_PREFIX, parseSubnetEntry, subnetsDir } from '../subnet/etcd/subnet-keys.js';
import { parseNetworkConfig } from '../subnet/etcd/network-config.js';
import { formatCidr, formatIPv4 } from '../packet/addr.js';
import { formatCidr6 } from '../packet/addr6.js';
import { Lab } from '../lab/lab.js';
import { labEtcdctl } from '../lab/lab-etcd.js';
import { readLabState } from '../lab/state.js';
import { TunDriverError } from '../errors.js';
import { buildSnapshot, ClusterSnapshot, DaemonReading, EtcdLeaseView, HostReading } from './cluster-snapshot.js';

/** How often the etcd leases are re-read (etcdctl is a process start: not every second). */
const ETCD_EVERY_MS = 5000;

/** Cumulative counters of a daemon at one time (drops by reason; a relay's request and reply bytes). */
interface CounterReading {
  at: number;
  counts: Record<string, number>;
}

/** Per second, from two readings of cumulative counters: the ones that grew (a counter that went back, a restart, gives nothing). */
export function counterRates(before: CounterReading | undefined, counts: Record<string, number>, at: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (!before || at <= before.at) return out;
  for (const [name, count] of Object.entries(counts)) {
    const grew = count - (before.counts[name] ?? 0);
    if (grew > 0) out[name] = (grew * 1000) / (at - before.at);
  }
  return out;
}

/**
 * Subnet leases from `etcdctl get --prefix <prefix>/ -w json` (keys and
 * values base64): the network config and the subnet keys, read with the
 * daemon's own parsers, so a key reads here as every node reads it. A key
 * that is not a lease under that config is left out of the picture; a
 * listing without a config has no leases.
 */
export function parseEtcdctlLeases(json: string, prefix = DEFAULT_ETCD_PREFIX): EtcdLeaseView[] {
  const kvs = ((JSON.parse(json).kvs ?? []) as Array<{ key: string; value: string }>).map((kv) => ({ key: Buffer.from(kv.key, 'base64').toString(), value: Buffer.from(kv.value, 'base64').toString() }));
  const configText = kvs.find((kv) => kv.key === configKey(prefix))?.value;
  if (configText === undefined) return [];
  const config = parseNetworkConfig(configText, configKey(prefix));
  const out: EtcdLeaseView[] = [];
  for (const kv of kvs) {
    if (!kv.key.startsWith(subnetsDir(prefix))) continue;
    const parsed = parseSubnetEntry(prefix, kv.key, kv.value, config);
    if (!('lease' in parsed)) continue;
    const l = parsed.lease;
    out.push({ subnet: l.subnet && formatCidr(l.subnet, false), subnet6: l.subnet6 && formatCidr6(l.subnet6, false), publicIp: formatIPv4(l.publicIp) });
  }
  return out;
}

export class LabReader {
  private readonly answered = new Set<string>();
  private readonly lastDrops = new Map<string, CounterReading>();
  private readonly lastBytes = new Map<string, CounterReading>();
  private leases?: EtcdLeaseView[] | { error: string };
  private leasesReadAt = 0;
  private leasesReading = false;

  constructor(readonly labName: string) {}

  /** One snapshot of the lab now. @throws TunDriverError `TUN_ERR_LAB` when the lab is no longer up. */
  async read(): Promise<ClusterSnapshot> {
    const state = readLabState(this.labName);
    if (!state) throw new TunDriverError('TUN_ERR_LAB', `lab "${this.labName}" is no longer up`);
    const at = Date.now();
    const readings = new Map<string, HostReading>();
    await Promise.all(state.nodes.filter((n) => n.kind === 'host').map(async (host) => {
      const reading: HostReading = { daemons: await this.readDaemons(host.name, host.netns, at), answeredBefore: this.answered.has(host.name) };
      if (reading.daemons.some((d) => 'status' in d)) this.answered.add(host.name);
      readings.set(host.name, reading);
    }));
    if (state.topology.etcd) this.refreshLeases(state.name, at);
    return buildSnapshot(state, readings, state.topology.etcd ? this.leases ?? [] : undefined, at);
  }

  private async readDaemons(host: string, netns: string, at: number): Promise<DaemonReading[]> {
    return Promise.all(listControlSocketsIn(netns).map(async ({ device, path }): Promise<DaemonReading> => {
      try {
        const status = (await queryStatus(path, 1000)) as DaemonStatus;
        const key = `${host}/${device}`;
        const dropsPerSecond = counterRates(this.lastDrops.get(key), status.counters.dropped, at);
        this.lastDrops.set(key, { at, counts: status.counters.dropped });
        if (status.mode !== 'relay') return { status, dropsPerSecond };
        // The relay reports packet rates only: its byte rates come from its byte counters here.
        const bytes = { tx: status.counters.requestBytes, rx: status.counters.replyBytes };
        const perSecond = counterRates(this.lastBytes.get(key), bytes, at);
        this.lastBytes.set(key, { at, counts: bytes });
        return { status, dropsPerSecond, bytesPerSecond: { tx: perSecond.tx ?? 0, rx: perSecond.rx ?? 0 } };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return { device, error: code === 'ECONNREFUSED' ? 'no daemon behind its control socket (stopped without cleaning up)' : (err as Error).message };
      }
    }));
  }

  /** Starts a re-read of etcd's leases when the last one is old enough; the snapshot uses the latest that finished. */
  private refreshLeases(lab: string, at: number): void {
    if (this.leasesReading || at - this.leasesReadAt < ETCD_EVERY_MS) return;
    this.leasesReading = true;
    this.leasesReadAt = at;
    labEtcdctl(Lab.open(lab), ['get', '--prefix', `${DEFAULT_ETCD_PREFIX}/`, '-w', 'json'], undefined, 3000)
      .then((r) => {
        this.leases = r.code === 0 ? parseEtcdctlLeases(r.stdout) : { error: (r.stderr.trim().split('\n').pop() ?? '') || `etcdctl exited ${r.code}` };
      })
      .catch((err: Error) => {
        this.leases = { error: err.message };
      })
      .finally(() => (this.leasesReading = false));
  }
}
