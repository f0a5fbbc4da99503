// tun-driver-cni with the real standard plugins (bridge, host-local from
// Debian's containernetworking-plugins) in a cluster lab with an
// "internet" host: pods added after the daemons took their subnets, the
// spec's commands and errors, and --ip-masq seen from outside.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { ping } from '../../harness/daemon-harness.js';
import { startCapture } from '../../harness/capture.js';
import { addPod, checkPod, deletePod, labCniConf, labCniPath, podsOf } from '../../src/lab/lab-pods.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import { labFilesDir } from '../../src/lab/state.js';
import { netnsDelete, netnsPath } from '../../src/netns/netns.js';
import { CniError } from '../../src/cni/cni-error.js';
import { CLI, labName, ROOT_SKIP, scratchNetns } from './helpers.js';

let cluster: OverlayCluster;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const INTERNET = '198.51.100.129';
const PODS_ON_HOST_1 = 20;

/** Runs the plugin as a runtime would, from host-1, with exactly this stdin (which may be broken on purpose). */
function rawPlugin(command: string, stdin: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string }> {
  const child = cluster.lab.spawn('host-1', join(labCniPath(cluster.lab).split(':')[0], 'tun-driver-cni'), [], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, CNI_COMMAND: command, CNI_CONTAINERID: 'raw', CNI_NETNS: netnsPath(cluster.lab.ns('host-1-pod20')), CNI_IFNAME: 'eth0', CNI_PATH: labCniPath(cluster.lab), ...env },
  });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stdin!.end(stdin);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

/** tcpdump in `node` for ICMP echo requests; stop() resolves with the "A > B" pairs it saw. */
async function capture(node: string, iface: string): Promise<{ stop: () => Promise<string[]> }> {
  const c = await startCapture(cluster.lab, node, iface, 'icmp[icmptype] == icmp-echo');
  return { stop: async () => (await c.stop()).flatMap((l) => { const m = /IP (\S+) > (\S+): ICMP echo request/.exec(l); return m ? [`${m[1]} > ${m[2]}`] : []; }) };
}

const nftTable = async (host: number): Promise<{ code: number | null; stdout: string }> => cluster.lab.run(`host-${host}`, 'nft', ['list', 'table', 'ip', 'tun-driver-flannel0']);

describe('tun-driver-cni with the standard plugins', { skip: ROOT_SKIP }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('cni'), 2, PODS_ON_HOST_1, { internet: true });
    cluster.autoPods = false;
  });
  after(async () => {
    await cluster?.down();
  });

  test('before the daemon wrote subnet.env: ADD says "try again later" (11); broken input gets the spec\'s codes', async () => {
    const good = labCniConf(cluster.lab, 'host-1');
    const early = await rawPlugin('ADD', JSON.stringify(good));
    assert.equal(early.code, 1);
    assert.deepEqual(Object.keys(JSON.parse(early.stdout)), ['cniVersion', 'code', 'msg']);
    assert.equal(JSON.parse(early.stdout).code, 11);
    assert.match(JSON.parse(early.stdout).msg, /subnet\.env is not there yet: the tun-driver overlay daemon writes it/);
    const cases: Array<[string, string, number, RegExp]> = [
      ['bad JSON', '{"cniVersion": "1.0.0", ', 6, /not JSON/],
      ['unknown cniVersion', JSON.stringify({ ...good, cniVersion: '9.9.9' }), 1, /cniVersion "9\.9\.9" is not supported/],
      ['bad configuration', JSON.stringify({ ...good, delegate: 'bridge' }), 7, /"delegate" must be an object/],
    ];
    for (const [what, stdin, code, msg] of cases) {
      const r = await rawPlugin('ADD', stdin);
      assert.equal(r.code, 1, what);
      const e = JSON.parse(r.stdout);
      assert.equal(e.code, code, `${what}: ${r.stdout}`);
      assert.match(e.msg, msg, what);
    }
    const unknown = await rawPlugin('CHECK', JSON.stringify({ ...good, prevResult: { cniVersion: '1.0.0' } }));
    assert.equal(JSON.parse(unknown.stdout).code, 3, `CHECK of a container never added: ${unknown.stdout}`);
    const noNetns = await rawPlugin('ADD', JSON.stringify(good), { CNI_NETNS: '' });
    assert.equal(JSON.parse(noNetns.stdout).code, 4);
    assert.deepEqual(JSON.parse((await rawPlugin('VERSION', '{"cniVersion":"0.3.1"}')).stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
    assert.equal(existsSync(join(labFilesDir(cluster.lab.name), 'host-1', 'cni')), false, 'a refused ADD stored nothing');
  });

  test(`${PODS_ON_HOST_1} concurrent ADDs on one node after its daemon took a subnet: ${PODS_ON_HOST_1} distinct addresses in it`, async () => {
    await cluster.start(1);
    await cluster.start(2);
    assert.equal(readFileSync(labSubnetFile(cluster.lab, 'host-1'), 'utf8'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n');
    const results = await Promise.all(podsOf(cluster.lab, 'host-1').map((p) => addPod(cluster.lab, p)));
    const addresses = results.map((r) => r.address);
    assert.equal(new Set(addresses).size, PODS_ON_HOST_1, addresses.join(' '));
    for (const a of addresses) assert.match(a, /^10\.244\.1\.\d+\/24$/);
    for (const r of results) assert.equal(r.gateway, '10.244.1.1');
    assert.deepEqual(results[0].result.routes, [{ dst: '10.244.0.0/16', gw: '10.244.1.1' }, { dst: '0.0.0.0/0', gw: '10.244.1.1' }]);
    // The daemon masquerades, so the delegate was told not to (flannel's rule).
    const stored = JSON.parse(readFileSync(join(labFilesDir(cluster.lab.name), 'host-1', 'cni', `${cluster.lab.name}-host-1-pod1.eth0.json`), 'utf8'));
    assert.equal(stored.ipMasq, false);
    assert.equal(stored.mtu, 1472);
    const link = await cluster.lab.run('host-1-pod7', 'ip', ['-j', 'link', 'show', 'eth0']);
    assert.equal(JSON.parse(link.stdout)[0].mtu, 1472, "the pod's MTU is the overlay's");
    await addPod(cluster.lab, 'host-2-pod1');
    // `lab ls --json` shows what the plugin returned.
    const ls = await cluster.lab.run('host-1', process.execPath, [CLI, 'lab', 'ls', '--json']);
    const node = JSON.parse(ls.stdout).labs.find((l: { name: string }) => l.name === cluster.lab.name).nodes.find((n: { name: string }) => n.name === 'host-2-pod1');
    assert.deepEqual(node.addresses, ['10.244.2.2/24']);
  });

  test('pods on different nodes ping each other and carry a short iperf3', async () => {
    const [a, b] = [cluster.podIp(1, 1), cluster.podIp(2, 1)];
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '3', '-i', '0.1', '-W', '2', b])).received, 3);
    assert.equal((await ping(cluster.lab, 'host-2-pod1', ['-c', '3', '-i', '0.1', '-W', '2', a])).received, 3);
    const server = cluster.lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
    await sleep(300);
    const tcp = await cluster.lab.run('host-1-pod1', 'iperf3', ['-c', b, '-t', '2', '-J'], 30_000);
    server.kill();
    assert.equal(tcp.code, 0, tcp.stdout.slice(-300));
    assert.ok(JSON.parse(tcp.stdout).end.sum_received.bits_per_second > 50e6);
  });

  test('CHECK passes; DEL removes the interface and frees the address; a second DEL succeeds', async () => {
    await checkPod(cluster.lab, 'host-1-pod3');
    const address = cluster.podIp(1, 3);
    const ipamDir = join(labFilesDir(cluster.lab.name), 'host-1', 'ipam', `tdlab-${cluster.lab.name}`);
    assert.ok(readdirSync(ipamDir).includes(address), 'host-local holds the address');
    await deletePod(cluster.lab, 'host-1-pod3');
    const links = await cluster.lab.run('host-1-pod3', 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /eth0/);
    assert.ok(!readdirSync(ipamDir).includes(address), 'host-local freed the address');
    await deletePod(cluster.lab, 'host-1-pod3');
    // CHECK of a deleted pod: the lab refuses, as it no longer has the ADD result to send (the plugin's own answer, code 3, is checked in the first test).
    await assert.rejects(checkPod(cluster.lab, 'host-1-pod3'), /never added/);
    const again = await addPod(cluster.lab, 'host-1-pod3');
    assert.match(again.address, /^10\.244\.1\.\d+\/24$/);
    // A CHECK that finds the pod broken fails with the delegate's message.
    await cluster.lab.run('host-1-pod4', 'ip', ['addr', 'flush', 'dev', 'eth0']);
    await assert.rejects(checkPod(cluster.lab, 'host-1-pod4'), (err: unknown) => err instanceof CniError && /bridge CHECK/.test(err.message));
  });

  test("a runtime's odd but legal input: cniVersion 0.4.0, CNI_ARGS with IgnoreUnknown or none, DEL after the namespace is gone, DEL twice", async () => {
    const good = labCniConf(cluster.lab, 'host-1');
    const ipamDir = join(labFilesDir(cluster.lab.name), 'host-1', 'ipam', `tdlab-${cluster.lab.name}`);
    const reserved = (): string[] => readdirSync(ipamDir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    const before = reserved();
    // An older runtime: a 0.4.0 configuration gets a 0.4.0 result; Kubernetes-style CNI_ARGS with IgnoreUnknown pass.
    const old = { ...good, cniVersion: '0.4.0' };
    const k8sArgs = { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=raw', CNI_NETNS: netnsPath(scratchNetns('old')) };
    const added = await rawPlugin('ADD', JSON.stringify(old), k8sArgs);
    assert.equal(added.code, 0, added.stdout);
    const result = JSON.parse(added.stdout);
    assert.equal(result.cniVersion, '0.4.0');
    assert.equal(result.ips[0].version, '4', 'the 0.4.0 result format (ips carry a version)');
    assert.match(result.ips[0].address, /^10\.244\.1\.\d+\/24$/);
    assert.equal((await rawPlugin('CHECK', JSON.stringify({ ...old, prevResult: result }), k8sArgs)).code, 0);
    assert.equal((await rawPlugin('DEL', JSON.stringify({ ...old, prevResult: result }), k8sArgs)).code, 0);
    const again = await rawPlugin('DEL', JSON.stringify(old), k8sArgs);
    assert.deepEqual(again, { code: 0, stdout: '' }, 'DEL twice');
    assert.deepEqual(reserved(), before);
    // The same key without IgnoreUnknown: host-local refuses it, and the refused ADD leaves nothing.
    const strict = await rawPlugin('ADD', JSON.stringify(good), { CNI_ARGS: 'K8S_POD_NAME=web', CNI_NETNS: k8sArgs.CNI_NETNS });
    assert.equal(strict.code, 1);
    assert.match(JSON.parse(strict.stdout).msg, /unknown args/i);
    assert.deepEqual(reserved(), before);
    // No CNI_ARGS at all, into a namespace that the runtime then deletes before DEL: DEL succeeds and frees the address.
    const gone = scratchNetns('gone');
    const inGone = await rawPlugin('ADD', JSON.stringify(good), { CNI_NETNS: netnsPath(gone), CNI_CONTAINERID: 'gone' });
    assert.equal(inGone.code, 0, inGone.stdout);
    assert.equal(reserved().length, before.length + 1);
    netnsDelete(gone);
    const afterGone = await rawPlugin('DEL', JSON.stringify(good), { CNI_NETNS: netnsPath(gone), CNI_CONTAINERID: 'gone' });
    assert.deepEqual(afterGone, { code: 0, stdout: '' });
    assert.deepEqual(reserved(), before, 'host-local freed the address of the vanished pod');
    const neverSeen = await rawPlugin('DEL', JSON.stringify(good), { CNI_NETNS: '', CNI_CONTAINERID: 'never-seen' });
    assert.deepEqual(neverSeen, { code: 0, stdout: '' }, 'DEL of a container never added');
  });

  test('--ip-masq: outside the cluster the pod is the node; inside it keeps its address', async () => {
    const outside = await capture('internet', 'eth0');
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '2', '-i', '0.2', '-W', '2', INTERNET])).received, 2, 'replies come back to the node and on to the pod');
    const seenOutside = await outside.stop();
    assert.deepEqual(seenOutside, [`198.51.100.1 > ${INTERNET}`, `198.51.100.1 > ${INTERNET}`]);
    const inside = await capture('host-2-pod1', 'eth0');
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '2', '-i', '0.2', '-W', '2', cluster.podIp(2, 1)])).received, 2);
    assert.deepEqual(await inside.stop(), [`${cluster.podIp(1, 1)} > ${cluster.podIp(2, 1)}`, `${cluster.podIp(1, 1)} > ${cluster.podIp(2, 1)}`]);
    // doctor shows the rules, and flags them when they are gone.
    const doctor = async (): Promise<{ status: string; evidence: string }> =>
      JSON.parse((await cluster.lab.run('host-1', process.execPath, [CLI, 'doctor', '--json', '--tun', 'flannel0'])).stdout).find((f: { check: string }) => f.check === 'ip masquerade');
    const ok = await doctor();
    assert.equal(ok.status, 'ok');
    assert.match(ok.evidence, /ip saddr 10\.244\.1\.0\/24 masquerade fully-random/);
    await cluster.lab.run('host-1', 'nft', ['delete', 'table', 'ip', 'tun-driver-flannel0']);
    const missing = await doctor();
    assert.equal(missing.status, 'problem');
    assert.match(missing.evidence, /table ip tun-driver-flannel0 is missing/);
  });

  test('--ip-masq rules: gone after SIGTERM; after SIGKILL a restart replaces them (one copy), and SIGTERM removes them', async () => {
    assert.equal(await cluster.stop(1, 'SIGTERM'), 0);
    assert.notEqual((await nftTable(1)).code, 0, 'table removed on SIGTERM');
    await cluster.start(1);
    assert.equal((await nftTable(1)).code, 0);
    await cluster.stop(1, 'SIGKILL');
    assert.equal((await nftTable(1)).code, 0, 'SIGKILL leaves the table (nothing can remove it)');
    await cluster.start(1);
    const rules = (await nftTable(1)).stdout.split('\n').filter((l) => /^\s*ip saddr/.test(l));
    assert.equal(rules.length, 3, rules.join('\n'));
    assert.equal((await ping(cluster.lab, 'host-1-pod1', ['-c', '1', '-W', '2', INTERNET])).received, 1);
    assert.equal(await cluster.stop(1, 'SIGTERM'), 0);
    const ruleset = await cluster.lab.run('host-1', 'nft', ['list', 'ruleset']);
    assert.doesNotMatch(ruleset.stdout, /tun-driver/);
  });
});
