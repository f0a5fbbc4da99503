// The relay's path as `lab watch` probes it (the seed article's diagram:
// ping -> TUN -> relay -> raw socket -> network, and back), in a real
// two-host lab: green end to end; with the article's strict rp_filter on
// tun19, red at the last hop (the kernel drops the reply the relay wrote)
// with doctor's sysctl fix; green again after the fix.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../src/lab/lab.js';
import { presetTopology } from '../../src/lab/presets.js';
import { probePath } from '../../src/watch/path-probe.js';
import { RelayRun, startRelay } from '../../harness/daemon-harness.js';
import { labName, ROOT_SKIP } from './helpers.js';

let lab: Lab;
let relay: RelayRun;
before(async () => {
  if (ROOT_SKIP) return;
  lab = await Lab.up(presetTopology('two-hosts', { name: labName('wrelay') }));
  relay = await startRelay(lab, 'host-1', ['--address', '10.244.1.3/24', '--rp-filter', 'off']);
});
after(async () => {
  await relay?.stop().catch(() => undefined);
  await lab?.down();
});

test("a relay's path: green, red at the kernel's rp_filter with doctor's fix, green after it", { skip: ROOT_SKIP }, async () => {
  const steps = ['ping-to-tun', 'relay-to-network', 'network-to-relay', 'relay-to-tun', 'tun-to-ping'];
  const green = await probePath(lab.name, 'host-1', '198.51.100.2');
  assert.equal(green.kind, 'relay');
  assert.match(green.command, /^ping -c 1 -W 2 -e \d+ -I tun19 198\.51\.100\.2$/);
  assert.equal(green.delivered, true);
  assert.deepEqual(green.hops.map((h) => [h.step, h.status]), steps.map((s) => [s, 'passed']));
  assert.equal(green.doctor, undefined);

  const strict = await lab.run('host-1', 'sysctl', ['-qw', 'net.ipv4.conf.tun19.rp_filter=1']);
  assert.equal(strict.code, 0, strict.stderr);
  const red = await probePath(lab.name, 'host-1', '198.51.100.2');
  assert.equal(red.delivered, false);
  assert.deepEqual(red.hops.map((h) => h.status), ['passed', 'passed', 'passed', 'passed', 'failed']);
  assert.equal(red.doctor?.host, 'host-1');
  const fix = red.doctor!.findings.find((f) => f.check === 'tun19 reverse-path filter')?.fix;
  assert.equal(fix, 'sysctl -w net.ipv4.conf.tun19.rp_filter=2');

  const [cmd, ...args] = fix!.split(' ');
  assert.equal((await lab.run('host-1', cmd, args)).code, 0);
  const again = await probePath(lab.name, 'host-1', '198.51.100.2');
  assert.equal(again.delivered, true);
  assert.ok(again.hops.every((h) => h.status === 'passed'));
});

test('probe inputs the lab cannot use are refused with a reason', { skip: ROOT_SKIP }, async () => {
  await assert.rejects(probePath(lab.name, 'host-2', '198.51.100.1'), /host-2 runs no relay/);
  await assert.rejects(probePath(lab.name, 'nobody', '198.51.100.1'), /not a pod or host of lab/);
  await assert.rejects(probePath(lab.name, 'host-1', 'not-an-address'), /give an IPv4 or IPv6 address/);
});
