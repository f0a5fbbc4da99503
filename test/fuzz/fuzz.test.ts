// A short fuzz run in the suite (npm run fuzz runs the long one): every
// target, a few thousand mutated inputs each, no broken rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allTargets, runFuzz } from '../../harness/fuzz/targets.js';

test('fuzz: mutated inputs through every parser and every engine (plain and sealed) break no rule', () => {
  const counts: string[] = [];
  const total = runFuzz(20261125, 3000, performance.now() + 60_000, (name, n) => counts.push(`${name}: ${n}`));
  // Every target ran all its inputs within the time bound.
  assert.equal(counts.length, allTargets().length, counts.join('; '));
  assert.equal(total, counts.length * 3000, counts.join('; '));
});
