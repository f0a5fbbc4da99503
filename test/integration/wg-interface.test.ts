// tun-driver's WireGuard as a drop-in for wireguard-go, driven by Debian's
// own wg and wg-quick: host-1 is brought up by `wg-quick up` with
// WG_QUICK_USERSPACE_IMPLEMENTATION=tun-driver-wg, host-2 runs wireguard-go,
// host-3 runs tun-driver-wg configured with `wg setconf`. Pings both ways,
// `wg show` with handshakes and byte counts, a peer removed, showconf
// round-tripped through setconf, a peer that roams to a new port, bad
// input over the socket, and `wg-quick down` leaving nothing behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../../src/lab/lab.js';
import { presetTopology } from '../../src/lab/presets.js';
import { generatePrivateKey, publicKeyOf } from '../../src/wireguard/keys.js';
import { uapiDir, uapiSocketPath } from '../../src/wg-interface/uapi-server.js';
import { ping } from '../../harness/daemon-harness.js';
import { WireguardGoNode } from '../../harness/wireguard-go.js';
import { labName, ROOT_SKIP } from './helpers.js';

const WG_MAIN = new URL('../../src/cli/wg-main.js', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// Interface names are machine-wide for the userspace API (one socket directory for every namespace).
const tag = String(process.pid % 10000);
const IF1 = `tdwg1-${tag}`;
const IF2 = `tdwg2-${tag}`;
const IF3 = `tdwg3-${tag}`;

describe('tun-driver-wg driven by wg and wg-quick, beside wireguard-go', { skip: ROOT_SKIP }, () => {
  let lab: Lab;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let wggo: WireguardGoNode;
  const keys = [1, 2, 3].map(() => generatePrivateKey());
  const pub = keys.map((k) => publicKeyOf(k));
  const conf1 = (): string => join(dir, `${IF1}.conf`);

  async function sh(node: string, cmd: string, ...args: string[]): Promise<string> {
    const r = await lab.run(node, 'env', [`PATH=${env.PATH}`, `WG_QUICK_USERSPACE_IMPLEMENTATION=tun-driver-wg`, cmd, ...args], 60_000);
    if (r.code !== 0) throw new Error(`${node}: ${cmd} ${args.join(' ')} (${r.code}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** `wg show IF dump`: public key -> [endpoint, latest handshake, rx, tx]. */
  async function dump(node: string, iface: string): Promise<Map<string, { endpoint: string; handshake: number; rx: number; tx: number }>> {
    const lines = (await sh(node, 'wg', 'show', iface, 'dump')).trim().split('\n').slice(1);
    return new Map(lines.map((l) => {
      const f = l.split('\t');
      return [f[0], { endpoint: f[2], handshake: Number(f[4]), rx: Number(f[5]), tx: Number(f[6]) }];
    }));
  }

  before(async () => {
    lab = await Lab.up(presetTopology('cluster', { name: labName('wgif'), hosts: 3, pods: 1 }));
    dir = mkdtempSync(join(tmpdir(), 'tdlab-wgif-'));
    // tun-driver-wg on PATH, as an npm install would put it there.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'tun-driver-wg'), `#!/bin/sh\nexec ${process.execPath} ${WG_MAIN} "$@"\n`);
    chmodSync(join(bin, 'tun-driver-wg'), 0o755);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    writeFileSync(conf1(), [
      '[Interface]', `PrivateKey = ${keys[0]}`, 'Address = 10.99.0.1/24', 'ListenPort = 51821', '',
      '[Peer]', `PublicKey = ${pub[1]}`, 'Endpoint = 198.51.100.2:51822', 'AllowedIPs = 10.99.0.2/32', '',
      '[Peer]', `PublicKey = ${pub[2]}`, 'Endpoint = 198.51.100.3:51823', 'AllowedIPs = 10.99.0.3/32', '',
    ].join('\n'), { mode: 0o600 });
  });
  after(async () => {
    await wggo?.stop().catch(() => undefined);
    for (const [node, iface] of [['host-1', IF1], ['host-3', IF3]]) await lab?.run(node, 'ip', ['link', 'del', iface]).catch(() => undefined);
    await sleep(300);
    await lab?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
    // The detached daemons' logs (their sockets went with them).
    for (const iface of [IF1, IF3]) rmSync(join(uapiDir(), `${iface}.log`), { force: true });
  });

  test('wg-quick up with tun-driver-wg as its userspace implementation; a wireguard-go peer and a tun-driver-wg peer; pings both ways', async () => {
    const up = await lab.run('host-1', 'env', [`PATH=${env.PATH}`, 'WG_QUICK_USERSPACE_IMPLEMENTATION=tun-driver-wg', 'wg-quick', 'up', conf1()], 60_000);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /Falling back to slow userspace implementation/);
    assert.equal(statSync(uapiSocketPath(IF1)).mode & 0o777, 0o600);
    wggo = new WireguardGoNode(lab, 'host-2', IF2, keys[1], 51822, '10.99.0.2/24', 1420);
    await wggo.start([{ publicKey: pub[0], endpoint: '198.51.100.1:51821', allowedIps: '10.99.0.1/32' }]);
    await sh('host-3', 'tun-driver-wg', IF3);
    const conf3 = join(dir, 'host-3.conf');
    writeFileSync(conf3, ['[Interface]', `PrivateKey = ${keys[2]}`, 'ListenPort = 51823', '', '[Peer]', `PublicKey = ${pub[0]}`, 'Endpoint = 198.51.100.1:51821', 'AllowedIPs = 10.99.0.1/32', ''].join('\n'), { mode: 0o600 });
    await sh('host-3', 'wg', 'setconf', IF3, conf3);
    await sh('host-3', 'ip', 'addr', 'add', '10.99.0.3/24', 'dev', IF3);
    await sh('host-3', 'ip', 'link', 'set', IF3, 'up');
    for (const [from, to] of [['host-1', '10.99.0.2'], ['host-1', '10.99.0.3'], ['host-2', '10.99.0.1'], ['host-3', '10.99.0.1']]) {
      assert.equal((await ping(lab, from, ['-c', '3', '-i', '0.2', '-W', '2', to])).received, 3, `${from} -> ${to}`);
    }
  });

  test('wg show lists both peers with a handshake, and byte counts that match what the other side counted', async () => {
    await sleep(300);
    const ours = await dump('host-1', IF1);
    assert.deepEqual([...ours.keys()].sort(), [pub[1], pub[2]].sort());
    for (const p of ours.values()) assert.ok(p.handshake > 0 && p.rx > 0 && p.tx > 0, JSON.stringify(p));
    const theirs = (await wggo.show()).find((p) => p.publicKey === pub[0])!;
    assert.deepEqual([ours.get(pub[1])!.tx, ours.get(pub[1])!.rx], [theirs.rxBytes, theirs.txBytes], 'what host-1 sent is what wireguard-go received, and back');
    const third = (await dump('host-3', IF3)).get(pub[0])!;
    assert.deepEqual([ours.get(pub[2])!.tx, ours.get(pub[2])!.rx], [third.rx, third.tx]);
  });

  test('wg showconf round-trips through wg setconf; wg set ... remove takes a peer away', async () => {
    const shown = await sh('host-1', 'wg', 'showconf', IF1);
    const file = join(dir, 'showconf.conf');
    writeFileSync(file, shown, { mode: 0o600 });
    await sh('host-1', 'wg', 'setconf', IF1, file);
    assert.equal(await sh('host-1', 'wg', 'showconf', IF1), shown);
    await sh('host-1', 'wg', 'set', IF1, 'peer', pub[2], 'remove');
    assert.deepEqual((await sh('host-1', 'wg', 'show', IF1, 'peers')).trim().split('\n'), [pub[1]]);
    assert.equal((await ping(lab, 'host-1', ['-c', '1', '-W', '1', '10.99.0.3'])).received, 0);
    assert.equal((await ping(lab, 'host-1', ['-c', '1', '-W', '2', '10.99.0.2'])).received, 1);
  });

  test('roaming: a peer that comes from a new port is answered there', async () => {
    await sh('host-2', 'wg', 'set', IF2, 'listen-port', '51832');
    assert.equal((await ping(lab, 'host-2', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.1'])).received, 2);
    assert.equal((await dump('host-1', IF1)).get(pub[1])!.endpoint, '198.51.100.2:51832');
    assert.equal((await ping(lab, 'host-1', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.2'])).received, 2);
  });

  test('bad input over the socket changes nothing; a second daemon on the name is refused', async () => {
    const before = await sh('host-1', 'wg', 'showconf', IF1);
    const script = (body: string): string => `const c=require('net').createConnection(${JSON.stringify(uapiSocketPath(IF1))});let o='';c.on('data',d=>{o+=d;if(o.endsWith('\\n\\n')){process.stdout.write(o);c.end();}});c.write(${JSON.stringify(body)});`;
    const raw = async (body: string): Promise<string> => (await lab.run('host-1', process.execPath, ['-e', script(body)])).stdout;
    assert.equal(await raw('set=1\nlisten_port=99999\n\n'), 'errno=-22\n\n');
    // A good line, then a bad one: all or nothing.
    assert.equal(await raw(`set=1\nlisten_port=51900\npublic_key=${Buffer.from(pub[1], 'base64').toString('hex')}\nallowed_ip=10.1.2.3/40\n\n`), 'errno=-22\n\n');
    assert.equal(await raw('set=1\nfrobnicate=1\n\n'), 'errno=-22\n\n');
    assert.equal(await sh('host-1', 'wg', 'showconf', IF1), before);
    const second = await lab.run('host-1', 'env', [`PATH=${env.PATH}`, 'tun-driver-wg', IF1]);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /answers: another daemon serves/);
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    // The running daemon's socket was left alone: it still answers.
    assert.equal(await sh('host-1', 'wg', 'showconf', IF1), before);
  });

  test('listen-port 0, fwmark, update_only, a preshared key and a persistent keepalive, as wg sets them', async () => {
    // A port the kernel picks.
    await sh('host-3', 'wg', 'set', IF3, 'listen-port', '0');
    const port = Number((await sh('host-3', 'wg', 'show', IF3, 'listen-port')).trim());
    assert.ok(port > 0 && port !== 51823, `listen-port ${port}`);
    await sh('host-3', 'wg', 'set', IF3, 'fwmark', '0x1234');
    assert.equal((await sh('host-3', 'wg', 'show', IF3, 'fwmark')).trim(), '0x1234');
    // update_only (the API's, wg never sends it): a peer that does not exist is not made.
    const stranger = Buffer.from(publicKeyOf(generatePrivateKey()), 'base64').toString('hex');
    const script = `const c=require('net').createConnection(${JSON.stringify(uapiSocketPath(IF3))});let o='';c.on('data',d=>{o+=d;if(o.endsWith('\\n\\n')){process.stdout.write(o);c.end();}});c.write('set=1\\npublic_key=${stranger}\\nupdate_only=true\\nallowed_ip=10.9.9.9/32\\n\\n');`;
    assert.equal((await lab.run('host-3', process.execPath, ['-e', script])).stdout, 'errno=0\n\n');
    assert.doesNotMatch(await sh('host-3', 'wg', 'show', IF3, 'peers'), new RegExp(Buffer.from(stranger, 'hex').toString('base64').replace(/[+/]/g, '\\$&')));
    // host-3 and host-2 (wireguard-go) with a preshared key; host-3 keeps the tunnel alive every second with no traffic.
    const psk = (await sh('host-1', 'wg', 'genpsk')).trim();
    const pskFile = join(dir, 'psk');
    writeFileSync(pskFile, psk, { mode: 0o600 });
    await sh('host-2', 'wg', 'set', IF2, 'peer', pub[2], 'preshared-key', pskFile, 'endpoint', `198.51.100.3:${port}`, 'allowed-ips', '10.99.0.3/32');
    await sh('host-3', 'wg', 'set', IF3, 'peer', pub[1], 'preshared-key', pskFile, 'persistent-keepalive', '1', 'endpoint', '198.51.100.2:51832', 'allowed-ips', '10.99.0.2/32');
    let handshake = 0;
    for (let i = 0; i < 40 && !handshake; i++) {
      await sleep(250);
      handshake = (await dump('host-2', IF2)).get(pub[2])?.handshake ?? 0;
    }
    assert.ok(handshake > 0, 'the keepalive alone made the session (no packet was sent)');
    const before = (await dump('host-3', IF3)).get(pub[1])!.tx;
    await sleep(2500);
    assert.ok((await dump('host-3', IF3)).get(pub[1])!.tx >= before + 2 * 32, 'a 32-byte keepalive every second');
    assert.equal((await ping(lab, 'host-3', ['-c', '2', '-i', '0.2', '-W', '2', '10.99.0.2'])).received, 2);
    // Another preshared key on one side: no session.
    const other = join(dir, 'psk2');
    writeFileSync(other, (await sh('host-1', 'wg', 'genpsk')).trim(), { mode: 0o600 });
    await sh('host-3', 'wg', 'set', IF3, 'peer', pub[1], 'preshared-key', other);
    assert.equal((await ping(lab, 'host-3', ['-c', '1', '-W', '2', '10.99.0.2'])).received, 0);
  });

  test('wg-quick down: the interface goes, the daemon exits and removes its socket', async () => {
    await sh('host-1', 'wg-quick', 'down', conf1());
    for (let i = 0; i < 40 && existsSync(uapiSocketPath(IF1)); i++) await sleep(100);
    assert.equal(existsSync(uapiSocketPath(IF1)), false);
    assert.notEqual((await lab.run('host-1', 'ip', ['link', 'show', IF1])).code, 0);
  });
});
