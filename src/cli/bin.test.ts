// The bin as npm and npx run it: directly, as an executable with a shebang
// (tests elsewhere run it through `node`, which hid a missing +x bit once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { bin: Record<string, string> };
const bin = `${root}${pkg.bin['tun-driver']}`;

test('the tun-driver bin is executable and answers --help with examples', () => {
  assert.ok(statSync(bin).mode & 0o111, `${bin} is not executable`);
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: tun-driver/);
  assert.match(r.stdout, /Examples:/);
  for (const command of ['tun', 'lab', 'relay', 'overlay', 'status', 'doctor']) assert.match(r.stdout, new RegExp(`\\n  ${command} `));
});

test('every command has --help with an example', () => {
  for (const command of [['tun', 'add'], ['tun', 'show'], ['lab', 'up'], ['lab', 'exec'], ['relay'], ['overlay'], ['status'], ['doctor']]) {
    const r = spawnSync(bin, [...command, '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${command.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Examples?:/, command.join(' '));
  }
});
