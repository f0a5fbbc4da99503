// A container runtime that we did not write calls our CNI plugin: Debian's
// podman (CNI backend) on two lab nodes, each running `tun-driver overlay`,
// with the plugin and conflist put in place by `tun-driver cni install`
// with its defaults, as a user on the node would run it. Containers get
// addresses in their node's subnet, reach each other across nodes, the
// outside (masqueraded) and a mapped port from another host; stop/start
// and rm leave nothing behind. How podman is made to run on this machine:
// harness/podman-lab.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { BUSYBOX_IMAGE, PODMAN_RUN, PodmanLab, PodmanNode, podmanMissing } from '../../harness/podman-lab.js';
import { startCapture } from '../../harness/capture.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

const INTERNET = '198.51.100.129';
let cluster: OverlayCluster;
let podman: PodmanLab;
const node = (host: number): PodmanNode => podman.node(`host-${host}`);

/** The container's IPv4 address on eth0 (from inside it). */
async function addressOf(n: PodmanNode, container: string): Promise<string> {
  const r = await n.podman(['exec', container, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  const m = /inet (\d+\.\d+\.\d+\.\d+)\/24/.exec(r.stdout);
  assert.ok(m, `no address in ${container}: ${r.stdout} ${r.stderr}`);
  return m[1];
}

/** Pings from inside a container; returns how many replies came. */
async function pingFrom(n: PodmanNode, container: string, target: string, count = 2): Promise<number> {
  const r = await n.podman(['exec', container, 'ping', '-c', String(count), '-W', '2', target]);
  const m = /(\d+) packets received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** What the CNI plugins keep for containers on a node: host-local reservations, libcni's result cache, our delegate store. */
async function cniState(n: PodmanNode): Promise<{ reservations: string[]; cached: string[]; delegates: string[] }> {
  const files = await n.files('/var/lib/cni');
  return {
    reservations: files.filter((f) => /^\/var\/lib\/cni\/networks\/tun-driver\/\d+\.\d+\.\d+\.\d+$/.test(f)),
    cached: files.filter((f) => f.startsWith('/var/lib/cni/results/')),
    delegates: files.filter((f) => f.startsWith('/var/lib/cni/tun-driver/')),
  };
}

/** The containers' veths on a node (its own eth0 is a veth to the underlay). */
async function veths(host: number): Promise<string[]> {
  const r = await cluster.lab.run(`host-${host}`, 'ip', ['-o', 'link', 'show', 'type', 'veth']);
  return r.stdout.split('\n').filter((l) => l && !/^\d+: eth0@/.test(l));
}

describe('podman runs containers on the pod network through tun-driver-cni', { skip: ROOT_SKIP || podmanMissing() || false }, () => {
  before(async () => {
    cluster = await OverlayCluster.up(labName('podman'), 2, 1, { internet: true });
    cluster.autoPods = false; // the lab's own pods would take addresses from a host-local store podman does not share
    podman = await PodmanLab.open(cluster.lab, ['host-1', 'host-2']);
  });
  after(async () => {
    await podman?.close();
    await cluster?.down();
  });

  test('tun-driver cni install with its defaults: the plugin where podman looks, the conflist podman lists', async () => {
    for (const host of [1, 2]) {
      const r = await node(host).exec(process.execPath, [CLI, 'cni', 'install', '--subnet-file', labSubnetFile(cluster.lab, `host-${host}`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /installed tun-driver-cni in \/opt\/cni\/bin, \/usr\/lib\/cni and \/etc\/cni\/net\.d\/10-tun-driver\.conflist/);
      const networks = await node(host).podman(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
      assert.match(networks.stdout, /^tun-driver tun-driver-cni$/m);
    }
    const conf = JSON.parse((await node(1).exec('cat', ['/etc/cni/net.d/10-tun-driver.conflist'])).stdout);
    assert.deepEqual(conf.plugins.map((p: { type: string }) => p.type), ['tun-driver-cni', 'portmap']);
    assert.equal(conf.plugins[0].subnetFile, labSubnetFile(cluster.lab, 'host-1'));
  });

  test('on a node whose overlay is not up, podman run fails saying subnet.env is missing, and leaves nothing behind', async () => {
    await cluster.start(1);
    const r = await node(1).podman(['run', '--rm', '--network', 'tun-driver', ...PODMAN_RUN, BUSYBOX_IMAGE, 'true']);
    assert.equal(r.code, 0, `host-1 has its overlay: ${r.stderr}`);
    const failed = await node(2).podman(['run', '--rm', '--name', 'early', '--network', 'tun-driver', ...PODMAN_RUN, BUSYBOX_IMAGE, 'true']);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /subnet\.env is not there yet: the tun-driver overlay daemon writes it once this node has a subnet/);
    assert.deepEqual(await cniState(node(2)), { reservations: [], cached: [], delegates: [] });
    assert.deepEqual(await veths(2), []);
    assert.equal((await node(2).podman(['ps', '--all', '--quiet'])).stdout.trim(), '', 'no container left');
    assert.deepEqual(await cniState(node(1)), { reservations: [], cached: [], delegates: [] }, 'the --rm container on host-1 left nothing either');
    await cluster.start(2);
  });

  test('containers on two nodes: addresses in their node\'s subnet, ping across nodes and to the outside (masqueraded), a mapped port from another host', async () => {
    await node(1).runDetached('c1', 'tun-driver', ['sleep', '600']);
    await node(2).runDetached('c2', 'tun-driver', ['sh', '-c', 'mkdir /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www'], ['-p', '8080:80']);
    const [a1, a2] = [await addressOf(node(1), 'c1'), await addressOf(node(2), 'c2')];
    assert.match(a1, /^10\.244\.1\.\d+$/);
    assert.match(a2, /^10\.244\.2\.\d+$/);
    assert.equal(await pingFrom(node(1), 'c1', a2), 2);
    assert.equal(await pingFrom(node(2), 'c2', a1), 2);
    const seen = await startCapture(cluster.lab, 'internet', 'eth0', 'icmp[icmptype] == icmp-echo');
    assert.equal(await pingFrom(node(1), 'c1', INTERNET), 2);
    const outside = (await seen.stop()).flatMap((l) => /IP (\S+) > /.exec(l)?.[1] ?? []);
    assert.deepEqual(outside, ['198.51.100.1', '198.51.100.1'], 'the outside sees the node, not the container');
    // portmap: host-2's port 8080 reaches c2's httpd, from host-1 and from a host outside the cluster.
    const hostname = (await node(2).podman(['exec', 'c2', 'hostname'])).stdout.trim();
    for (const from of ['host-1', 'internet']) {
      // (no -T: Debian 12's busybox wget crashes with it)
      const page = await cluster.lab.run(from, 'busybox', ['wget', '-q', '-O', '-', 'http://198.51.100.2:8080/'], 10_000);
      assert.equal(page.stdout.trim(), hostname, `from ${from}: ${page.code} ${page.stderr}`);
    }
    const fromC1 = await node(1).podman(['exec', 'c1', 'wget', '-q', '-O', '-', `http://${a2}/`], 10_000);
    assert.equal(fromC1.stdout.trim(), hostname, 'container to container across nodes, TCP');
  });

  test('a container stopped and started again keeps working; its first address is released on stop', async () => {
    const before = await addressOf(node(1), 'c1');
    assert.equal((await node(1).podman(['stop', '--time', '0', 'c1'])).code, 0);
    assert.deepEqual(await cniState(node(1)), { reservations: [], cached: [], delegates: [] }, 'stop runs DEL');
    assert.deepEqual(await veths(1), []);
    assert.equal((await node(1).podman(['start', 'c1'])).code, 0);
    const again = await addressOf(node(1), 'c1');
    assert.match(again, /^10\.244\.1\.\d+$/);
    assert.equal(await pingFrom(node(1), 'c1', await addressOf(node(2), 'c2')), 2, `after restart (${before} -> ${again})`);
    assert.equal((await cniState(node(1))).reservations.length, 1);
  });

  test('podman rm -f leaves no veth, no host-local reservation and no cache entry behind', async () => {
    for (const [host, name] of [[1, 'c1'], [2, 'c2']] as const) {
      const n = node(host);
      const id = (await n.podman(['inspect', '--format', '{{.Id}}', name])).stdout.trim();
      const held = await cniState(n);
      assert.equal(held.reservations.length, 1);
      assert.deepEqual(held.cached, [`/var/lib/cni/results/tun-driver-${id}-eth0`]);
      assert.deepEqual(held.delegates, [`/var/lib/cni/tun-driver/${id}.eth0.json`]);
      assert.equal((await veths(host)).length, 1);
      assert.equal((await n.podman(['rm', '--force', '--time', '0', name])).code, 0);
      assert.deepEqual(await cniState(n), { reservations: [], cached: [], delegates: [] }, `host-${host}`);
      assert.deepEqual(await veths(host), [], `host-${host}`);
    }
  });
});
