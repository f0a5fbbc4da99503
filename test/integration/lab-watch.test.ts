// `lab watch` in a real headless Chromium against a real 3-host lab: the
// map shows every host and pod, a tunnel's chart gains points and its rate
// rises while iperf3 runs between two pods, a probe draws all nine hops
// green, a firewall rule on one node turns its hop red with doctor's fix,
// and the fix turns it green again; a daemon that stops shows as down.
// The page server and the browser both run inside host-1's namespace, so
// every packet of the test stays in the lab.
// With TUN_DRIVER_SCREENSHOTS=DIR the test also saves the pictures that
// docs/observability.md shows.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { leaseFor, OverlayCluster } from '../../harness/overlay-cluster.js';
import { WatchDriver } from '../../harness/watch-driver-client.js';
import { labName, CHROMIUM_SKIP } from './helpers.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;
const skip = CHROMIUM_SKIP;
const SHOTS = process.env.TUN_DRIVER_SCREENSHOTS;
const URL_ = 'http://127.0.0.1:9180/';

let cluster: OverlayCluster;
let watch: ChildProcess;
let watchOut = '';
let page: WatchDriver;

before(async () => {
  if (skip) return;
  cluster = await OverlayCluster.up(labName('watch'), 3, 1);
  for (const h of [1, 2, 3]) await cluster.start(h);
  watch = cluster.lab.spawn('host-1', process.execPath, [CLI, 'lab', 'watch', '--lab', cluster.lab.name, '--listen', '127.0.0.1:9180'], { stdio: ['ignore', 'pipe', 'pipe'] });
  watch.stdout!.on('data', (d) => (watchOut += d));
  watch.stderr!.on('data', (d) => (watchOut += d));
  for (let i = 0; i < 100 && !watchOut.includes('watching lab'); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(watchOut, /watching lab \S+ at http:\/\/127\.0\.0\.1:9180\//);
  page = await WatchDriver.open(cluster.lab.ns('host-1'), URL_);
});
after(async () => {
  await page?.close().catch(() => undefined);
  if (watch && watch.exitCode === null) watch.kill('SIGKILL');
  await cluster?.down();
});

const shot = async (name: string, selector?: string): Promise<void> => {
  if (SHOTS) await page.send({ op: 'screenshot', path: join(SHOTS, name), selector });
};

async function probe(from: string, to: string): Promise<{ delivered: boolean; hops: Array<{ step: string; status: string; host: string }>; doctor?: { host: string; findings: Array<{ check: string; fix?: string }> } }> {
  await page.send({ op: 'select', selector: '#probe-from', value: from });
  await page.send({ op: 'fill', selector: '#probe-to', value: to });
  await page.click('#probe-run');
  await page.waitFor('state.probe && !state.probe.running', 40_000);
  const shown = await page.eval<Array<{ step: string; status: string }>>("[...document.querySelectorAll('.hop')].map((h) => ({ step: h.dataset.hop, status: h.dataset.hopStatus }))");
  const report = await page.eval<string>('JSON.stringify(state.probe)');
  const parsed = JSON.parse(report);
  assert.deepEqual(shown, parsed.hops.map((h: { step: string; status: string }) => ({ step: h.step, status: h.status })), 'the page draws the hops it was given');
  return parsed;
}

test('the map shows every host, pod and tunnel of the lab', { skip }, async () => {
  await page.waitFor("document.querySelectorAll('[data-node]').length === 3 && document.querySelectorAll('.tunnel[data-tunnel]').length === 3");
  const hosts = await page.eval<Array<[string, string]>>("[...document.querySelectorAll('.host')].map((g) => [g.dataset.node, g.dataset.state])");
  assert.deepEqual(hosts, [['host-1', 'up'], ['host-2', 'up'], ['host-3', 'up']]);
  const pods = await page.eval<string[]>("[...document.querySelectorAll('.pod')].map((g) => g.textContent)");
  assert.deepEqual(pods, [1, 2, 3].map((h) => `host-${h}-pod1${cluster.podIp(h, 1)}`));
  const text = await page.eval<string>("document.getElementById('map').textContent");
  for (const h of [1, 2, 3]) {
    assert.ok(text.includes(`198.51.100.${h}`), `host-${h}'s public address is shown`);
    assert.ok(text.includes(`10.244.${h}.0/24`), `host-${h}'s subnet is shown`);
  }
  assert.equal(await page.eval("document.querySelectorAll('.tun').length"), 3, 'each host shows its TUN');
  const cluster_ = await page.eval<string>("fetch('/cluster.json').then((r) => r.text())");
  assert.equal(JSON.parse(cluster_).nodes.length, 3, '/cluster.json serves the same map');
});

test("a tunnel's chart gains points and its rate rises while iperf3 runs between two pods", { skip }, async () => {
  await page.click('text.tunnel-label[data-tunnel="host-1~host-2"]');
  await page.waitFor("state.selected === 'tunnel:host-1~host-2' && document.querySelectorAll('#chart-bps canvas').length > 0");
  const before = await page.eval<number>('charts.bps.points');
  const server = cluster.lab.spawn('host-2-pod1', 'iperf3', ['-s', '-1'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const client = cluster.lab.run('host-1-pod1', 'iperf3', ['-c', cluster.podIp(2, 1), '-t', '5'], 30_000);
  try {
    // The link's label carries the rate host-1 sends at: above 10 Mbit/s while iperf3 runs.
    await page.waitFor("Number(document.querySelector('.tunnel[data-tunnel=\"host-1~host-2\"]').dataset.abBps) > 1e7", 15_000);
    const width = await page.eval<number>("Number(document.querySelector('.tunnel[data-tunnel=\"host-1~host-2\"] path.line').getAttribute('stroke-width'))");
    const idle = await page.eval<number>("Number(document.querySelector('.tunnel[data-tunnel=\"host-2~host-3\"] path.line').getAttribute('stroke-width'))");
    assert.ok(width > idle + 3, `the busy link is drawn wider (${width}) than an idle one (${idle})`);
    await shot('lab-watch-map.png');
  } finally {
    const r = await client;
    server.kill();
    assert.equal(r.code, 0, r.stderr);
  }
  await new Promise((r) => setTimeout(r, 1500));
  const after_ = await page.eval<number>('charts.bps.points');
  assert.ok(after_ >= before + 5, `the chart went from ${before} to ${after_} points`);
  const peak = await page.eval<number>("Math.max(...state.hist.s['tunnel:host-1~host-2:ab.bps'].filter((v) => v !== null))");
  assert.ok(peak > 1e7, `the host-1 -> host-2 series peaked at ${peak} bit/s`);
  await shot('lab-watch-charts.png', '#charts');
});

test('a probe draws the path green; a firewall drop on host-2 turns its hop red with doctor\'s fix, and the fix turns it green', { skip }, async () => {
  const target = cluster.podIp(2, 1);
  const green = await probe('host-1-pod1', target);
  assert.equal(green.delivered, true);
  assert.deepEqual(green.hops.map((h) => h.status), Array(9).fill('passed'), 'all nine hops, at both nodes, passed');
  assert.deepEqual(green.hops.map((h) => h.host), ['host-1', 'host-1', 'host-2', 'host-2', 'host-2', 'host-2', 'host-1', 'host-1', 'host-1']);

  // Break the UDP hop into host-2: its firewall drops the overlay's port.
  const nft = async (...args: string[]): Promise<void> => {
    const r = await cluster.lab.run('host-2', 'nft', args);
    assert.equal(r.code, 0, r.stderr);
  };
  await nft('add', 'table', 'inet', 'tdtest');
  await nft('add', 'chain', 'inet', 'tdtest', 'input', '{ type filter hook input priority 0; }');
  await nft('add', 'rule', 'inet', 'tdtest', 'input', 'udp', 'dport', '8285', 'drop');
  const red = await probe('host-1-pod1', target);
  assert.equal(red.delivered, false);
  assert.deepEqual(red.hops.map((h) => h.status), ['passed', 'passed', 'failed', ...Array(6).fill('not-reached')]);
  assert.equal(red.hops[2].step, 'udp-to-daemon');
  assert.equal(red.doctor?.host, 'host-2');
  const fix = red.doctor!.findings.find((f) => f.fix?.startsWith('nft delete rule inet tdtest input'))?.fix;
  assert.ok(fix, `doctor on host-2 names the rule and its fix: ${JSON.stringify(red.doctor!.findings)}`);
  const drawn = await page.eval<string>("document.getElementById('probe-doctor').textContent");
  assert.ok(drawn.includes(fix), 'the page shows the fix at the red hop');
  assert.equal(await page.eval("document.querySelector('.hop[data-hop-status=failed]').dataset.hop"), 'udp-to-daemon');
  await shot('lab-watch-probe-failed.png', '#probe');

  // Apply doctor's fix as a reader would, and probe again.
  const applied = await cluster.lab.run('host-2', 'sh', ['-c', fix]);
  assert.equal(applied.code, 0, applied.stderr);
  const again = await probe('host-1-pod1', target);
  assert.equal(again.delivered, true);
  assert.deepEqual(again.hops.map((h) => h.status), Array(9).fill('passed'));
  assert.equal(await page.eval("document.getElementById('probe-doctor')"), null, 'no finding is shown once the path passes');
  await nft('delete', 'table', 'inet', 'tdtest');
});

test('labels switch to Chinese and back', { skip }, async () => {
  await page.click('#lang');
  assert.equal(await page.eval("document.querySelector('[data-i18n=map]').textContent"), '集群拓扑');
  assert.equal(await page.eval('document.documentElement.lang'), 'zh-CN');
  assert.equal(await page.eval("document.querySelector('.hop[data-hop=udp-to-daemon] b').textContent"), 'UDP 到达对端守护进程', 'the drawn path is relabelled too');
  await shot('lab-watch-zh.png');
  await page.click('#lang');
  assert.equal(await page.eval("document.querySelector('[data-i18n=map]').textContent"), 'Cluster map');
});

test('a peer refused for want of a key is drawn as a tunnel without a handshake, and as carrying again once it is fixed', { skip }, async () => {
  // host-2 starts with a WireGuard key; host-1 has none, so host-2 refuses it (no --allow-plaintext-peers).
  const keyFile = `${cluster.leasesFile}.host-2.key`;
  assert.equal((await cluster.lab.run('host-2', process.execPath, [CLI, 'keygen', '--out', keyFile])).code, 0);
  const pub = await cluster.lab.run('host-2', 'sh', ['-c', `"${process.execPath}" "${CLI}" pubkey < "${keyFile}"`]);
  assert.equal(pub.code, 0, pub.stderr);
  cluster.writeLeases([1, 2, 3].map((h) => ({ ...leaseFor(h), ...(h === 2 ? { publicKey: pub.stdout.trim() } : {}) })));
  await cluster.stop(2);
  await cluster.start(2, ['--private-key', keyFile]);
  const tunnel = (id: string): string => `document.querySelector('.tunnel[data-tunnel="${id}"]')`;
  await page.waitFor(`${tunnel('host-1~host-2')}.dataset.state === 'no-handshake'`, 15_000);
  const why = await page.eval<string>(`${tunnel('host-1~host-2')}.querySelector('title').textContent`);
  assert.match(why, /host-2: refused: no key/);
  assert.equal(await page.eval(`document.querySelector('text.tunnel-label[data-tunnel="host-1~host-2"]').textContent`), 'no handshake');
  cluster.writeLeases([1, 2, 3].map((h) => leaseFor(h)));
  await cluster.stop(2);
  await cluster.start(2);
  await page.waitFor(`${tunnel('host-1~host-2')}.dataset.state === 'ok'`, 15_000);
});

test('a daemon that stops shows as down, with its tunnels; SIGTERM stops lab watch', { skip }, async () => {
  await cluster.stop(3);
  await page.waitFor("document.querySelector('[data-node=\"host-3\"]').dataset.state === 'down'", 10_000);
  const states = await page.eval<string[]>("['host-1~host-3', 'host-2~host-3'].map((id) => document.querySelector('.tunnel[data-tunnel=\"' + id + '\"]').dataset.state)");
  assert.deepEqual(states, ['down', 'down']);
  assert.equal(await page.eval("document.querySelector('.tunnel[data-tunnel=\"host-1~host-2\"]').dataset.state"), 'ok');
  await page.close();
  watch.kill('SIGTERM');
  const code = await new Promise((r) => (watch.exitCode !== null ? r(watch.exitCode) : watch.on('exit', r)));
  assert.equal(code, 0);
  assert.match(watchOut, /lab watch: stopped \(SIGTERM\)/);
});

test('bad flags: one line naming what to fix, exit 2', () => {
  for (const [args, said] of [
    [['--listen', '0.0.0.0:9180'], /loopback only/],
    [['--listen', 'localhost'], /expected IPV4:PORT/],
    [['--lab', 'no-such-lab'], /no lab named "no-such-lab" is up/],
  ] as const) {
    const r = spawnSync(process.execPath, [CLI, 'lab', 'watch', ...args], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, said);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
});
