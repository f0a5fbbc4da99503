// The lab end to end through the CLI: presets come up and carry traffic,
// and `lab down` leaves no tdlab- namespace, link or process behind, also
// after the process that built a lab was killed half-way.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, CLI, labName, ROOT_SKIP, run } from './helpers.js';
import { netnsList } from '../../src/netns/netns.js';
import { removeLabState } from '../../src/lab/state.js';
import { Lab } from '../../src/lab/lab.js';
import { labSubnetFile } from '../../src/lab/lab-etcd.js';
import { writeSubnetEnv } from '../../src/subnet/etcd/subnet-env.js';
import { parseCidr } from '../../src/packet/addr.js';

const labNamespaces = (lab: string): string[] => netnsList().filter((n) => n.startsWith(`tdlab-${lab}-`));
const rootLinks = (): string => run('ip', ['-o', 'link', 'show']).stdout.split('\n').map((l) => l.split(':')[1]).sort().join(',');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('two-hosts: up, ping host-1 -> host-2, down leaves nothing behind', { skip: ROOT_SKIP }, async () => {
  const lab = labName('two');
  const linksBefore = rootLinks();
  try {
    const up = cli(['lab', 'up', '--preset', 'two-hosts', '--name', lab]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(labNamespaces(lab).sort(), [`tdlab-${lab}-host-1`, `tdlab-${lab}-host-2`, `tdlab-${lab}-underlay`]);
    const ping = cli(['lab', 'exec', '--lab', lab, 'host-1', '--', 'ping', '-c', '1', '-W', '2', '198.51.100.2']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /1 received/);
    // --lab after the node works too.
    const after = cli(['lab', 'exec', 'host-1', '--lab', lab, '--', 'ping', '-c', '1', '-W', '2', '198.51.100.2']);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    // A name that is empty, invalid or not up must exit 2 and remove nothing.
    for (const bad of ['', 'Bad_Name', 'no-such-lab-here']) {
      const r = cli(['lab', 'down', bad]);
      assert.equal(r.code, 2, `lab down "${bad}": ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, bad === 'no-such-lab-here' ? /no lab named "no-such-lab-here" is up/ : /lab name "" is not valid|lab name "Bad_Name" is not valid/);
    }
    assert.equal(labNamespaces(lab).length, 3, 'the lab survived the bad lab down commands');
    const noKind = cli(['lab', 'up']);
    assert.equal(noKind.code, 2, noKind.stderr);
    assert.match(noKind.stderr, /give a topology file or --preset NAME/);
    // A long-lived process inside the lab must not survive `lab down`.
    const sleeper = spawn(process.execPath, [CLI, 'lab', 'exec', '--lab', lab, 'host-2', '--', 'sleep', '300'], { stdio: 'ignore' });
    await sleep(300);
    const ls = JSON.parse(cli(['lab', 'ls', '--json']).stdout);
    assert.ok(ls.labs.some((l: { name: string; present: number }) => l.name === lab && l.present === 3));
    const down = cli(['lab', 'down', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(labNamespaces(lab), []);
    const exited = await Promise.race([new Promise((r) => sleeper.on('exit', () => r(true))), sleep(5000).then(() => false)]);
    assert.ok(exited, 'the process inside the lab was stopped');
    assert.equal(rootLinks(), linksBefore, 'no link was added to (or left in) the root namespace');
  } finally {
    cli(['lab', 'down', lab]);
  }
});

test('routed: traceroute crosses the router; cluster: pods added through tun-driver-cni reach pods and hosts', { skip: ROOT_SKIP }, async () => {
  const routed = labName('rt');
  const cluster = labName('cl');
  try {
    assert.equal(cli(['lab', 'up', '--preset', 'routed', '--name', routed]).code, 0);
    const tr = cli(['lab', 'exec', '--lab', routed, 'host-1', '--', 'traceroute', '-n', '-q', '1', '-w', '2', '198.51.100.130']);
    assert.equal(tr.code, 0, tr.stderr);
    assert.match(tr.stdout, /1\s+198\.51\.100\.126/);
    assert.match(tr.stdout, /2\s+198\.51\.100\.130/);

    const up = cli(['lab', 'up', '--preset', 'cluster', '--hosts', '2', '--pods', '2', '--name', cluster, '--json']);
    assert.equal(up.code, 0, up.stderr);
    const state = JSON.parse(up.stdout);
    assert.deepEqual(state.nodes.filter((n: { kind: string }) => n.kind === 'pod').map((n: { addresses: string[] }) => n.addresses), [[], [], [], []], 'pods have no network until the plugin adds them');
    // No daemon has written subnet.env yet: the plugin says "try again later".
    const early = cli(['lab', 'pod', 'add', '--lab', cluster, 'host-1']);
    assert.equal(early.code, 2, early.stderr);
    assert.match(early.stderr, /host-1-pod1: tun-driver-cni failed with CNI code 11: .*subnet\.env is not there yet/);
    // What an overlay daemon writes once it holds its subnet (here by hand: this test is about the lab).
    for (const h of [1, 2]) writeSubnetEnv(labSubnetFile(Lab.open(cluster), `host-${h}`), { network: parseCidr('10.244.0.0/16'), subnet: parseCidr(`10.244.${h}.0/24`), mtu: 1472, ipMasq: false });
    const added = cli(['lab', 'pod', 'add', '--lab', cluster, 'host-1', 'host-2']);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, ['host-1-pod1      10.244.1.2/24 via 10.244.1.1', 'host-1-pod2      10.244.1.3/24 via 10.244.1.1', 'host-2-pod1      10.244.2.2/24 via 10.244.2.1', 'host-2-pod2      10.244.2.3/24 via 10.244.2.1', ''].join('\n'));
    assert.match(cli(['lab', 'ls']).stdout, /host-2-pod2/);
    for (const [from, to] of [['host-1-pod1', '10.244.1.3'], ['host-1-pod1', '198.51.100.1'], ['host-2-pod2', '10.244.2.1']]) {
      const r = cli(['lab', 'exec', '--lab', cluster, from, '--', 'ping', '-c', '1', '-W', '2', to]);
      assert.equal(r.code, 0, `${from} -> ${to}: ${r.stdout}${r.stderr}`);
    }
  } finally {
    cli(['lab', 'down', routed]);
    cli(['lab', 'down', cluster]);
  }
  assert.deepEqual([...labNamespaces(routed), ...labNamespaces(cluster)], []);
});

test('lab down cleans up after a builder that was SIGKILLed and lost its state file', { skip: ROOT_SKIP }, async () => {
  const lab = labName('crash');
  try {
    const builder = spawn(process.execPath, [CLI, 'lab', 'up', '--preset', 'cluster', '--hosts', '3', '--pods', '4', '--name', lab], { stdio: 'ignore' });
    // Kill it as soon as its first namespace exists (mid-build).
    for (let i = 0; i < 200 && labNamespaces(lab).length === 0; i++) await sleep(5);
    builder.kill('SIGKILL');
    await new Promise((r) => builder.on('exit', r));
    removeLabState(lab); // worst case: only the namespaces remain
    const down = cli(['lab', 'down', lab]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(labNamespaces(lab), []);
  } finally {
    cli(['lab', 'down', lab]);
  }
});

test('a bad topology file: exit 2, a message that says what to fix, nothing built', { skip: ROOT_SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdlab-topo-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: Array<[unknown, RegExp]> = [
    [{ name: 'x1', segments: [{ name: 'lan', subnet: '198.51.100.0/24' }], hosts: [{ name: 'h1', segment: 'lan', address: '10.0.0.1' }] }, /outside its segment lan/],
    [{ name: 'x2', segments: [{ name: 'lan', subnet: '192.0.2.0/24' }], hosts: [{ name: 'h1', segment: 'lan', address: '192.0.2.1' }] }, /must lie inside the lab underlay/],
    [{ name: 'x3', segments: [{ name: 'lan', subnet: '198.51.100.0/24' }], hosts: [{ name: 'h1', segment: 'lan', address: '198.51.100.1' }, { name: 'h1', segment: 'lan', address: '198.51.100.2' }] }, /"h1" is used twice/],
    [{ name: 'x4', segments: [{ name: 'lan', subnet: '198.51.100.0/24' }], hosts: [{ name: 'Host_1', segment: 'lan', address: '198.51.100.1' }] }, /hosts\.0\.name must be 1-15 characters/],
  ];
  for (const [i, [topology, message]] of cases.entries()) {
    const file = join(dir, `bad${i}.json`);
    writeFileSync(file, JSON.stringify(topology));
    const r = cli(['lab', 'up', file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.deepEqual(labNamespaces(`x${i + 1}`), []);
  }
  const etcdMember = join(dir, 'etcd.json');
  writeFileSync(etcdMember, JSON.stringify({ name: 'x5', segments: [{ name: 'lan', subnet: '198.51.100.0/24' }], hosts: [{ name: 'h1', segment: 'lan', address: '198.51.100.1' }], etcd: { members: ['h2'] } }));
  const badMember = cli(['lab', 'up', etcdMember]);
  assert.equal(badMember.code, 2);
  assert.match(badMember.stderr, /etcd member h2 is not a host of the lab/);
  const etcdOnTwoHosts = cli(['lab', 'up', '--preset', 'two-hosts', '--etcd', '--name', 'x6']);
  assert.equal(etcdOnTwoHosts.code, 2);
  assert.match(etcdOnTwoHosts.stderr, /--etcd goes with --preset cluster/);
  assert.deepEqual([...labNamespaces('x5'), ...labNamespaces('x6')], []);
  writeFileSync(join(dir, 'broken.json'), '{ "name": ');
  const broken = cli(['lab', 'up', join(dir, 'broken.json')]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /is not valid JSON/);
});
