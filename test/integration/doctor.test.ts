// tun-driver doctor against the failures the seed article chased by hand:
// strict reverse-path filtering behind a relay, a firewall rule dropping the
// overlay's UDP port, and an MTU that does not fit the underlay. Each time:
// traffic really fails, doctor names the cause and the fix, the fix works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../src/lab/lab.js';
import { presetTopology } from '../../src/lab/presets.js';
import { ping, startRelay } from '../../harness/daemon-harness.js';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { CLI, labName, ROOT_SKIP } from './helpers.js';

interface Finding { check: string; status: string; evidence: string; fix?: string }

async function doctor(lab: Lab, node: string, ...args: string[]): Promise<{ code: number | null; findings: Finding[] }> {
  const r = await lab.run(node, process.execPath, [CLI, 'doctor', '--json', ...args]);
  return { code: r.code, findings: JSON.parse(r.stdout) };
}

/** Runs a doctor fix command (a plain command line, no shell features) inside `node`. */
async function applyFix(lab: Lab, node: string, fix: string): Promise<void> {
  const [cmd, ...args] = fix.split(' ');
  const r = await lab.run(node, cmd, args);
  assert.equal(r.code, 0, `${fix}: ${r.stderr}`);
}

describe('tun-driver doctor', { skip: ROOT_SKIP }, () => {
  test('the article\'s failure: strict rp_filter behind a relay started with --rp-filter off', async () => {
    const lab = await Lab.up(presetTopology('two-hosts', { name: labName('drrp') }));
    after(() => lab.down());
    await lab.run('host-1', 'sysctl', ['-qw', 'net.ipv4.conf.all.rp_filter=1']);
    const relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--rp-filter', 'off']);
    try {
      const before = await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '1', '-I', 'tun19', '198.51.100.2']);
      assert.equal(before.received, 0, 'the replies vanish, as in the article');
      const d = await doctor(lab, 'host-1', '--probe', '198.51.100.2');
      assert.equal(d.code, 1);
      const rp = d.findings.find((f) => f.check === 'tun19 reverse-path filter')!;
      assert.equal(rp.status, 'problem');
      assert.match(rp.evidence, /strict reverse-path filtering drops the replies/);
      assert.equal(rp.fix, 'sysctl -w net.ipv4.conf.tun19.rp_filter=2');
      // The live probe shows the symptom stage by stage: everything up to the TUN worked.
      const probe = d.findings.find((f) => f.check === 'tun19 live probe')!;
      assert.equal(probe.status, 'problem');
      assert.match(probe.evidence, /answer written into the TUN \(\+\d+ ms\) -> stopped before "answer delivered to ping by the kernel"/);
      assert.deepEqual(d.findings.filter((f) => f.status === 'problem').map((f) => f.check).sort(), ['tun19 live probe', 'tun19 reverse-path filter'], 'and nothing else is blamed');
      await applyFix(lab, 'host-1', rp.fix!);
      assert.equal((await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '-I', 'tun19', '198.51.100.2'])).received, 2);
      const healthy = await doctor(lab, 'host-1', '--probe', '198.51.100.2');
      assert.equal(healthy.code, 0, 'healthy now');
      assert.match(healthy.findings.find((f) => f.check === 'tun19 live probe')!.evidence, /answer delivered to ping by the kernel$/);
    } finally {
      await relay.stop();
    }
  });

  describe('overlay', () => {
    let cluster: OverlayCluster;
    before(async () => {
      cluster = await OverlayCluster.up(labName('drov'), 2, 1);
      await cluster.startAll();
    });
    after(() => cluster?.down());

    test('a DROP rule on the overlay\'s UDP port', async () => {
      const lab = cluster.lab;
      assert.equal((await doctor(lab, 'host-2')).code, 0, 'healthy to start with');
      await lab.run('host-2', 'iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', '8285', '-j', 'DROP']);
      assert.equal((await ping(lab, 'host-1-pod1', ['-c', '2', '-i', '0.2', '-W', '1', '10.244.2.2'])).received, 0);
      const d = await doctor(lab, 'host-2');
      assert.equal(d.code, 1);
      const fw = d.findings.find((f) => f.check === 'flannel0 firewall' && f.status === 'problem')!;
      assert.match(fw.evidence, /udp dport 8285 drop: drops the overlay's UDP port 8285/);
      assert.match(fw.fix!, /^nft delete rule ip filter INPUT handle \d+$/);
      // host-2's probe (to host-1's overlay address) leaves, and its answer is dropped on the way in.
      const probe = d.findings.find((f) => f.check === 'flannel0 live probe')!;
      assert.match(probe.evidence, /ping -e \d+ 10\.244\.1\.0: .*sent to the network .* stopped before "answer received from the network"/);
      // Seen from host-1, whose own answers are what gets dropped:
      const fromHost1 = await doctor(lab, 'host-1');
      assert.match(fromHost1.findings.find((f) => f.check === 'flannel0 live probe')!.evidence, /stopped before "answer received from the network": nothing came back/);
      await applyFix(lab, 'host-2', fw.fix!);
      assert.equal((await ping(lab, 'host-1-pod1', ['-c', '2', '-i', '0.2', '-W', '2', '10.244.2.2'])).received, 2);
    });

    test('a missing route into the TUN', async () => {
      const lab = cluster.lab;
      await lab.run('host-1', 'ip', ['route', 'del', '10.244.0.0/16', 'dev', 'flannel0']);
      assert.equal((await ping(lab, 'host-1-pod1', ['-c', '1', '-W', '1', '10.244.2.2'])).received, 0);
      const d = await doctor(lab, 'host-1', '--tun', 'flannel0');
      const route = d.findings.find((f) => f.check === 'flannel0 routes')!;
      assert.equal(route.status, 'problem');
      assert.equal(route.fix, 'ip route add 10.244.0.0/16 dev flannel0');
      await applyFix(lab, 'host-1', route.fix!);
      assert.equal((await ping(lab, 'host-1-pod1', ['-c', '2', '-i', '0.2', '-W', '2', '10.244.2.2'])).received, 2);
    });

    test('an MTU that does not fit the underlay', async () => {
      await cluster.stop(1);
      await cluster.start(1, ['--mtu', '1500']);
      const d = await doctor(cluster.lab, 'host-1', '--tun', 'flannel0');
      assert.equal(d.code, 1);
      const mtu = d.findings.find((f) => f.check === 'flannel0 MTU')!;
      assert.equal(mtu.status, 'problem');
      assert.match(mtu.evidence, /flannel0 mtu 1500 \+ 28 bytes of UDP\/IP > eth0 mtu 1500/);
      assert.match(mtu.fix!, /ip link set dev flannel0 mtu 1472/);
      assert.equal(d.findings.find((f) => f.check === 'flannel0 live probe')!.status, 'ok', 'small packets still get through');
      await cluster.stop(1);
      await cluster.start(1);
      assert.equal((await doctor(cluster.lab, 'host-1', '--tun', 'flannel0')).code, 0);
    });
  });
});
