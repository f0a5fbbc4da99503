// The examples in examples/, run as a user would (node dist/examples/X.js
// inside a namespace), each checked: the echo responder answers ping, the
// UDP tunnel carries ping between two lab hosts, the netlink example's
// route is visible to `ip -j route`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { Lab } from '../../src/lab/lab.js';
import { presetTopology } from '../../src/lab/presets.js';
import { ipJson, labName, ROOT_SKIP, run, scratchNetns } from './helpers.js';

const example = (name: string): string => new URL(`../../examples/${name}.js`, import.meta.url).pathname;
const children: ChildProcess[] = [];
after(() => children.forEach((c) => c.kill()));

/** Starts an example in a namespace; resolves once it printed its first line. */
function startIn(netns: string, name: string, args: string[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, example(name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
}

test('echo-responder: a TUN answers pings itself', { skip: ROOT_SKIP }, async () => {
  const ns = scratchNetns('execho');
  const child = await startIn(ns, 'echo-responder', ['tdecho0', '10.77.0.1/24']);
  const r = run('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.0.2']);
  assert.match(r.stdout, /3 received/, r.stdout + r.stderr);
  child.kill('SIGTERM');
});

test('udp-tunnel: two lab hosts ping each other through the tunnel', { skip: ROOT_SKIP }, async () => {
  const lab = await Lab.up(presetTopology('two-hosts', { name: labName('extun') }));
  try {
    await startIn(lab.ns('host-1'), 'udp-tunnel', ['198.51.100.1', '198.51.100.2', '10.78.0.1/30']);
    await startIn(lab.ns('host-2'), 'udp-tunnel', ['198.51.100.2', '198.51.100.1', '10.78.0.2/30']);
    const r = await lab.run('host-1', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.78.0.2']);
    assert.match(r.stdout, /3 received/, r.stdout + r.stderr);
  } finally {
    children.forEach((c) => c.kill());
    await lab.down();
  }
});

test('netlink-routes: the route it adds is what ip -j route shows', { skip: ROOT_SKIP }, () => {
  const ns = scratchNetns('exnl');
  const r = run('ip', ['netns', 'exec', ns, process.execPath, example('netlink-routes'), '--keep']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /10\.80\.0\.0\/16 via 10\.79\.0\.254/);
  const routes = ipJson(ns, 'route', 'show') as Array<{ dst: string; gateway?: string; dev: string }>;
  assert.ok(routes.some((x) => x.dst === '10.80.0.0/16' && x.gateway === '10.79.0.254' && x.dev === 'tdex-br0'), JSON.stringify(routes));
});
