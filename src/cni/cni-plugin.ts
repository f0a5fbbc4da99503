// tun-driver-cni: what a container runtime calls for every pod. It reads
// the node's subnet.env (written by the overlay daemon), builds a bridge +
// host-local delegate configuration and runs that standard plugin, as
// flannel's CNI plugin does. One call in, one answer out: the spec's
// result or error JSON on stdout and an exit code.
import { readSubnetEnv, SubnetEnv } from '../subnet/etcd/subnet-env.js';
import { CNI_CODE, CniError } from './cni-error.js';
import { delegateConf } from './delegate-conf.js';
import { loadDelegate, removeDelegate, saveDelegate } from './delegate-store.js';
import { CniCommand, findPlugin, invokePlugin } from './invoke-plugin.js';
import { CNI_NAME, JsonObject, NetConf, parseNetConf, SUPPORTED_VERSIONS, versionOf } from './net-conf.js';

/** What the plugin prints on stdout and its exit code. */
export interface CniAnswer {
  stdout: string;
  exitCode: number;
}

/** The CNI_* variables a command needs, checked (code 4 names the one that is wrong). */
interface CniArgs {
  containerId: string;
  ifname: string;
  cniPath: string;
}

function cniArgs(env: NodeJS.ProcessEnv, command: CniCommand): CniArgs {
  const need = (key: string): string => {
    const v = env[key];
    if (v === undefined || v === '') throw new CniError(CNI_CODE.INVALID_ENV, `${key} is not set (a runtime sets it for ${command})`);
    return v;
  };
  const containerId = need('CNI_CONTAINERID');
  // It names a file in dataDir: the spec allows only these characters.
  if (!CNI_NAME.test(containerId)) throw new CniError(CNI_CODE.INVALID_ENV, `CNI_CONTAINERID "${containerId}" must be letters, digits, "_", "." and "-"`);
  const ifname = need('CNI_IFNAME');
  if (ifname.length > 15 || /[/:\s]/.test(ifname) || ifname === '.' || ifname === '..') throw new CniError(CNI_CODE.INVALID_ENV, `CNI_IFNAME "${ifname}" is not an interface name (at most 15 characters, no "/", ":" or spaces)`);
  // DEL may come without a namespace (the pod is gone); ADD and CHECK need one.
  if (command !== 'DEL') need('CNI_NETNS');
  return { containerId, ifname, cniPath: need('CNI_PATH') };
}

function nodeSubnet(conf: NetConf): SubnetEnv {
  let env: SubnetEnv | undefined;
  try {
    env = readSubnetEnv(conf.subnetFile);
  } catch (err) {
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot use ${conf.subnetFile}: ${(err as Error).message}`);
  }
  if (!env) throw new CniError(CNI_CODE.TRY_AGAIN_LATER, `${conf.subnetFile} is not there yet: the tun-driver overlay daemon writes it once this node has a subnet`);
  return env;
}

async function add(env: NodeJS.ProcessEnv, conf: NetConf): Promise<string> {
  const args = cniArgs(env, 'ADD');
  const delegate = delegateConf(conf, nodeSubnet(conf));
  const plugin = findPlugin(delegate.type as string, args.cniPath);
  // Saved first: a DEL after a half-finished ADD must still find it.
  saveDelegate(conf.dataDir, args.containerId, args.ifname, delegate);
  try {
    const result = await invokePlugin(plugin, 'ADD', delegate, env);
    JSON.parse(result); // a delegate that answers garbage has failed
    return result;
  } catch (err) {
    // The spec: a failed ADD leaves nothing behind.
    await invokePlugin(plugin, 'DEL', delegate, env).catch(() => undefined);
    removeDelegate(conf.dataDir, args.containerId, args.ifname);
    if (err instanceof SyntaxError) throw new CniError(CNI_CODE.DELEGATE_FAILED, `${delegate.type} ADD printed a result that is not JSON`);
    throw err;
  }
}

async function del(env: NodeJS.ProcessEnv, conf: NetConf): Promise<void> {
  const args = cniArgs(env, 'DEL');
  const delegate = loadDelegate(conf.dataDir, args.containerId, args.ifname);
  // DEL of a container we never added (or already deleted) succeeds.
  if (!delegate) return;
  const withPrev: JsonObject = conf.prevResult ? { ...delegate, prevResult: conf.prevResult } : delegate;
  await invokePlugin(findPlugin(delegate.type as string, args.cniPath), 'DEL', withPrev, env);
  removeDelegate(conf.dataDir, args.containerId, args.ifname);
}

async function check(env: NodeJS.ProcessEnv, conf: NetConf): Promise<void> {
  const args = cniArgs(env, 'CHECK');
  if (conf.cniVersion.startsWith('0.3.')) throw new CniError(CNI_CODE.INCOMPATIBLE_VERSION, `CHECK needs cniVersion 0.4.0 or newer (the configuration says ${conf.cniVersion})`);
  const delegate = loadDelegate(conf.dataDir, args.containerId, args.ifname);
  if (!delegate) throw new CniError(CNI_CODE.UNKNOWN_CONTAINER, `container ${args.containerId} (${args.ifname}) was not added by this plugin, or was deleted`);
  if (!conf.prevResult) throw new CniError(CNI_CODE.INVALID_CONFIG, 'CHECK needs "prevResult" (the result ADD returned)');
  await invokePlugin(findPlugin(delegate.type as string, args.cniPath), 'CHECK', { ...delegate, prevResult: conf.prevResult }, env);
}

/**
 * Runs one CNI command; never throws.
 * `env` holds CNI_COMMAND and the other CNI_* variables, `stdin` the network configuration. Failures come back as the spec's error JSON with exit code 1.
 */
export async function runCniPlugin(env: NodeJS.ProcessEnv, stdin: string): Promise<CniAnswer> {
  const command = env.CNI_COMMAND;
  const answerVersion = versionOf(stdin);
  try {
    if (command === 'VERSION') {
      return { stdout: JSON.stringify({ cniVersion: answerVersion, supportedVersions: SUPPORTED_VERSIONS }), exitCode: 0 };
    }
    if (command !== 'ADD' && command !== 'DEL' && command !== 'CHECK') {
      throw new CniError(CNI_CODE.INVALID_ENV, command ? `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, VERSION` : 'CNI_COMMAND is not set: this is a CNI plugin, run by a container runtime (see docs/kubernetes.md)');
    }
    const conf = parseNetConf(stdin);
    if (command === 'ADD') return { stdout: await add(env, conf), exitCode: 0 };
    if (command === 'DEL') await del(env, conf);
    else await check(env, conf);
    return { stdout: '', exitCode: 0 };
  } catch (err) {
    const cniErr = err instanceof CniError ? err : new CniError(CNI_CODE.IO_FAILURE, (err as Error).message ?? String(err));
    return { stdout: JSON.stringify(cniErr.toJSON(answerVersion)), exitCode: 1 };
  }
}
