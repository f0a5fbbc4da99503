// What a lab is made of, recorded before anything is built so `lab down`
// can remove it all even after the process that built it crashed.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Topology } from './topology.js';

/** Where labs' state files live: TUN_DRIVER_STATE_DIR when set (read when asked, not at import), else /run/tun-driver/labs. */
export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TUN_DRIVER_STATE_DIR ?? '/run/tun-driver/labs';
}

/** What a lab node is. */
export type NodeKind = 'switch' | 'host' | 'router' | 'pod';

/** One node of a lab: its namespace and addresses (for pods, what the CNI plugin returned). */
export interface LabNode {
  name: string;
  kind: NodeKind;
  netns: string;
  /** Addresses with prefix length, e.g. ["198.51.100.1/24"]. */
  addresses: string[];
  /** For pods: the host they hang off. */
  host?: string;
  /** For pods added through tun-driver-cni: the configuration and the result, for CHECK and DEL. */
  cni?: { conf: Record<string, unknown>; result: Record<string, unknown> };
}

/** What `lab up` records under /run/tun-driver/labs before it builds anything, so `lab down` can always clean up. */
export interface LabState {
  name: string;
  createdAt: string;
  /** PID of the process that built it (for diagnosis only). */
  builtBy: number;
  topology: Topology;
  nodes: LabNode[];
}

const statePath = (lab: string): string => join(labStateDir(), `${lab}.json`);

export function writeLabState(state: LabState): void {
  mkdirSync(labStateDir(), { recursive: true, mode: 0o700 });
  writeFileSync(statePath(state.name), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

export function readLabState(lab: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(lab), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** A directory for the lab's files (etcd data and logs, subnet.env), removed with the lab. */
export function labFilesDir(lab: string): string {
  return join(labStateDir(), lab);
}

export function removeLabState(lab: string): void {
  rmSync(statePath(lab), { force: true });
  rmSync(labFilesDir(lab), { recursive: true, force: true });
}

export function listLabStates(): LabState[] {
  let files: string[];
  try {
    files = readdirSync(labStateDir());
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => readLabState(f.slice(0, -5)))
    .filter((s): s is LabState => s !== undefined);
}
