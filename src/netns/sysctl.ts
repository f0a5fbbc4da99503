// sysctls under /proc/sys, read and written from inside a namespace when
// one is named (/proc/sys/net resolves against the opening thread's netns,
// hence the synchronous fs calls inside withNetns).
import { readFileSync, writeFileSync } from 'node:fs';
import { withNetns } from './netns.js';

/** As sysctl(8): `net.ipv4.ip_forward`, or with slashes where a part has dots of its own (`net/ipv4/conf/flannel.1/rp_filter`). */
const sysctlPath = (key: string): string => `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;

export function sysctlRead(key: string, netns?: string): string {
  const read = (): string => readFileSync(sysctlPath(key), 'utf8').trim();
  return netns ? withNetns(netns, read) : read();
}

export function sysctlWrite(key: string, value: string | number, netns?: string): void {
  const write = (): void => writeFileSync(sysctlPath(key), `${value}\n`);
  if (netns) withNetns(netns, write);
  else write();
}
