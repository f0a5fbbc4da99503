// `lab up --etcd --etcd-tls`: the lab's etcd as production runs it. A CA of
// the lab's own signs a server certificate per member (its underlay address
// as the subject alternative name, for clients and peers) and two client
// certificates: "root", which the lab uses to set etcd up, and "node", which
// overlay daemons use. etcd requires client certificates
// (--client-cert-auth, peers too) and, with RBAC enabled, takes a client
// certificate's CN as its user: "node" holds one role, allowed to read and
// write under the network prefix and nothing else. Everything lives in the
// lab's files directory (mode 0700) and goes with `lab down`.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TunDriverError } from '../errors.js';
import { labFilesDir } from './state.js';

/** The PEM files of a lab's etcd TLS: the CA, and each client's certificate and key. */
export interface LabEtcdTls {
  dir: string;
  ca: string;
  /** What overlay daemons use: CN "node", the role that may write only under the network prefix. */
  nodeCert: string;
  nodeKey: string;
  /** What the lab itself uses (etcdctl): CN "root". */
  rootCert: string;
  rootKey: string;
}

/** The lab's etcd TLS files (they exist once `lab up --etcd-tls` made them). */
export function labEtcdTls(labName: string): LabEtcdTls {
  const dir = join(labFilesDir(labName), 'etcd-tls');
  return { dir, ca: join(dir, 'ca.pem'), nodeCert: join(dir, 'node.pem'), nodeKey: join(dir, 'node-key.pem'), rootCert: join(dir, 'root.pem'), rootKey: join(dir, 'root-key.pem') };
}

/** A member's server certificate and key. */
export function memberCert(labName: string, member: string): { cert: string; key: string } {
  const { dir } = labEtcdTls(labName);
  return { cert: join(dir, `${member}.pem`), key: join(dir, `${member}-key.pem`) };
}

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new TunDriverError('TUN_ERR_LAB', `openssl ${args[0]} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()} (is openssl installed?)`);
}

/** A key and a certificate for `cn`, signed by the lab's CA (self-signed for the CA itself). */
function issue(files: LabEtcdTls, cn: string, cert: string, key: string, extensions: string[]): void {
  const signer = cn === 'tdlab-etcd-ca' ? [] : ['-CA', files.ca, '-CAkey', join(files.dir, 'ca-key.pem')];
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '7', '-subj', `/CN=${cn}`, ...signer, ...extensions.flatMap((e) => ['-addext', e])]);
}

/**
 * Makes the CA, a server certificate per member (`members`: name and
 * underlay address) and the root and node client certificates.
 */
export function makeLabEtcdTls(labName: string, members: ReadonlyArray<{ name: string; address: string }>): LabEtcdTls {
  const files = labEtcdTls(labName);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  issue(files, 'tdlab-etcd-ca', files.ca, join(files.dir, 'ca-key.pem'), ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const m of members) {
    const { cert, key } = memberCert(labName, m.name);
    issue(files, m.name, cert, key, [`subjectAltName=IP:${m.address}`, 'extendedKeyUsage=serverAuth,clientAuth', 'basicConstraints=CA:FALSE']);
  }
  issue(files, 'root', files.rootCert, files.rootKey, ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE']);
  issue(files, 'node', files.nodeCert, files.nodeKey, ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE']);
  return files;
}

/** etcd's own TLS flags for member `member`: clients and peers both need certificates from the lab's CA. */
export function etcdTlsFlags(labName: string, member: string): string[] {
  const { ca } = labEtcdTls(labName);
  const { cert, key } = memberCert(labName, member);
  return ['--cert-file', cert, '--key-file', key, '--trusted-ca-file', ca, '--client-cert-auth', '--peer-cert-file', cert, '--peer-key-file', key, '--peer-trusted-ca-file', ca, '--peer-client-cert-auth'];
}

/** etcdctl's flags to talk to the lab's etcd as root. */
export function etcdctlTlsFlags(labName: string): string[] {
  const f = labEtcdTls(labName);
  return ['--cacert', f.ca, '--cert', f.rootCert, '--key', f.rootKey];
}

/** The role overlay daemons' user ("node") holds: read and write under `prefix`/, nothing else. */
export const NODE_ROLE = 'tdlab-node';

/** The etcdctl commands that turn RBAC on: root, the node user and its role, then `auth enable`. */
export function rbacCommands(prefix: string): string[][] {
  return [
    ['user', 'add', 'root', '--no-password'],
    ['user', 'grant-role', 'root', 'root'],
    ['role', 'add', NODE_ROLE],
    ['role', 'grant-permission', NODE_ROLE, '--prefix=true', 'readwrite', `${prefix}/`],
    ['user', 'add', 'node', '--no-password'],
    ['user', 'grant-role', 'node', NODE_ROLE],
    ['auth', 'enable'],
  ];
}
