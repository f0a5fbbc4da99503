// The live page in a real headless Chromium: it loads, shows the device and
// the nodes, and its counters move while a ping runs through the overlay.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayCluster } from '../../harness/overlay-cluster.js';
import { labName, CHROMIUM_SKIP } from './helpers.js';

const PROBE = new URL('../../harness/page-probe.js', import.meta.url).pathname;
const skip = CHROMIUM_SKIP;

let cluster: OverlayCluster;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tdlab-page-'));
  cluster = await OverlayCluster.up(labName('page'), 3, 1);
  await cluster.start(1, ['--metrics', '127.0.0.1:9101']);
  await cluster.start(2);
  await cluster.start(3);
});
after(async () => {
  await cluster?.down();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the live page shows the overlay node, its peers, counters that move and charts that rise while a ping runs', { skip }, async () => {
  const lab = cluster.lab;
  const shot = join(dir, 'live-page.png');
  const probe = lab.spawn('host-1', process.execPath, [PROBE, 'http://127.0.0.1:9101/', 'sent', '10', shot], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  probe.stdout!.on('data', (d) => (out += d));
  probe.stderr!.on('data', (d) => (err += d));
  // Start the traffic once the page is up.
  for (let i = 0; i < 300 && !out.includes('ready') && probe.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(out.includes('ready'), `the page did not load: ${err}`);
  const ping = await lab.run('host-1-pod1', 'ping', ['-c', '20', '-i', '0.1', '10.244.2.2']);
  assert.match(ping.stdout, /20 received/);
  const code = await new Promise((r) => probe.on('exit', r));
  assert.equal(code, 0, err);
  const shown = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(shown.mode, 'overlay');
  assert.equal(shown.device, 'flannel0');
  assert.equal(shown.rows.length, 2, 'both other nodes are listed');
  assert.match(shown.rows.join('\n'), /10\.244\.2\.0\/24\s+198\.51\.100\.2:8285/);
  assert.match(shown.rows.join('\n'), /10\.244\.3\.0\/24\s+198\.51\.100\.3:8285/);
  // How the data plane waited, read by the page from the same status.
  assert.match(shown.ioWait, /^waits: (idle|hot), \d+ wakes \([\d.k]+\/s\), \d+ answer spins \(\d+ caught\)$/);
  assert.ok(shown.last - shown.first >= 10, `the sent counter moved from ${shown.first} to ${shown.last}`);
  assert.ok(statSync(shot).size > 10_000, 'a screenshot was taken');
  // The charts: a point a second since the page opened, the sent rate above zero while the ping ran.
  assert.ok(shown.chartPoints >= 2, `the charts hold ${shown.chartPoints} points`);
  assert.ok(shown.chartSent >= 3, `the packets/s chart peaked at ${shown.chartSent} sent/s during a 10/s ping`);
  assert.ok(shown.canvases >= 2, `${shown.canvases} charts drawn`);
});
