// etcd inside a lab: one member per host listed in the topology's `etcd`,
// listening on the host's underlay address, data and log under the lab's
// files directory. Started detached by `lab up`, stopped by `lab down`
// (which kills every process in the lab's namespaces).
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TunDriverError } from '../errors.js';
import { netnsPids, spawnInNetns } from '../netns/processes.js';
import { DEFAULT_ETCD_PREFIX, configKey } from '../subnet/etcd/subnet-keys.js';
import { formatCidr, parseCidr } from '../packet/addr.js';
import { formatCidr6 } from '../packet/addr6.js';
import type { LabState } from './state.js';
import { labFilesDir } from './state.js';
import { etcdctlTlsFlags, etcdTlsFlags, labEtcdTls, makeLabEtcdTls, rbacCommands } from './lab-etcd-tls.js';
import { POD_NETWORK, POD_NETWORK6 } from './topology.js';

/** What the etcd helpers need of a lab (the Lab class has it; lab.ts starts etcd through these, so they cannot import it). */
export interface EtcdLab {
  readonly name: string;
  readonly state: LabState;
  /** The named node's namespace. */
  ns(node: string): string;
  /** The named node's first IPv4 address. */
  address(node: string): string;
  run(node: string, command: string, args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;

/**
 * The network config `lab up --etcd` stores: the lab's pod network, with
 * subnets the size of the hosts' pod subnets (/24 unless a topology file
 * says otherwise), and the overlay's default port; with `"ipv6": true`,
 * flannel's dual-stack fields (EnableIPv6, IPv6Network fd00:10:244::/48),
 * and with `"ipv4": false` as well, an IPv6-only network (EnableIPv4 false, no Network).
 */
function labNetworkConfig(lab: EtcdLab): string {
  const lengths = new Set(lab.state.topology.hosts.flatMap((h) => (h.pods ? [parseCidr(h.pods.subnet).length] : [])));
  if (lengths.size > 1) throw new TunDriverError('TUN_ERR_LAB', `lab ${lab.name}: with etcd, every host's pod subnet must have the same length (the network config has one SubnetLen)`);
  const subnetLen = lengths.size === 1 ? [...lengths][0] : 24;
  const etcd = lab.state.topology.etcd;
  const ipv6 = etcd?.ipv6 ? { EnableIPv6: true, IPv6Network: formatCidr6(POD_NETWORK6, false) } : {};
  const ipv4 = etcd?.ipv4 === false ? { EnableIPv4: false } : { Network: formatCidr(POD_NETWORK, false), SubnetLen: subnetLen };
  const backend = lab.state.topology.backend ?? 'udp';
  // Each backend's fields as flannel's docs give them; the kernel picks vxlan's port (8472) and VNI 1 by default.
  const fields = backend === 'udp' ? { Type: 'udp', Port: 8285 } : backend === 'vxlan' ? { Type: 'vxlan', VNI: 1 } : { Type: backend };
  return JSON.stringify({ ...ipv4, ...ipv6, Backend: fields });
}

function members(lab: EtcdLab): string[] {
  const etcd = lab.state.topology.etcd;
  if (!etcd) throw new TunDriverError('TUN_ERR_LAB', `lab ${lab.name} has no etcd (build it with: tun-driver lab up --preset cluster --etcd)`);
  return etcd.members;
}

const usesTls = (lab: EtcdLab): boolean => lab.state.topology.etcd?.tls === true;
const scheme = (lab: EtcdLab): string => (usesTls(lab) ? 'https' : 'http');

/** Client URLs of the lab's etcd members, for --etcd-endpoints. */
export function labEtcdEndpoints(lab: EtcdLab): string[] {
  return members(lab).map((m) => `${scheme(lab)}://${lab.address(m)}:${ETCD_CLIENT_PORT}`);
}

/** What an overlay node needs besides --etcd-endpoints: with TLS, the CA and the "node" client certificate (flannel's flags). */
export function labEtcdClientFlags(lab: EtcdLab): string[] {
  if (!usesTls(lab)) return [];
  const f = labEtcdTls(lab.name);
  return ['--etcd-cafile', f.ca, '--etcd-certfile', f.nodeCert, '--etcd-keyfile', f.nodeKey];
}

/** Where host `host` keeps its subnet.env in this lab (each node needs its own). */
export function labSubnetFile(lab: EtcdLab, host: string): string {
  return join(labFilesDir(lab.name), host, 'subnet.env');
}

/** Where member `member` logs. */
export function labEtcdLog(lab: EtcdLab, member: string): string {
  return join(labFilesDir(lab.name), `etcd-${member}.log`);
}

/**
 * Starts member `member` in the background. `state` is 'new' when the lab
 * is built, 'existing' to restart a member that was stopped (its data dir
 * remembers the cluster).
 */
export function startEtcdMember(lab: EtcdLab, member: string, state: 'new' | 'existing' = 'new'): number {
  const all = members(lab);
  if (!all.includes(member)) throw new TunDriverError('TUN_ERR_LAB', `${member} is not an etcd member of lab ${lab.name} (members: ${all.join(', ')})`);
  const peer = (m: string): string => `${scheme(lab)}://${lab.address(m)}:${ETCD_PEER_PORT}`;
  const client = `${scheme(lab)}://${lab.address(member)}:${ETCD_CLIENT_PORT}`;
  const dir = labFilesDir(lab.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = openSync(labEtcdLog(lab, member), 'a');
  try {
    const child = spawnInNetns(lab.ns(member), 'etcd', [
      '--name', member,
      '--data-dir', join(dir, `etcd-${member}.data`),
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer(member),
      '--initial-advertise-peer-urls', peer(member),
      '--initial-cluster', all.map((m) => `${m}=${peer(m)}`).join(','),
      '--initial-cluster-state', state,
      '--initial-cluster-token', `tdlab-${lab.name}`,
      // One machine, one bridge: elections can be quick.
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      ...(usesTls(lab) ? etcdTlsFlags(lab.name, member) : []),
    ], { detached: true, stdio: ['ignore', log, log] });
    child.on('error', () => undefined);
    child.unref();
    if (child.pid === undefined) throw new TunDriverError('TUN_ERR_LAB', "cannot start etcd: is it installed? (apt-get install etcd-server)");
    return child.pid;
  } finally {
    closeSync(log);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stops member `member` (SIGTERM, as a crash test or maintenance would) and waits until it is gone. */
export async function stopEtcdMember(lab: EtcdLab, member: string): Promise<void> {
  const isEtcd = (pid: number): boolean => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'etcd';
    } catch {
      return false;
    }
  };
  const pids = netnsPids(lab.ns(member)).filter(isEtcd);
  for (const pid of pids) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pids.some(isEtcd)) {
    if (Date.now() > deadline) throw new TunDriverError('TUN_ERR_LAB', `etcd member ${member} did not stop within 10 s`);
    await sleep(50);
  }
}

/** Runs etcdctl against the lab's etcd from member host `from`. */
export function labEtcdctl(lab: EtcdLab, args: string[], from = members(lab)[0], timeoutMs = 10_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return lab.run(from, 'etcdctl', ['--endpoints', labEtcdEndpoints(lab).join(','), '--dial-timeout', '2s', ...(usesTls(lab) ? etcdctlTlsFlags(lab.name) : []), ...args], timeoutMs);
}

/** Waits until every member answers health checks (the cluster has a leader). */
export async function waitForEtcd(lab: EtcdLab, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await labEtcdctl(lab, ['endpoint', 'health', '--command-timeout', '1s']);
    if (r.code === 0) return;
    last = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
    await sleep(200);
  }
  throw new TunDriverError('TUN_ERR_LAB', `etcd in lab ${lab.name} did not become healthy within ${timeoutMs / 1000} s: ${last} (logs: ${labEtcdLog(lab, members(lab)[0])})`);
}

/**
 * Starts every member, waits for a healthy cluster and stores the lab's
 * network config under flannel's default prefix. Nothing else: each node's
 * daemon takes whatever subnet etcd gives it, writes its subnet.env, and
 * only then are its pods added (lab-pods.ts), as on a real node.
 */
export async function startLabEtcd(lab: EtcdLab): Promise<void> {
  const config = labNetworkConfig(lab);
  if (usesTls(lab)) makeLabEtcdTls(lab.name, members(lab).map((m) => ({ name: m, address: lab.address(m) })));
  for (const m of members(lab)) startEtcdMember(lab, m);
  await waitForEtcd(lab);
  const put = await labEtcdctl(lab, ['put', configKey(DEFAULT_ETCD_PREFIX), config]);
  if (put.code !== 0) throw new TunDriverError('TUN_ERR_LAB', `cannot store the network config in the lab's etcd: ${put.stderr.trim()}`);
  if (!usesTls(lab)) return;
  for (const args of rbacCommands(DEFAULT_ETCD_PREFIX)) {
    const r = await labEtcdctl(lab, args);
    if (r.code !== 0) throw new TunDriverError('TUN_ERR_LAB', `etcdctl ${args.join(' ')}: ${r.stderr.trim()}`);
  }
}
