// The package as a new user gets it: `npm pack`, then `npm i` of the
// tarball into a fresh project on a machine where the C/C++ compilers and
// make cannot run (shadowed on PATH by stubs that fail), so the addon must
// come from the prebuilt binary in the package. Then `import('tun-driver')`
// and the installed CLI making a TUN inside a namespace; and `npm i -g`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_SKIP, run, scratchNetns } from './helpers.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tdlab-pkg-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** PATH with failing stubs for every compiler and make in front. */
function noCompilerEnv(): NodeJS.ProcessEnv {
  const stubs = join(work, 'no-compilers');
  mkdirSync(stubs, { recursive: true });
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make']) {
    writeFileSync(join(stubs, tool), `#!/bin/sh\necho "${tool} is hidden for this test" >&2\nexit 127\n`);
    chmodSync(join(stubs, tool), 0o755);
  }
  return { ...process.env, PATH: `${stubs}:${process.env.PATH}`, CC: join(stubs, 'cc'), CXX: join(stubs, 'g++'), npm_config_audit: 'false', npm_config_fund: 'false' };
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')}: ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

test('npm pack, then install without a compiler: the prebuilt addon loads, import works, the CLI makes a TUN; npm i -g too', { skip: ROOT_SKIP, timeout: 600_000 }, () => {
  // Pack from a copy, so that the checkout's own build/ stays as it is
  // (prebuildify, run by prepack, moves the binary it builds).
  const copy = join(work, 'src-copy');
  mkdirSync(copy);
  const copied = spawnSync('sh', ['-c', `tar -C "${ROOT}" --exclude=./node_modules --exclude=./build --exclude=./prebuilds --exclude=./.git -cf - . | tar -C "${copy}" -xf -`], { encoding: 'utf8' });
  assert.equal(copied.status, 0, copied.stderr);
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  npm(['pack', '--pack-destination', work], copy);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack made a tarball');
  const listing = run('tar', ['-tzf', join(work, tarball)]).stdout;
  assert.match(listing, /package\/prebuilds\/linux-x64\/.*\.node/, 'the tarball ships a prebuilt addon');
  assert.doesNotMatch(listing, /package\/build\//, 'and no build directory');
  // linux-arm64 is cross-compiled when Debian's g++-aarch64-linux-gnu is there (setup-debian.sh installs it).
  if (spawnSync('sh', ['-c', 'command -v aarch64-linux-gnu-g++']).status === 0) {
    assert.match(listing, /package\/prebuilds\/linux-arm64\/tun-driver\.node/, 'the tarball ships a linux-arm64 addon');
    const elf = spawnSync('sh', ['-c', `tar -xzOf "${join(work, tarball)}" package/prebuilds/linux-arm64/tun-driver.node | head -c 20 | od -An -tu1`], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
    assert.deepEqual([elf[4], elf[18], elf[19]], [2, 183, 0], 'a 64-bit ELF for e_machine 183 (AArch64)');
  }
  for (const bin of ['package/dist/src/cli/main.js', 'package/dist/src/cni/main.js']) assert.ok(listing.includes(bin), `${bin} is packed`);

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  const env = noCompilerEnv();
  npm(['install', join(work, tarball)], app, env);
  assert.ok(!existsSync(join(app, 'node_modules', 'tun-driver', 'build')), 'nothing was compiled');

  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "const t = await import('tun-driver'); console.log(typeof t.LinuxTun, typeof t.NetlinkSocket, typeof t.IPv4View)"], { cwd: app, env, encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout.trim(), 'function function function');

  const ns = scratchNetns('pkg');
  const add = spawnSync('ip', ['netns', 'exec', ns, join(app, 'node_modules', '.bin', 'tun-driver'), 'tun', 'add', 'tdpkg0', '--address', '10.244.9.1/24'], { env, encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  assert.match(run('ip', ['-n', ns, 'addr', 'show', 'tdpkg0']).stdout, /inet 10\.244\.9\.1\/24/);

  const prefix = join(work, 'global');
  npm(['install', '-g', '--prefix', prefix, join(work, tarball)], work, env);
  const help = spawnSync(join(prefix, 'bin', 'tun-driver'), ['--help'], { env, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: tun-driver/);
  // The CNI plugin is the package's second executable.
  const cni = spawnSync(join(prefix, 'bin', 'tun-driver-cni'), [], { env: { ...env, CNI_COMMAND: 'VERSION' }, input: '{"cniVersion": "0.4.0"}', encoding: 'utf8' });
  assert.equal(cni.status, 0, cni.stderr);
  assert.deepEqual(JSON.parse(cni.stdout), { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
});
