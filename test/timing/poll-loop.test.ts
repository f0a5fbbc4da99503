// The poll loop in real time: CPU while idle, the busy mode under a fast
// writer, the answer spin against a real echo process, the spin budget.
// The timing bars are reported (harness/timing.ts), not failed; what must
// hold on any machine (modes after packets, every write seen) is asserted.
// The loop's decisions on a clock of the test's own: src/io/wait-policy.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { BUSY_WAKES_PER_S, LINGER_MS, PollLoop, SPIN_BUDGET, SPIN_MS } from '../../src/io/poll-loop.js';
import { cpuOver, fifo, startEcho, tick } from '../../harness/fifo.js';
import { reportBar } from '../../harness/timing.js';

test('an idle loop sleeps in libuv; packets make it hot; LINGER_MS after the last one it sleeps again', async (t) => {
  const f = fifo();
  const loop = new PollLoop();
  const seen: string[] = [];
  const unwatch = loop.watch(f.fd, () => seen.push(f.drain()));
  try {
    assert.equal(loop.isHot, false);
    // Spinning would burn ~300 ms of CPU in 300 ms; sleeping, a few.
    const idle = await cpuOver(300);
    reportBar(t, 'CPU over 300 ms idle', `${idle.toFixed(1)} ms`, '< 60 ms', idle < 60);
    writeSync(f.fd, 'a');
    while (seen.length < 1) await tick();
    assert.equal(loop.isHot, true);
    await new Promise((r) => setTimeout(r, LINGER_MS + 300));
    assert.equal(loop.isHot, false);
    const cooled = await cpuOver(300);
    reportBar(t, 'CPU over 300 ms after cooling', `${cooled.toFixed(1)} ms`, '< 60 ms', cooled < 60);
    // Cold again, the next packet is still seen (and heats the loop).
    writeSync(f.fd, 'b');
    while (seen.length < 2) await tick();
    assert.deepEqual(seen, ['a', 'b']);
    assert.equal(loop.isHot, true);
  } finally {
    unwatch();
    f.done();
  }
  assert.equal(loop.isHot, false);
});

test('adaptive: a wake rate above BUSY_WAKES_PER_S sends the loop to libuv (busy); a slow trickle brings it back hot; a plain loop stays hot', async (t) => {
  for (const adaptive of [true, false]) {
    const dir = mkdtempSync(join(tmpdir(), 'td-poll-fast-'));
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    const fd = native.openPath(path, constants.O_RDWR | constants.O_NONBLOCK);
    const buf = Buffer.alloc(65536);
    const loop = new PollLoop(adaptive);
    let bytes = 0;
    let maxRate = 0;
    const modes = new Set<string>();
    const unwatch = loop.watch(fd, () => {
      bytes += readSync(fd, buf);
      const s = loop.stats();
      modes.add(s.mode);
      maxRate = Math.max(maxRate, s.wakesPerSecond);
    });
    try {
      // Another process writes one byte every 50 us for 600 ms (up to 20,000 a second): each write may wake the loop.
      const script = `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(path)}, 'w'); const end = Date.now() + 600; let n = 0;
        while (Date.now() < end) { const t = process.hrtime.bigint(); fs.writeSync(fd, 'x'); n++; while (process.hrtime.bigint() - t < 50000n); }
        process.stdout.write(String(n));`;
      const writer = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let written = '';
      writer.stdout!.on('data', (d) => (written += d));
      await new Promise((r) => writer.on('exit', r));
      while (bytes < Number(written)) await tick();
      const fastEnough = maxRate > BUSY_WAKES_PER_S;
      reportBar(t, `${adaptive ? 'adaptive' : 'plain'} loop: the writer's wake rate`, `${maxRate}/s`, `> ${BUSY_WAKES_PER_S}/s`, fastEnough);
      // Busy follows from the rate: asserted only when the machine produced it.
      if (adaptive && fastEnough) assert.ok(modes.has('busy') && loop.stats().busied >= 1, `modes seen: ${[...modes]}`);
      if (!adaptive) assert.ok(!modes.has('busy'), 'a plain loop never goes busy');
      // A trickle (one write every 20 ms) is the ping case: hot again.
      for (let k = 0; k < 15; k++) {
        writeSync(fd, 'y');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(loop.stats().mode, 'hot', JSON.stringify(loop.stats()));
    } finally {
      unwatch();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('the answer spin: a wake whose answer comes back soon is followed by a spin that catches it; an fd whose wakes get no answer learns not to spin', async (t) => {
  // trigger: the "request" this test writes; req: where the loop's callback forwards it; ans: where another process echoes it.
  const [trigger, req, ans] = [fifo(), fifo(), fifo()];
  // The echo answers at once: within tens of microseconds.
  const echo = startEcho(req.path, ans.path, 0);
  const loop = new PollLoop();
  let answers = 0;
  const unwatchTrigger = loop.watch(trigger.fd, () => writeSync(req.fd, trigger.drain()));
  const unwatchAns = loop.watch(ans.fd, () => (answers += ans.drain().length));
  const ROUNDS = 40;
  try {
    await new Promise((r) => setTimeout(r, 300)); // the echo process starts and opens its ends
    for (let k = 0; k < ROUNDS; k++) {
      writeSync(trigger.fd, 'x');
      await new Promise((r) => setTimeout(r, 10));
    }
    while (answers < ROUNDS) await tick();
    const s = loop.stats();
    // Without the spin nothing is caught; on a busy machine some echoes take longer than SPIN_MS, so not all.
    reportBar(t, 'spins that caught the echo', `${s.spinHits} of ${s.spins}`, `>= ${ROUNDS / 4}`, s.spinHits >= ROUNDS / 4);
    // The answers' fd is never followed by anything: after about 6 misses it spins only to explore (once in 250 ms).
    // A loop that spun after every wake would have spun 2 x ROUNDS times.
    reportBar(t, `spins for ${ROUNDS} requests`, String(s.spins), `<= ${ROUNDS + 10}`, s.spins <= ROUNDS + 10);
    assert.ok(s.spinMs <= s.spins * (SPIN_MS + 1), `a spin lasts at most SPIN_MS (plus the last poll): ${JSON.stringify(s)}`);
  } finally {
    echo.kill();
    unwatchTrigger();
    unwatchAns();
    for (const f of [trigger, req, ans]) f.done();
  }
});

test('the answer spin stays within SPIN_BUDGET of the time, however often its answers come late', async (t) => {
  const [trigger, req, ans] = [fifo(), fifo(), fifo()];
  // The echo answers each request 0.3 ms late: every spin after a trigger would catch it, after spinning ~0.3 ms.
  const echo = startEcho(req.path, ans.path, 300);
  // A loop without the busy mode, so that the spin's budget is all that limits it while the exchange runs back to back.
  const loop = new PollLoop(false);
  let running = true;
  let exchanges = 0;
  const unwatchTrigger = loop.watch(trigger.fd, () => writeSync(req.fd, trigger.drain()));
  const unwatchAns = loop.watch(ans.fd, () => {
    ans.drain();
    exchanges++;
    if (running) writeSync(trigger.fd, 'x'); // the next request at once
  });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    writeSync(trigger.fd, 'x');
    await new Promise((r) => setTimeout(r, 600));
    running = false;
    const elapsed = performance.now() - t0;
    const s = loop.stats();
    reportBar(t, 'back-to-back exchanges in 600 ms', String(exchanges), '>= 100', exchanges >= 100);
    // Without the budget the loop spins for most of each exchange (~0.3 ms of every ~0.4); with it, SPIN_BUDGET of each
    // 100 ms window, plus the one spin (<= 0.5 ms) that crosses the limit.
    const budget = elapsed * SPIN_BUDGET * 1.5 + 2;
    reportBar(t, 'time spent spinning', `${s.spinMs} ms of ${elapsed.toFixed(0)}`, `<= ${budget.toFixed(0)} ms`, s.spinMs <= budget);
    assert.ok(exchanges > 0 && s.spinHits > 0, `the exchange ran and spins caught answers: ${JSON.stringify(s)}`);
  } finally {
    echo.kill();
    unwatchTrigger();
    unwatchAns();
    for (const f of [trigger, req, ans]) f.done();
  }
});
