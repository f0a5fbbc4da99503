// The API reference builds from the public surface (src/index.ts) with no
// warning: every type the API refers to is itself part of it (typedoc.json
// treats warnings as errors). npm run docs writes it to docs/api/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../..', import.meta.url).pathname;

test('typedoc builds the API reference of src/index.ts without a warning', { timeout: 180_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'tdlab-apidocs-'));
  try {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /warning/i);
    assert.ok(existsSync(join(out, 'classes', 'LinuxTun.html')), 'LinuxTun has a page');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
