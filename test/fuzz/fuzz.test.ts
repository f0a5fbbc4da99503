// A short fuzz run in the suite (npm run fuzz runs the long one): every
// target, a few thousand mutated inputs each, no broken rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './targets.js';

test('fuzz: mutated inputs through every parser and both engines break no rule', () => {
  const counts: string[] = [];
  const total = runFuzz(20261125, 3000, performance.now() + 60_000, (name, n) => counts.push(`${name}: ${n}`));
  assert.equal(total, 8 * 3000, counts.join('; '));
});
