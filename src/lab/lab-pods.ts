// Pods the way a container runtime makes them: the lab calls the
// tun-driver-cni plugin (found in CNI_PATH, configuration on stdin, CNI_*
// in the environment) from the pod's host namespace, with the pod's
// namespace as CNI_NETNS. That works only once the host's overlay daemon
// has written its subnet.env; until then the plugin answers "try again
// later" (code 11), as it would to a kubelet.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CniCommand, findPlugin, invokePlugin } from '../cni/invoke-plugin.js';
import { isObject, JsonObject } from '../cni/net-conf.js';
import { TunDriverError } from '../errors.js';
import { netnsPath, withNetns } from '../netns/netns.js';
import type { Lab } from './lab.js';
import { labSubnetFile } from './lab-etcd.js';
import { labFilesDir, LabNode, readLabState, writeLabState } from './state.js';

/** Where Debian's containernetworking-plugins installs bridge, host-local and the rest. */
export const SYSTEM_CNI_DIR = '/usr/lib/cni';
const PLUGIN_MAIN = fileURLToPath(new URL('../cni/main.js', import.meta.url));

/** What ADD gave a pod. */
export interface PodNetwork {
  pod: string;
  /** "10.244.1.2/24", as the plugin returned it (the first address). */
  address: string;
  /** Every address the plugin gave: one of each family on a dual-stack node. */
  addresses: string[];
  gateway?: string;
  /** The plugin's whole result (CHECK and DEL send it back as prevResult). */
  result: JsonObject;
}

/**
 * The lab's CNI_PATH: a directory holding a `tun-driver-cni` launcher for
 * this very installation, then the system's plugins.
 */
export function labCniPath(lab: Lab): string {
  const dir = join(labFilesDir(lab.name), 'cni-bin');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const launcher = join(dir, 'tun-driver-cni');
  const script = `#!/bin/sh\nexec '${process.execPath}' '${PLUGIN_MAIN}' "$@"\n`;
  // Pods are added concurrently: never rewrite the launcher in place while another ADD may be exec'ing it.
  if (!existsSync(launcher) || readFileSync(launcher, 'utf8') !== script) {
    writeFileSync(`${launcher}.${process.pid}.tmp`, script, { mode: 0o755 });
    renameSync(`${launcher}.${process.pid}.tmp`, launcher);
  }
  return `${dir}:${SYSTEM_CNI_DIR}`;
}

/**
 * The network configuration host `host` gives the plugin: flannel's
 * 10-flannel.conflist entry, with the host's own subnet.env, state and
 * IPAM directories (lab hosts share one file system). `delegate` is merged
 * over ours (e.g. {"mtu": 1500}).
 */
export function labCniConf(lab: Lab, host: string, delegate: JsonObject = {}): JsonObject {
  const dir = join(labFilesDir(lab.name), host);
  return {
    cniVersion: '1.0.0',
    name: `tdlab-${lab.name}`,
    type: 'tun-driver-cni',
    subnetFile: labSubnetFile(lab, host),
    dataDir: join(dir, 'cni'),
    delegate: { hairpinMode: true, isDefaultGateway: true, ipam: { dataDir: join(dir, 'ipam') }, ...delegate },
  };
}

function podNode(lab: Lab, pod: string): LabNode & { host: string } {
  const node = lab.node(pod);
  if (node.kind !== 'pod' || !node.host) throw new TunDriverError('TUN_ERR_LAB', `${pod} is not a pod of lab ${lab.name}`);
  return node as LabNode & { host: string };
}

function runPlugin(lab: Lab, node: LabNode & { host: string }, command: CniCommand, conf: JsonObject): Promise<string> {
  const cniPath = labCniPath(lab);
  const env = { ...process.env, CNI_CONTAINERID: `${lab.name}-${node.name}`, CNI_NETNS: netnsPath(node.netns), CNI_IFNAME: 'eth0', CNI_PATH: cniPath };
  // The fork happens inside the host's namespace, so the plugin runs there.
  return withNetns(lab.ns(node.host), () => invokePlugin(findPlugin('tun-driver-cni', cniPath), command, conf, env));
}

/** Records what the plugin said about a pod, in memory and in the lab's state file. */
function recordPod(lab: Lab, pod: string, cni: LabNode['cni'], addresses: string[]): void {
  for (const state of [lab.state, readLabState(lab.name)]) {
    const node = state?.nodes.find((n) => n.name === pod);
    if (!node) continue;
    node.addresses = addresses;
    node.cni = cni;
    if (state !== lab.state) writeLabState(state!);
  }
}

/**
 * ADD: rejects with the plugin's CniError (its `code` and message) when it fails.
 * @throws CniError with the plugin's code (11 while the host's subnet.env is missing); TunDriverError `TUN_ERR_LAB` for a node that is not a pod.
 */
export async function addPod(lab: Lab, pod: string, delegate: JsonObject = {}): Promise<PodNetwork> {
  const node = podNode(lab, pod);
  const conf = labCniConf(lab, node.host, delegate);
  const result = JSON.parse(await runPlugin(lab, node, 'ADD', conf)) as JsonObject;
  const ips = (Array.isArray(result.ips) ? result.ips : []).filter(isObject);
  const ip = ips[0];
  if (typeof ip?.address !== 'string') throw new TunDriverError('TUN_ERR_LAB', `tun-driver-cni gave ${pod} no address: ${JSON.stringify(result)}`);
  // On a dual-stack node a pod has one address of each family, IPv4 first.
  const addresses = ips.map((i) => i.address).filter((a): a is string => typeof a === 'string');
  recordPod(lab, pod, { conf, result }, addresses);
  return { pod, address: ip.address, addresses, gateway: typeof ip.gateway === 'string' ? ip.gateway : undefined, result };
}

/**
 * CHECK with the result ADD returned.
 * @throws CniError (the delegate's code when the pod is not as ADD left it); TunDriverError `TUN_ERR_LAB` for a pod never added.
 */
export async function checkPod(lab: Lab, pod: string): Promise<void> {
  const node = podNode(lab, pod);
  if (!node.cni) throw new TunDriverError('TUN_ERR_LAB', `${pod} was never added (tun-driver lab pod add ${pod})`);
  await runPlugin(lab, node, 'CHECK', { ...node.cni.conf, prevResult: node.cni.result });
}

/**
 * DEL: removes the pod's interface and frees its address; a pod never added is fine (the spec's idempotent DEL).
 * @throws CniError when a delegate fails; TunDriverError `TUN_ERR_LAB` for a node that is not a pod.
 */
export async function deletePod(lab: Lab, pod: string): Promise<void> {
  const node = podNode(lab, pod);
  const conf = node.cni ? { ...node.cni.conf, prevResult: node.cni.result } : labCniConf(lab, node.host);
  await runPlugin(lab, node, 'DEL', conf);
  recordPod(lab, pod, undefined, []);
}

/** The pods of a host, in order (host-1-pod1, host-1-pod2, ...). */
export function podsOf(lab: Lab, host: string): string[] {
  return lab.state.nodes.filter((n) => n.kind === 'pod' && n.host === host).map((n) => n.name);
}
