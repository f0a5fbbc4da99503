// A short soak in the suite (npm run soak runs the long one): 20 s, sealed,
// with host-2's key rotated half-way, of
// iperf3 TCP plus a 100/s ping through the overlay and four `ping -f`
// through the relay; no daemon dies, no RSS growth past 10 % after the
// warm-up, no internal-error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soak } from '../../scripts/soak.js';
import { ROOT_SKIP } from './helpers.js';

test('soak, 20 s, sealed with a key rotation half-way: both daemons keep carrying, flat memory, no internal errors', { skip: ROOT_SKIP, timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const r = await soak(1 / 3, 3, (line) => lines.push(line), { sealed: true });
  assert.ok(r.ok, lines.join('\n'));
  assert.ok(r.samples >= 3, lines.join('\n'));
  assert.ok(lines.some((l) => /key rotated/.test(l)), lines.join('\n'));
  console.log(lines.join('\n'));
});
