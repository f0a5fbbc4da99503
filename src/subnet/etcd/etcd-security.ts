// How a node proves itself to etcd, with flannel's flags and meanings so
// that scripts written for flannel carry over: --etcd-cafile (the CA that
// signed etcd's server certificate), --etcd-certfile and --etcd-keyfile
// (this node's client certificate, for etcd's --client-cert-auth and, when
// RBAC is on, its user: the certificate's CN), --etcd-username and
// --etcd-password (etcd's password authentication). Each may also come from
// the environment as flannel reads it: FLANNELD_ETCD_CAFILE and so on; a
// flag wins over the environment. Files are read once, up front: a missing
// or unreadable one is a one-line usage error before anything changes.
import { readFileSync } from 'node:fs';
import { TunDriverError } from '../../errors.js';

/** What the etcd client is given: PEM bytes and credentials, and where each came from (for messages). */
export interface EtcdSecurity {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  username?: string;
  password?: string;
  /** The flag (or environment variable) each came from, for error messages. */
  sources: Partial<Record<'ca' | 'cert' | 'key' | 'username' | 'password', string>>;
}

/** The flags, as commander hands them over. */
export interface EtcdSecurityFlags {
  etcdCafile?: string;
  etcdCertfile?: string;
  etcdKeyfile?: string;
  etcdUsername?: string;
  etcdPassword?: string;
}

const SETTINGS = [
  ['ca', 'etcdCafile', '--etcd-cafile', 'FLANNELD_ETCD_CAFILE', true],
  ['cert', 'etcdCertfile', '--etcd-certfile', 'FLANNELD_ETCD_CERTFILE', true],
  ['key', 'etcdKeyfile', '--etcd-keyfile', 'FLANNELD_ETCD_KEYFILE', true],
  ['username', 'etcdUsername', '--etcd-username', 'FLANNELD_ETCD_USERNAME', false],
  ['password', 'etcdPassword', '--etcd-password', 'FLANNELD_ETCD_PASSWORD', false],
] as const;

/**
 * Reads and checks the settings: flags first, then FLANNELD_ETCD_* from `env`.
 * @throws TunDriverError `TUN_ERR_USAGE` naming the flag: an unreadable file, a
 *   certificate without its key (or the reverse), a user without a password
 *   (or the reverse), or TLS files with http:// endpoints.
 */
export function etcdSecurityFrom(flags: EtcdSecurityFlags, env: NodeJS.ProcessEnv, endpoints: readonly string[]): EtcdSecurity {
  const security: EtcdSecurity = { sources: {} };
  for (const [field, flag, name, envName, isFile] of SETTINGS) {
    const fromFlag = flags[flag];
    const value = fromFlag ?? env[envName];
    if (value === undefined || value === '') continue;
    const source = fromFlag !== undefined ? name : `${envName} (${name})`;
    security.sources[field] = source;
    if (!isFile) {
      (security as unknown as Record<string, string>)[field] = value;
      continue;
    }
    try {
      (security as unknown as Record<string, Buffer>)[field] = readFileSync(value);
    } catch (err) {
      throw new TunDriverError('TUN_ERR_USAGE', `${source} ${value}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
  }
  const s = security.sources;
  if (security.cert && !security.key) throw new TunDriverError('TUN_ERR_USAGE', `${s.cert} needs --etcd-keyfile too (the client certificate's private key)`);
  if (security.key && !security.cert) throw new TunDriverError('TUN_ERR_USAGE', `${s.key} needs --etcd-certfile too (the client certificate)`);
  if (security.username !== undefined && security.password === undefined) throw new TunDriverError('TUN_ERR_USAGE', `${s.username} needs --etcd-password too`);
  if (security.password !== undefined && security.username === undefined) throw new TunDriverError('TUN_ERR_USAGE', `${s.password} needs --etcd-username too`);
  const tls = endpoints.some((e) => e.startsWith('https://'));
  if (!tls && (security.ca || security.cert)) {
    throw new TunDriverError('TUN_ERR_USAGE', `${s.ca ?? s.cert} is for TLS: give --etcd-endpoints as https:// URLs`);
  }
  return security;
}

/** One line on how the node reaches etcd, for the start-up log. */
export function describeEtcdSecurity(security: EtcdSecurity, endpoints: readonly string[]): string {
  const parts = [endpoints.some((e) => e.startsWith('https://')) ? 'TLS' : 'plaintext'];
  if (security.cert) parts.push('client certificate');
  if (security.username) parts.push(`user ${security.username}`);
  return parts.join(', ');
}
