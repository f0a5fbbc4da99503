// The overlay's etcd control plane as production runs it: the lab's etcd
// over TLS with client certificates required (clients and peers) and RBAC
// on (`lab up --etcd --etcd-tls`), nodes joining with flannel's
// --etcd-cafile / --etcd-certfile / --etcd-keyfile, and every way a node
// can be refused, each one line, exit 2, and no lease left behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labEtcdEndpoints } from '../../src/lab/lab-etcd.js';
import { labEtcdTls } from '../../src/lab/lab-etcd-tls.js';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { ping } from '../../harness/daemon-harness.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

let cluster: OverlayCluster;
let scratch: string;
const PREFIX = '/coreos.com/network';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A key and certificate for CN `cn`, signed by the CA whose files are given (self-signed when none). */
function certificate(dir: string, cn: string, ca?: { cert: string; key: string }, extensions = ['extendedKeyUsage=clientAuth']): { cert: string; key: string } {
  const cert = join(dir, `${cn}.pem`);
  const key = join(dir, `${cn}-key.pem`);
  const signer = ca ? ['-CA', ca.cert, '-CAkey', ca.key] : [];
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`, ...signer, ...extensions.flatMap((e) => ['-addext', e])], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { cert, key };
}

function overlayArgs(host: number, security: string[], extra: string[] = []): string[] {
  return ['overlay', '--etcd-endpoints', labEtcdEndpoints(cluster.lab).join(','), ...security, '--public-ip', `198.51.100.${host}`, '--tun', 'tlsbad0', '--subnet-file', join(scratch, `bad-${host}.env`), '--etcd-timeout', '4', ...extra];
}

async function leaseCount(): Promise<number> {
  return (await cluster.etcdctl('lease', 'list')).trim().split('\n').length - 1;
}

describe('tun-driver overlay with etcd over TLS, client certificates and RBAC', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('etcdtls'), 3, 1, { etcd: true, etcdTls: true });
    scratch = mkdtempSync(join(tmpdir(), 'tdlab-etcdtls-'));
  });
  after(async () => {
    await cluster?.down();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('the lab: https endpoints, client certificates required, RBAC on, and the node role may write only under the network prefix', async () => {
    assert.ok(labEtcdEndpoints(cluster.lab).every((e) => e.startsWith('https://')));
    assert.match(await cluster.etcdctl('role', 'get', 'tdlab-node'), /KV Write:\s+\[\/coreos\.com\/network\/, \/coreos\.com\/network0\)/);
    const files = labEtcdTls(cluster.lab.name);
    const asNode = (...args: string[]) => cluster.lab.run('host-1', 'etcdctl', ['--endpoints', labEtcdEndpoints(cluster.lab)[0], '--cacert', files.ca, '--cert', files.nodeCert, '--key', files.nodeKey, '--dial-timeout', '2s', ...args]);
    // RBAC is on: the node certificate's user may read the network config and write under the prefix, nothing else.
    assert.equal((await asNode('get', `${PREFIX}/config`)).code, 0);
    const elsewhere = await asNode('put', '/elsewhere', 'x');
    assert.notEqual(elsewhere.code, 0);
    assert.match(elsewhere.stderr, /permission denied/);
    // Without a client certificate etcd does not even answer.
    const r = await cluster.lab.run('host-1', 'etcdctl', ['--endpoints', labEtcdEndpoints(cluster.lab)[0], '--cacert', files.ca, '--dial-timeout', '2s', 'get', `${PREFIX}/config`]);
    assert.notEqual(r.code, 0);
  });

  test('nodes join over TLS with the node certificate: leases, routes, a watch that sees the next node, pods across', async () => {
    await cluster.start(1);
    await cluster.start(2);
    const run1 = cluster.daemons.get(1)!;
    assert.match(run1.stderr(), /etcd \(TLS, client certificate\): holding 10\.244\.\d+\.0\/24/);
    const records = (await cluster.etcdctl('get', '--prefix', `${PREFIX}/subnets/`, '--keys-only')).trim().split('\n').filter(Boolean);
    assert.equal(records.length, 2);
    await cluster.start(3);
    let peers: string[] = [];
    for (let i = 0; i < 50 && peers.length < 2; i++) {
      peers = await cluster.peers(1);
      if (peers.length < 2) await sleep(100);
    }
    assert.equal(peers.length, 2, 'host-1 saw host-3 join through its watch');
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '3', '-i', '0.1', '-W', '2', cluster.podIp(3, 1)])).received, 3);
    assert.equal((await ping(cluster.lab, 'host-3-pod1', ['-c', '3', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)])).received, 3);
  });

  test('certificate files rotated on disk and picked up on SIGHUP: a new client, the subnet key never gone; a bad file keeps the old one', async () => {
    const files = labEtcdTls(cluster.lab.name);
    const ca = { cert: files.ca, key: join(files.dir, 'ca-key.pem') };
    // host-2 runs on copies of the node certificate that the test can replace.
    const certFile = join(scratch, 'host-2.pem');
    const keyFile = join(scratch, 'host-2-key.pem');
    copyFileSync(files.nodeCert, certFile);
    copyFileSync(files.nodeKey, keyFile);
    await cluster.stop(2);
    const run = await cluster.start(2, ['--etcd-certfile', certFile, '--etcd-keyfile', keyFile]);
    const keyOf = async (): Promise<{ key: string; lease: string } | undefined> => {
      const out = await cluster.etcdctl('get', '--prefix', `${PREFIX}/subnets/`, '-w', 'json');
      const kv = (JSON.parse(out).kvs ?? []).find((k: { value: string }) => JSON.parse(Buffer.from(k.value, 'base64').toString()).PublicIP === '198.51.100.2');
      if (!kv) return undefined;
      const key = Buffer.from(kv.key, 'base64').toString();
      // Lease IDs pass 2^53: read the digits, not a JSON number.
      const lease = /"lease":(\d+)/.exec(await cluster.etcdctl('get', key, '-w', 'json'))?.[1];
      return lease === undefined ? undefined : { key, lease };
    };
    const before = (await keyOf())!;
    assert.ok(before, 'host-2 holds a key');
    // A new certificate for the same user (CN node), from the lab's CA, written over the files.
    const fresh = certificate(scratch, 'node', ca);
    copyFileSync(fresh.cert, certFile);
    copyFileSync(fresh.key, keyFile);
    const serial = new X509Certificate(readFileSync(certFile)).serialNumber;
    // Watch the key while the daemon reconnects: it must never be missing.
    let missing = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (!(await keyOf())) missing++;
        await sleep(20);
      }
    })();
    run.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !/SIGHUP: reconnected to etcd/.test(run.stderr()); i++) await sleep(100);
    await sleep(300);
    watching = false;
    await watcher;
    assert.match(run.stderr(), new RegExp(`SIGHUP: reconnected to etcd with the certificate in --etcd-certfile \\(CN=node, serial ${serial}\\)`), run.stderr());
    const after = (await keyOf())!;
    assert.equal(after.key, before.key, 'the same subnet');
    assert.notEqual(after.lease, before.lease, 'under a lease of the new client');
    assert.equal(missing, 0, 'the subnet key was never absent');
    assert.match(await cluster.etcdctl('lease', 'timetolive', BigInt(before.lease).toString(16)), /already expired/, 'the old lease is gone');
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '2', '-i', '0.1', '-W', '2', cluster.podIp(2, 1)])).received, 2);
    // A key file that does not parse: the daemon says so and keeps the connection it has.
    writeFileSync(keyFile, 'not a key\n');
    run.child.kill('SIGHUP');
    for (let i = 0; i < 50 && !/SIGHUP: keeping the current etcd credentials/.test(run.stderr()); i++) await sleep(100);
    assert.match(run.stderr(), /SIGHUP: keeping the current etcd credentials/);
    assert.deepEqual(await keyOf(), after);
    assert.equal(run.child.exitCode, null, 'still running');
  });

  test('refused: no client certificate, a certificate from another CA, etcd\'s certificate from another CA, a wrong password, a role that may not write: one line, exit 2, no lease left', async () => {
    const files = labEtcdTls(cluster.lab.name);
    const otherCa = certificate(scratch, 'other-ca', undefined, ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign']);
    const stranger = certificate(scratch, 'node', otherCa);
    // A user whose role may read the network but not write it (its certificate from the lab's CA).
    await cluster.etcdctl('user', 'add', 'reader', '--no-password');
    await cluster.etcdctl('role', 'add', 'tdlab-reader');
    await cluster.etcdctl('role', 'grant-permission', 'tdlab-reader', '--prefix=true', 'read', `${PREFIX}/`);
    await cluster.etcdctl('user', 'grant-role', 'reader', 'tdlab-reader');
    const reader = certificate(scratch, 'reader', { cert: files.ca, key: join(files.dir, 'ca-key.pem') });
    const leasesBefore = await leaseCount();
    const cases: Array<[string, string[], RegExp]> = [
      ['no client certificate', ['--etcd-cafile', files.ca], /TLS: etcd refused this node's client certificate/],
      ['a client certificate from another CA', ['--etcd-cafile', files.ca, '--etcd-certfile', stranger.cert, '--etcd-keyfile', stranger.key], /TLS: etcd refused this node's client certificate/],
      ["etcd's certificate checked against another CA", ['--etcd-cafile', otherCa.cert, '--etcd-certfile', files.nodeCert, '--etcd-keyfile', files.nodeKey], /TLS: etcd's certificate does not verify .*give --etcd-cafile/],
      ['a wrong password', ['--etcd-cafile', files.ca, '--etcd-certfile', files.nodeCert, '--etcd-keyfile', files.nodeKey, '--etcd-username', 'node', '--etcd-password', 'wrong'], /authentication failed \(.*\): check --etcd-username and --etcd-password/],
      ['a role that may not write the prefix', ['--etcd-cafile', files.ca, '--etcd-certfile', reader.cert, '--etcd-keyfile', reader.key], /permission denied: .*grant-permission/],
    ];
    for (const [what, security, message] of cases) {
      const started = Date.now();
      const r = await cluster.lab.run('host-1', process.execPath, [CLI, ...overlayArgs(1, security)], 30_000);
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
      console.log(`refused, ${what}, in ${Date.now() - started} ms: ${r.stderr.trim()}`);
      assert.equal((await cluster.lab.run('host-1', 'ip', ['link', 'show', 'tlsbad0'])).code, 1, `${what}: no device left`);
    }
    assert.equal(await leaseCount(), leasesBefore, 'no lease left behind');
    // Flags that do not fit together are caught before etcd is asked.
    for (const [security, message] of [
      [['--etcd-certfile', files.nodeCert], /--etcd-certfile needs --etcd-keyfile too/],
      [['--etcd-cafile', join(scratch, 'missing.pem')], /--etcd-cafile .*missing\.pem: no such file/],
      [['--etcd-username', 'node'], /--etcd-username needs --etcd-password too/],
    ] as Array<[string[], RegExp]>) {
      const r = await cluster.lab.run('host-1', process.execPath, [CLI, ...overlayArgs(1, security)]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
  });
});
