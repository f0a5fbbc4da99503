// flannel's /run/flannel/subnet.env: what CNI plugins read to give pods
// addresses, and what the daemon reads back after a restart to ask for
// the same subnet again.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatCidr, formatIPv4, parseCidr, Prefix } from '../packet/addr.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export interface SubnetEnv {
  network: Prefix;
  subnet: Prefix;
  mtu: number;
  ipMasq: boolean;
}

/** The file's text. FLANNEL_SUBNET is the subnet's first address, as flannel writes it (10.244.1.1/24). */
export function formatSubnetEnv(env: SubnetEnv): string {
  return [
    `FLANNEL_NETWORK=${formatCidr(env.network, false)}`,
    `FLANNEL_SUBNET=${formatIPv4(env.subnet.network + 1)}/${env.subnet.length}`,
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq}`,
    '',
  ].join('\n');
}

/** Writes the file whole or not at all (readers never see half of it). */
export function writeSubnetEnv(path: string, env: SubnetEnv): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, formatSubnetEnv(env));
  renameSync(tmp, path);
}

/** The subnet a previous run held, or undefined when there is no (readable) file. */
export function readRememberedSubnet(path: string): Prefix | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^FLANNEL_SUBNET=(\S+)$/m.exec(text);
  if (!m) return undefined;
  try {
    const p = parseCidr(m[1]);
    return { network: p.network, address: p.network, length: p.length };
  } catch {
    return undefined;
  }
}
