// The poll loop's decisions on a clock of the test's own: no waiting, no
// timing, the same answer on any machine. How the real loop behaves in
// real time is test/timing/poll-loop.test.ts (reported, not failed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUSY_WAKES_PER_S, CALM_WAKES_PER_S, EXPLORE_MS, freshOdds, learnSpin, RATE_WINDOW_MS, SPIN_BUDGET, SPIN_ODDS, WakeRate, wantsSpin } from './wait-policy.js';

/** Feeds `perSecond` wakes a second for `ms`, one wake at a time; returns the state changes seen. */
function feed(rate: WakeRate, from: number, ms: number, perSecond: number): { changes: string[]; end: number } {
  const changes: string[] = [];
  const step = 1000 / perSecond;
  let t = from;
  for (; t < from + ms; t += step) {
    const c = rate.woke(1, t);
    if (c) changes.push(c);
  }
  return { changes, end: t };
}

test('adaptive: a window above BUSY_WAKES_PER_S turns the loop busy; it stays busy until a window below CALM_WAKES_PER_S', () => {
  const rate = new WakeRate(true);
  let { changes, end } = feed(rate, 0, 500, 500);
  assert.deepEqual(changes, [], 'a trickle stays hot');
  assert.equal(rate.wakesPerSecond, 500);
  ({ changes, end } = feed(rate, end, 300, BUSY_WAKES_PER_S * 2));
  assert.deepEqual(changes, ['busy']);
  assert.equal(rate.busy, true);
  // Between the two thresholds: no change either way.
  ({ changes, end } = feed(rate, end, 500, (BUSY_WAKES_PER_S + CALM_WAKES_PER_S) / 2));
  assert.deepEqual(changes, []);
  assert.equal(rate.busy, true);
  ({ changes } = feed(rate, end, 300, CALM_WAKES_PER_S / 2));
  assert.deepEqual(changes, ['calm']);
  assert.equal(rate.busy, false);
});

test('a plain (non-adaptive) loop measures the rate but never turns busy', () => {
  const rate = new WakeRate(false);
  const { changes } = feed(rate, 0, 500, BUSY_WAKES_PER_S * 3);
  assert.deepEqual(changes, []);
  assert.equal(rate.busy, false);
  assert.ok(rate.wakesPerSecond > BUSY_WAKES_PER_S * 2.5, String(rate.wakesPerSecond));
});

test('an fd whose spins miss stops spinning after about six misses, then explores once per EXPLORE_MS; a catch restores it', () => {
  const rate = new WakeRate(true);
  const odds = freshOdds();
  let now = 1000;
  let misses = 0;
  while (wantsSpin(odds, now, rate) && misses < 50) {
    learnSpin(odds, false);
    misses++;
    now += 1;
  }
  // (1 - SPIN_LEARN)^k < SPIN_ODDS first at k = 6.
  assert.equal(misses, 6);
  assert.ok(odds.spinOdds < SPIN_ODDS);
  // A wake every millisecond for a second: a spin only when EXPLORE_MS have passed since the last one.
  const lastSpin = now - 1;
  const explored: number[] = [];
  for (let t = now; t < now + 1000; t++) if (wantsSpin(odds, t, rate)) explored.push(t);
  assert.deepEqual(explored, [1, 2, 3, 4].map((k) => lastSpin + k * EXPLORE_MS), explored.join(' '));
  for (let k = 0; k < 6; k++) learnSpin(odds, true);
  assert.ok(odds.spinOdds >= SPIN_ODDS, String(odds.spinOdds));
  assert.equal(wantsSpin(odds, now + 1001, rate), true);
});

test('the spin budget: once a window has spent SPIN_BUDGET of itself spinning, no fd spins until the next window', () => {
  const rate = new WakeRate(false);
  const odds = freshOdds();
  rate.woke(1, 0);
  rate.woke(1, RATE_WINDOW_MS); // a window starts at RATE_WINDOW_MS
  rate.spinMs = SPIN_BUDGET * RATE_WINDOW_MS - 0.01;
  assert.equal(wantsSpin(odds, RATE_WINDOW_MS + 1, rate), true);
  rate.spinMs += 0.5;
  assert.equal(wantsSpin(odds, RATE_WINDOW_MS + 2, rate), false, 'over the budget, even with good odds');
  rate.woke(1, 2 * RATE_WINDOW_MS); // the next window
  assert.equal(rate.spinMs, 0);
  assert.equal(wantsSpin(odds, 2 * RATE_WINDOW_MS + 1, rate), true);
});
