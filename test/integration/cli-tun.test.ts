// `tun add / show / del` inside a lab host, checked against iproute2, and
// every bad input: exit 2, one line, nothing left on the system.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { cli, cliIn, ipJson, labName, ROOT_SKIP, run } from './helpers.js';

const LAB = labName('tun');
const LEASES = `/tmp/tdlab-${LAB}-leases.json`;
const NS = `tdlab-${LAB}-host-1`;

interface IpLink { ifname: string; mtu: number; flags: string[]; operstate: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }

const linkNames = (): string[] => (ipJson(NS, 'link', 'show') as IpLink[]).map((l) => l.ifname).sort();

before(() => {
  if (ROOT_SKIP) return;
  writeFileSync(LEASES, JSON.stringify({ nodes: [{ subnet: '10.244.1.0/24', publicIp: '198.51.100.1' }] }));
  const up = cli(['lab', 'up', '--preset', 'two-hosts', '--name', LAB]);
  assert.equal(up.code, 0, up.stderr);
});
after(() => {
  if (!ROOT_SKIP) cli(['lab', 'down', LAB]);
  rmSync(LEASES, { force: true });
});

test('tun add, show --json and del agree with ip -j addr show', { skip: ROOT_SKIP }, () => {
  const add = cliIn(LAB, 'host-1', ['tun', 'add', 'tun19', '--address', '10.244.1.3/24', '--address', '10.244.7.1/16', '--mtu', '1472']);
  assert.equal(add.code, 0, add.stderr);
  const ours = JSON.parse(cliIn(LAB, 'host-1', ['tun', 'show', 'tun19', '--json']).stdout);
  const [theirs] = ipJson(NS, 'addr', 'show', 'dev', 'tun19') as IpLink[];
  assert.equal(ours.name, theirs.ifname);
  assert.equal(ours.mtu, theirs.mtu);
  assert.equal(ours.mtu, 1472);
  assert.equal(ours.kind, 'tun');
  assert.equal(ours.state, theirs.operstate);
  assert.deepEqual([...ours.flags].sort(), [...theirs.flags].sort());
  const ipv4 = theirs.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  assert.deepEqual([...ours.addresses].sort(), ipv4.sort());
  assert.deepEqual(ours.addresses.sort(), ['10.244.1.3/24', '10.244.7.1/16']);
  // Persistent, up, and nobody attached: iproute2 calls that NO-CARRIER.
  assert.ok(theirs.flags.includes('UP') && theirs.flags.includes('NO-CARRIER'));

  const all = JSON.parse(cliIn(LAB, 'host-1', ['tun', 'show', '--json']).stdout);
  assert.deepEqual(all.map((d: { name: string }) => d.name), ['tun19'], 'tun show lists only TUN devices');

  const del = cliIn(LAB, 'host-1', ['tun', 'del', 'tun19']);
  assert.equal(del.code, 0, del.stderr);
  assert.ok(!linkNames().includes('tun19'));
});

test('--replace deletes a stale TUN of the same name; without it, exit 2', { skip: ROOT_SKIP }, () => {
  assert.equal(cliIn(LAB, 'host-1', ['tun', 'add', 'tunr', '--address', '10.244.2.1/24']).code, 0);
  const again = cliIn(LAB, 'host-1', ['tun', 'add', 'tunr', '--address', '10.244.3.1/24']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists.*--replace/);
  const replaced = cliIn(LAB, 'host-1', ['tun', 'add', 'tunr', '--address', '10.244.3.1/24', '--replace', '--json']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.deepEqual(JSON.parse(replaced.stdout).addresses, ['10.244.3.1/24']);
  assert.equal(cliIn(LAB, 'host-1', ['tun', 'del', 'tunr']).code, 0);
});

const BAD_INPUTS: Array<[string, string[], RegExp]> = [
  ['prefix length 33', ['tun', 'add', 'tunbad', '--address', '10.1.2.3/33'], /prefix length 33: it must be 0 to 32/],
  ['address without prefix', ['tun', 'add', 'tunbad', '--address', '10.1.2.3'], /no prefix length/],
  ['a 16-character name', ['tun', 'add', 'abcdefghijklmnop', '--address', '10.1.2.3/24'], /must be 1 to 15 characters/],
  ['MTU out of range', ['tun', 'add', 'tunbad', '--address', '10.1.2.3/24', '--mtu', '40'], /--mtu 40: must be a whole number from 68/],
  ['a missing device (show)', ['tun', 'show', 'nosuchdev'], /device "nosuchdev" does not exist/],
  ['a missing device (del)', ['tun', 'del', 'nosuchdev'], /device "nosuchdev" does not exist/],
  ['deleting a device that is not a TUN', ['tun', 'del', 'eth0'], /eth0 is a veth device, not a TUN: refusing/],
  ['an unknown option', ['tun', 'add', 'tunbad', '--adress', '10.1.2.3/24'], /unknown option '--adress' \(Did you mean --address\?\)/],
  ['the same address twice', ['tun', 'add', 'tunbad', '--address', '10.0.0.1/24', '--address', '10.0.0.1/24'], /--address 10\.0\.0\.1\/24 is given twice/],
  ['a default route into the TUN (0.0.0.0/0)', ['tun', 'add', 'tunbad', '--address', '0.0.0.0/0'], /0\.0\.0\.0\/8 is not a host address/],
  ['a multicast address', ['tun', 'add', 'tunbad', '--address', '224.0.0.1/24'], /is a multicast address/],
  ['showing a device that is not a TUN', ['tun', 'show', 'lo'], /lo is a loopback device, not a TUN|lo is a non-TUN device, not a TUN/],
  ['relay --attach to a device that is not a TUN', ['relay', '--attach', '--tun', 'lo'], /device lo is a .* device, not a TUN/],
  ['relay --pcap into a missing directory', ['relay', '--tun', 'tunbad', '--address', '10.244.1.3/24', '--pcap', '/nonexistent/x.pcap'], /--pcap \/nonexistent\/x\.pcap: the directory \/nonexistent does not exist/],
  ['overlay --pcap naming a directory', ['overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.1.0/24', '--public-ip', '198.51.100.1', '--leases', LEASES, '--pcap', '/tmp'], /--pcap \/tmp is a directory/],
  ['overlay --io-wait with an unknown way', ['overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.1.0/24', '--public-ip', '198.51.100.1', '--leases', LEASES, '--io-wait', 'spin'], /--io-wait spin: use auto, poll or libuv/],
  ['relay --io-wait with an unknown way', ['relay', '--tun', 'tunbad', '--address', '10.244.1.3/24', '--io-wait', 'epoll'], /--io-wait epoll: use auto, poll or libuv/],
  ['overlay on a device that is not a TUN', ['overlay', '--network', '10.244.0.0/16', '--subnet', '10.244.1.0/24', '--public-ip', '198.51.100.1', '--leases', LEASES, '--tun', 'lo'], /lo exists and is a .* device: refusing to replace it/],
];

for (const [what, args, message] of BAD_INPUTS) {
  test(`bad input: ${what} -> exit 2, one line, nothing changed`, { skip: ROOT_SKIP }, () => {
    const before = linkNames();
    const r = cliIn(LAB, 'host-1', args);
    assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.deepEqual(linkNames(), before);
  });
}

test('without CAP_NET_ADMIN: exit 2, says how to fix it, leaves no device', { skip: ROOT_SKIP }, () => {
  const node = process.execPath;
  const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', node];
  const rootWithoutNetAdmin = ['setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-net_admin', node];
  for (const prefix of [asNobody, rootWithoutNetAdmin]) {
    const r = cli(['lab', 'exec', '--lab', LAB, 'host-1', '--', ...prefix, new URL('../../src/cli/main.js', import.meta.url).pathname, 'tun', 'add', 'tunperm', '--address', '10.1.2.3/24']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /run as root or grant CAP_NET_ADMIN/);
    assert.ok(!linkNames().includes('tunperm'));
  }
  assert.equal(run('true', []).code, 0);
});

test('status with only a stale control socket (its daemon was killed): exit 2, says so', { skip: ROOT_SKIP }, async () => {
  const { mkdtempSync, rmSync, statSync, writeFileSync } = await import('node:fs');
  const dir = mkdtempSync('/tmp/tdlab-ctl-');
  try {
    // A socket file nobody listens on, named for host-1's namespace, as a SIGKILLed daemon leaves it.
    const inode = statSync(`/run/netns/${NS}`).ino;
    writeFileSync(`${dir}/ctl-${inode}-tun19.sock`, '');
    const r = run('ip', ['netns', 'exec', NS, 'env', `TUN_DRIVER_CONTROL_DIR=${dir}`, process.execPath, new URL('../../src/cli/main.js', import.meta.url).pathname, 'status']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /no tun-driver daemon answered/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
