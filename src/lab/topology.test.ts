import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateTopology } from './topology.js';
import { presetTopology, PRESET_NAMES } from './presets.js';
import { planNodes } from './lab.js';

test('every preset validates and plans tdlab- namespaces with addresses', () => {
  for (const name of PRESET_NAMES) {
    const t = presetTopology(name);
    const nodes = planNodes(t);
    assert.ok(nodes.length >= 3, name);
    for (const n of nodes) assert.match(n.netns, new RegExp(`^tdlab-${t.name}-`));
  }
});

test('cluster preset: host i is to own 10.244.i.0/24; pods start with no network (the CNI plugin gives it)', () => {
  const t = presetTopology('cluster', { hosts: 2, pods: 3, name: 'c' });
  assert.equal(t.hosts[1].pods?.subnet, '10.244.2.0/24');
  const nodes = planNodes(t);
  const host2 = nodes.find((n) => n.name === 'host-2')!;
  assert.deepEqual(host2.addresses, ['198.51.100.2/24']);
  assert.deepEqual(nodes.filter((n) => n.host === 'host-2').map((n) => [n.name, n.addresses]), [
    ['host-2-pod1', []], ['host-2-pod2', []], ['host-2-pod3', []],
  ]);
  const internet = planNodes(presetTopology('cluster', { hosts: 2, pods: 1, name: 'c', internet: true }));
  assert.deepEqual(internet.filter((n) => n.kind !== 'pod').map((n) => [n.name, n.addresses.join(' ')]), [
    ['underlay', ''], ['outside', ''], ['host-1', '198.51.100.1/25'], ['host-2', '198.51.100.2/25'], ['internet', '198.51.100.129/25'], ['router', '198.51.100.126/25 198.51.100.254/25'],
  ]);
  assert.throws(() => presetTopology('cluster', { pods: 65 }), /--pods 65: use 1 to 64/);
  assert.throws(() => presetTopology('cluster', { hosts: 21 }), /--hosts 21: use 1 to 20/);
  assert.throws(() => presetTopology('nope'), /unknown preset "nope": choose one of/);
});

const base = { name: 'x', segments: [{ name: 'lan', subnet: '198.51.100.0/24' }] };

test('validation names what is wrong', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...base, hosts: [] }, /hosts/],
    [{ ...base, hosts: [{ name: 'h', segment: 'wan', address: '198.51.100.1' }] }, /segment "wan", which is not declared/],
    [{ ...base, hosts: [{ name: 'h', segment: 'lan', address: '198.51.100.0' }] }, /network or broadcast/],
    [{ ...base, hosts: [{ name: 'a', segment: 'lan', address: '198.51.100.1' }, { name: 'b', segment: 'lan', address: '198.51.100.1' }] }, /address 198\.51\.100\.1 .* used twice/],
    [{ ...base, hosts: [{ name: 'h', segment: 'lan', address: '198.51.100.1', pods: { subnet: '10.245.0.0/24', count: 1 } }] }, /inside 10\.244\.0\.0\/16/],
    [{ ...base, hosts: [
      { name: 'a', segment: 'lan', address: '198.51.100.1', pods: { subnet: '10.244.0.0/23', count: 1 } },
      { name: 'b', segment: 'lan', address: '198.51.100.2', pods: { subnet: '10.244.1.0/24', count: 1 } }] }, /pod subnets of b and a overlap/],
    [{ ...base, segments: [...base.segments, { name: 'lan2', subnet: '198.51.100.128/25' }], hosts: [{ name: 'h', segment: 'lan', address: '198.51.100.1' }] }, /segments lan2 and lan overlap/],
    [{ ...base, hosts: [{ name: 'h', segment: 'lan', address: '198.51.100.1' }], extra: 1 }, /Unrecognized key/],
  ];
  for (const [input, message] of cases) assert.throws(() => validateTopology(input), message);
});

test('the example files in presets/ are exactly the built-in presets', async () => {
  const { readFileSync } = await import('node:fs');
  for (const name of PRESET_NAMES) {
    const file = new URL(`../../../presets/${name}.json`, import.meta.url);
    assert.deepEqual(validateTopology(JSON.parse(readFileSync(file, 'utf8'))), presetTopology(name), name);
  }
});

test('cluster --etcd: a member on each of the first three hosts; members must be hosts', () => {
  assert.deepEqual(presetTopology('cluster', { hosts: 5, etcd: true }).etcd, { members: ['host-1', 'host-2', 'host-3'] });
  assert.deepEqual(presetTopology('cluster', { hosts: 2, etcd: true }).etcd, { members: ['host-1', 'host-2'] });
  assert.equal(presetTopology('cluster', { hosts: 2 }).etcd, undefined);
  const hosts = [{ name: 'h1', segment: 'lan', address: '198.51.100.1' }];
  assert.throws(() => validateTopology({ ...base, hosts, etcd: { members: ['h9'] } }), /etcd member h9 is not a host of the lab/);
  assert.throws(() => validateTopology({ ...base, hosts, etcd: { members: ['h1', 'h1'] } }), /etcd member h1 is listed twice/);
});
