// The linux-arm64 build, run, not only built: an arm64 Node.js under
// qemu-user loads the cross-built addon from the package's prebuilds (as on
// a Raspberry Pi or a Graviton node), checks it against independent answers
// (test/arm64/checks.ts: checksum, ChaCha20-Poly1305 against node:crypto,
// a real TUN read and written in a namespace), then runs the unit tests
// that need no namespace. `npm run test:arm64` runs this file alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arm64Missing, prepareArm64, qemuNode } from '../../harness/arm64.js';
import { ROOT_SKIP, scratchNetns } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
// The arm64 processes report in TAP: not in the serialized form node --test asks of its own children.
const CHILD_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
const CACHE = join(ROOT, '.cache', 'arm64');

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : []));
}

/** Pass and fail counts from node:test's closing lines. */
function counts(out: string): { pass: number; fail: number } {
  return { pass: Number(/^# pass (\d+)$/m.exec(out)?.[1] ?? NaN), fail: Number(/^# fail (\d+)$/m.exec(out)?.[1] ?? NaN) };
}

const SKIP = ROOT_SKIP || arm64Missing() || false;

test('the linux-arm64 build under qemu: the addon loads and agrees with independent answers, a TUN works', { skip: SKIP, timeout: 20 * 60_000 }, () => {
  const t0 = Date.now();
  const setup = prepareArm64(ROOT, CACHE);
  const lines: string[] = [`arm64 set-up: ${JSON.stringify(setup.timings)} (ms)`];
  // The checks, in a namespace of their own (the TUN one needs it).
  const ns = scratchNetns('arm64');
  const [qemu, args] = qemuNode(setup, [join(setup.pkg, 'dist', 'test', 'arm64', 'checks.js')]);
  const t1 = Date.now();
  const checks = spawnSync('ip', ['netns', 'exec', ns, 'env', 'TD_ARM64_TUN=1', qemu, ...args], { encoding: 'utf8', timeout: 600_000, env: CHILD_ENV });
  const c = counts(checks.stdout);
  lines.push(`checks: ${c.pass} passed, ${c.fail} failed in ${Date.now() - t1} ms`);
  assert.equal(checks.status, 0, checks.stdout + checks.stderr);
  assert.deepEqual(c, { pass: 4, fail: 0 }, checks.stdout);
  lines.push(`in all ${Date.now() - t0} ms`);
  console.log(lines.join('\n'));
});

test('the linux-arm64 build under qemu: the unit tests that need no namespace pass', { skip: SKIP || (process.env.TD_ARM64_UNITS !== '1' && 'run by npm run test:arm64 (as .ci/run does after npm test): ~90 s under qemu'), timeout: 40 * 60_000 }, () => {
  const setup = prepareArm64(ROOT, CACHE);
  const lines: string[] = [];
  // The unit tests, each file in one arm64 process. Those that start child
  // processes of process.execPath cannot run here (an arm64 binary started
  // without qemu: this machine registers no binfmt handler for it).
  const t2 = Date.now();
  let pass = 0;
  const failed: string[] = [];
  const skipped: string[] = [];
  for (const file of testFiles(join(setup.pkg, 'dist', 'src')).sort()) {
    const name = relative(join(setup.pkg, 'dist'), file);
    const source = spawnSync('grep', ['-lE', 'child_process|execPath', file], { encoding: 'utf8' });
    if (source.status === 0) {
      skipped.push(name);
      continue;
    }
    const [q, a] = qemuNode(setup, [file]);
    const r = spawnSync(q, a, { encoding: 'utf8', timeout: 300_000, env: CHILD_ENV });
    const n = counts(r.stdout);
    pass += n.pass || 0;
    if (r.status !== 0 || !(n.fail === 0 && n.pass > 0)) failed.push(`${name}: ${(r.stdout + r.stderr).split('\n').filter((l) => /^not ok|Error/.test(l)).slice(0, 3).join(' | ')}`);
  }
  lines.push(`unit tests under qemu: ${pass} passed in ${Date.now() - t2} ms; ${failed.length} files failed; not run (they start child processes): ${skipped.join(', ')}`);
  console.log(lines.join('\n'));
  assert.deepEqual(failed, []);
  assert.ok(pass > 150, `${pass} unit tests passed`);
});
