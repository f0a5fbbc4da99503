// The plugin's pure parts: reading the configuration with the spec's error
// codes, and the delegate configuration built from subnet.env. The plugin
// against the real bridge and host-local plugins is in
// test/integration/cni.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSubnetEnv } from '../subnet/etcd/subnet-env.js';
import { CniError } from './cni-error.js';
import { delegateConf, mergeJson } from './delegate-conf.js';
import { parseNetConf, versionOf } from './net-conf.js';
import { runCniPlugin } from './cni-plugin.js';

const ENV = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
const conf = (extra: Record<string, unknown> = {}): string => JSON.stringify({ cniVersion: '1.0.0', name: 'cbr0', type: 'tun-driver-cni', ...extra });

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CniError, String(err));
    return err.code;
  }
  assert.fail('no error');
}

test('configuration: defaults as flannel\'s plugin, and the spec\'s code for each fault', () => {
  const c = parseNetConf(conf());
  assert.equal(c.subnetFile, '/run/flannel/subnet.env');
  assert.equal(c.dataDir, '/var/lib/cni/tun-driver');
  assert.deepEqual(c.delegate, {});
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0']) assert.equal(parseNetConf(conf({ cniVersion: v })).cniVersion, v);
  assert.equal(codeOf(() => parseNetConf('{"cniVersion": ')), 6, 'not JSON: decoding failure');
  assert.equal(codeOf(() => parseNetConf('[1]')), 6);
  assert.equal(codeOf(() => parseNetConf(conf({ cniVersion: '2.0.0' }))), 1, 'unknown version: incompatible');
  assert.equal(codeOf(() => parseNetConf(conf({ cniVersion: undefined }))), 7);
  assert.equal(codeOf(() => parseNetConf(conf({ name: '-bad' }))), 7);
  assert.equal(codeOf(() => parseNetConf(conf({ subnetFile: 'relative/subnet.env' }))), 7);
  assert.equal(codeOf(() => parseNetConf(conf({ delegate: 'bridge' }))), 7);
  assert.equal(codeOf(() => parseNetConf(conf({ delegate: { mtu: 'big' } }))), 7);
  assert.equal(versionOf(conf({ cniVersion: '0.4.0' })), '0.4.0');
  assert.equal(versionOf('not json'), '1.0.0');
});

test('delegate: bridge cni0 + host-local over the node subnet, a route to the network; ipMasq only when the daemon does not', () => {
  const d = delegateConf(parseNetConf(conf()), ENV);
  assert.deepEqual(d, {
    type: 'bridge', bridge: 'cni0', isGateway: true, hairpinMode: true, ipMasq: false, mtu: 1450, cniVersion: '1.0.0', name: 'cbr0',
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.3.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }] },
  });
  assert.equal(delegateConf(parseNetConf(conf()), { ...ENV, ipMasq: false }).ipMasq, true);
});

test('delegate on an IPv6-only node: the IPv6 range and route alone', () => {
  const env = parseSubnetEnv('FLANNEL_IPV6_NETWORK=fd00:10:244::/48\nFLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  const d = delegateConf(parseNetConf(conf()), env);
  assert.deepEqual(d.ipam, { type: 'host-local', ranges: [[{ subnet: 'fd00:10:244:3::/64' }]], routes: [{ dst: 'fd00:10:244::/48', gw: 'fd00:10:244:3::1' }] });
});

test('delegate: the configuration\'s "delegate" merges over ours, objects key by key; version and name always the runtime\'s', () => {
  const d = delegateConf(parseNetConf(conf({ delegate: { mtu: 1500, isDefaultGateway: true, ipam: { dataDir: '/x' }, cniVersion: '0.3.1', name: 'other' } })), ENV);
  assert.equal(d.mtu, 1500);
  assert.equal(d.isDefaultGateway, true);
  assert.deepEqual(d.ipam, { type: 'host-local', ranges: [[{ subnet: '10.244.3.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }], dataDir: '/x' });
  assert.equal(d.cniVersion, '1.0.0');
  assert.equal(d.name, 'cbr0');
  const ptp = delegateConf(parseNetConf(conf({ delegate: { type: 'ptp' } })), ENV);
  assert.equal(ptp.type, 'ptp');
  assert.equal(ptp.bridge, undefined, 'bridge-only keys are not given to another plugin');
  assert.deepEqual(mergeJson({ a: [1, 2], b: { c: 1 } }, { a: [3], b: { d: 2 } }), { a: [3], b: { c: 1, d: 2 } });
});

test('subnet.env: read as written; each broken key named', () => {
  assert.equal(ENV.subnet!.network, (10 << 24 | 244 << 16 | 3 << 8) >>> 0);
  assert.equal(ENV.mtu, 1450);
  assert.equal(ENV.ipMasq, true);
  assert.throws(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450\n'), /has no FLANNEL_SUBNET/);
  assert.throws(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.245.1.1/24\nFLANNEL_MTU=1450\n'), /outside FLANNEL_NETWORK/);
  assert.throws(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=12\n'), /FLANNEL_MTU=12/);
  assert.throws(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=yes\n'), /FLANNEL_IPMASQ=yes/);
});

test('commands: VERSION needs nothing; a missing variable is code 4 naming it; errors are the spec\'s JSON', async () => {
  const version = await runCniPlugin({ CNI_COMMAND: 'VERSION' }, conf({ cniVersion: '0.4.0' }));
  assert.deepEqual(JSON.parse(version.stdout), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  assert.equal(version.exitCode, 0);
  const noId = await runCniPlugin({ CNI_COMMAND: 'ADD', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }, conf());
  assert.equal(noId.exitCode, 1);
  assert.deepEqual(JSON.parse(noId.stdout), { cniVersion: '1.0.0', code: 4, msg: 'CNI_CONTAINERID is not set (a runtime sets it for ADD)' });
  const badId = await runCniPlugin({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: '../etc', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }, conf());
  assert.equal(JSON.parse(badId.stdout).code, 4, 'a container ID that would escape dataDir');
  const unknown = await runCniPlugin({ CNI_COMMAND: 'GC' }, conf());
  assert.match(JSON.parse(unknown.stdout).msg, /CNI_COMMAND "GC" is not one of ADD, DEL, CHECK, VERSION/);
  const notYet = await runCniPlugin({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }, conf({ subnetFile: '/nonexistent/subnet.env' }));
  assert.equal(JSON.parse(notYet.stdout).code, 11);
  const delUnknown = await runCniPlugin({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'never-added', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' }, conf({ dataDir: '/nonexistent/data' }));
  assert.deepEqual(delUnknown, { stdout: '', exitCode: 0 }, 'DEL of an unknown container succeeds');
});
