// `tun-driver cni install|uninstall` into temporary directories: what is
// written, that the copied plugin runs on its own (also once the package is
// gone from where it was), that someone else's file is never overwritten,
// and that uninstall removes exactly what install wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cniInstall, cniUninstall, pluginFiles } from './install.js';
import { TunDriverError } from '../errors.js';

const ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

function dirs(): { root: string; bin: string; bin2: string; conf: string } {
  const root = mkdtempSync(join(tmpdir(), 'td-cni-install-'));
  return { root, bin: join(root, 'opt/cni/bin'), bin2: join(root, 'usr/lib/cni'), conf: join(root, 'etc/cni/net.d') };
}

const options = (d: ReturnType<typeof dirs>, extra: Partial<Parameters<typeof cniInstall>[0]> = {}) => ({
  binDirs: [d.bin, d.bin2], confDir: d.conf, name: 'pods', subnetFile: '/run/flannel/subnet.env', priority: 10, pluginEntry: ENTRY, nodePath: process.execPath, ...extra,
});

test("the plugin's files are its entry and what it imports, none outside Node's built-ins", () => {
  const { files } = pluginFiles(ENTRY);
  assert.ok(files.includes('cni/main.js') && files.includes('cni/cni-plugin.js'), files.join(' '));
  assert.ok(files.length < 20, `a small closure: ${files.length} files`);
});

test('install writes a launcher and the plugin in each bin dir and a conflist like flannel\'s; the plugin runs from there alone', () => {
  const d = dirs();
  try {
    cniInstall(options(d));
    const conf = JSON.parse(readFileSync(join(d.conf, '10-tun-driver.conflist'), 'utf8'));
    assert.deepEqual(conf, {
      name: 'pods', cniVersion: '1.0.0',
      plugins: [
        { type: 'tun-driver-cni', subnetFile: '/run/flannel/subnet.env', delegate: { hairpinMode: true, isDefaultGateway: true } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    });
    for (const bin of [d.bin, d.bin2]) {
      // The launcher runs the copy, not the package: VERSION answers from the bin dir.
      const r = spawnSync(join(bin, 'tun-driver-cni'), [], { env: { CNI_COMMAND: 'VERSION', PATH: '/usr/bin:/bin' }, encoding: 'utf8', input: '' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).supportedVersions, ['0.3.0', '0.3.1', '0.4.0', '1.0.0']);
    }
    // Where Node.js and the plugin are gone, the launcher says where it looked.
    rmSync(join(d.bin, 'tun-driver-cni.d', 'cni', 'main.js'));
    const gone = spawnSync(join(d.bin, 'tun-driver-cni'), [], { env: { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' }, encoding: 'utf8' });
    assert.equal(gone.status, 1);
    assert.match(JSON.parse(gone.stdout).details, /looked for Node\.js at .* and on PATH, and for the plugin at .*tun-driver-cni\.d\/cni\/main\.js: run tun-driver cni install again/);
  } finally {
    rmSync(d.root, { recursive: true, force: true });
  }
});

test("install never overwrites someone else's file, replaces its own, and uninstall removes exactly what it wrote", () => {
  const d = dirs();
  try {
    mkdirSync(d.bin, { recursive: true });
    writeFileSync(join(d.bin, 'bridge'), 'not ours');
    mkdirSync(d.conf, { recursive: true });
    writeFileSync(join(d.conf, '10-tun-driver.conflist'), '{"name": "someone else"}');
    assert.throws(() => cniInstall(options(d)), (e: TunDriverError) => e.code === 'TUN_ERR_USAGE' && /10-tun-driver\.conflist exists and tun-driver did not write it/.test(e.message));
    assert.deepEqual(readdirSync(d.bin), ['bridge'], 'nothing written');
    assert.equal(existsSync(d.bin2), false);
    rmSync(join(d.conf, '10-tun-driver.conflist'));
    cniInstall(options(d));
    cniInstall(options(d, { name: 'pods2' })); // again: its own files are replaced
    assert.equal(JSON.parse(readFileSync(join(d.conf, '10-tun-driver.conflist'), 'utf8')).name, 'pods2');
    const { removed, kept } = cniUninstall(d.conf);
    assert.deepEqual(kept, []);
    assert.ok(removed.length > 4);
    assert.deepEqual(readdirSync(d.bin), ['bridge'], "someone else's plugin stays, ours is gone");
    assert.deepEqual(readdirSync(d.conf), []);
    assert.equal(existsSync(d.bin2), false, 'the directories the install made are gone too');
  } finally {
    rmSync(d.root, { recursive: true, force: true });
  }
});

test('bad input: a network name a runtime cannot take, a bin dir under a file: one line, nothing written', () => {
  const d = dirs();
  try {
    assert.throws(() => cniInstall(options(d, { name: 'my net' })), /--name my net: a CNI network name is letters/);
    assert.throws(() => cniInstall(options(d, { name: '-pods' })), /--name -pods/);
    const file = join(d.root, 'a-file');
    writeFileSync(file, '');
    assert.throws(() => cniInstall(options(d, { binDirs: [join(file, 'bin')] })), /--bin-dir .*a-file\/bin: .*a-file is not a directory/);
    assert.equal(existsSync(d.bin), false);
    assert.throws(() => cniUninstall(join(d.root, 'nowhere')), /nothing to uninstall/);
  } finally {
    rmSync(d.root, { recursive: true, force: true });
  }
});
