import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../native/addon.js';
import { RxBatch } from './batch.js';
import { FdReader } from './fd-reader.js';
import { LINGER_MS, PollLoop } from './poll-loop.js';

/** A FIFO opened read-write: one fd that we make readable by writing to it. */
function fifo(): { fd: number; path: string; drain: () => string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'td-poll-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const fd = native.openPath(path, constants.O_RDWR | constants.O_NONBLOCK);
  const buf = Buffer.alloc(256);
  return {
    fd,
    path,
    drain: () => buf.subarray(0, readSync(fd, buf)).toString(),
    done: () => {
      try {
        closeSync(fd);
      } catch {
        // already closed by the test
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Another process that blocks in read() on the FIFO at `reqPath` and writes
 * what it read to the one at `ansPath`, `delayUs` microseconds later (busy-waiting).
 */
function startEcho(reqPath: string, ansPath: string, delayUs: number): ChildProcess {
  return spawn(process.execPath, ['-e', `const fs = require('fs'); const r = fs.openSync(${JSON.stringify(reqPath)}, 'r'); const w = fs.openSync(${JSON.stringify(ansPath)}, 'w'); const b = Buffer.alloc(64);
    for (;;) { const n = fs.readSync(r, b); const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < ${delayUs * 1000}n); if (n > 0) fs.writeSync(w, b.subarray(0, n)); }`], { stdio: 'ignore' });
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** CPU time this process used over `ms`. */
async function cpuOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

test('an idle loop sleeps in libuv; packets make it hot; LINGER_MS after the last one it sleeps again', async () => {
  const f = fifo();
  const loop = new PollLoop();
  const seen: string[] = [];
  const unwatch = loop.watch(f.fd, () => seen.push(f.drain()));
  try {
    assert.equal(loop.isHot, false);
    // Spinning would burn ~300 ms of CPU in 300 ms; sleeping, a few.
    const idle = await cpuOver(300);
    assert.ok(idle < 60, `CPU used while idle: ${idle} ms`);
    writeSync(f.fd, 'a');
    while (seen.length < 1) await tick();
    assert.equal(loop.isHot, true);
    await new Promise((r) => setTimeout(r, LINGER_MS + 300));
    assert.equal(loop.isHot, false);
    const cooled = await cpuOver(300);
    assert.ok(cooled < 60, `CPU used after cooling: ${cooled} ms`);
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

test('while hot, timers, signals and libuv I/O still run, and each write is seen once', async () => {
  const f = fifo();
  const loop = new PollLoop();
  const seen: string[] = [];
  // Which waiter reported each write: libuv's poll handle (cold) or the loop's own poll() (hot).
  const fromOwnPoll: boolean[] = [];
  const unwatch = loop.watch(f.fd, (status) => {
    assert.equal(status, 0);
    seen.push(f.drain());
    fromOwnPoll.push(/runTurn/.test(new Error().stack ?? ''));
  });
  try {
    writeSync(f.fd, 'a');
    while (seen.length < 1) await tick();
    assert.equal(loop.isHot, true);
    await new Promise((r) => setTimeout(r, 30));
    const signalled = new Promise((r) => process.once('SIGUSR2', r));
    process.kill(process.pid, 'SIGUSR2');
    await signalled;
    const dir = mkdtempSync(join(tmpdir(), 'td-poll-sock-'));
    const path = join(dir, 's');
    const server = createServer((c) => c.end('pong'));
    await new Promise<void>((r) => server.listen(path, r));
    const reply = await new Promise<string>((resolve, reject) => {
      let got = '';
      createConnection(path).on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject);
    });
    server.close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(reply, 'pong');
    assert.equal(loop.isHot, true);
    writeSync(f.fd, 'b');
    while (seen.length < 2) await tick();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['a', 'b']);
    assert.deepEqual(fromOwnPoll, [false, true]);
    assert.equal(loop.watching, 1);
  } finally {
    unwatch();
    f.done();
  }
  assert.equal(loop.watching, 0);
});

test('after unwatch the callback is never called again, and an unwatched loop lets the process go idle', async () => {
  const f = fifo();
  const loop = new PollLoop();
  let calls = 0;
  const unwatch = loop.watch(f.fd, () => {
    calls++;
    f.drain();
  });
  unwatch();
  unwatch();
  writeSync(f.fd, 'x');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 0);
  assert.equal(loop.watching, 0);
  f.done();
});

test('a callback may unwatch another fd mid-turn: that one is not called', async () => {
  const a = fifo();
  const b = fifo();
  const loop = new PollLoop();
  const calls: string[] = [];
  let unwatchB = (): void => undefined;
  const unwatchA = loop.watch(a.fd, () => {
    calls.push('a');
    a.drain();
    unwatchB();
  });
  unwatchB = loop.watch(b.fd, () => calls.push('b'));
  try {
    writeSync(b.fd, 'y');
    writeSync(a.fd, 'x');
    while (calls.length < 1) await tick();
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(calls, ['a']);
  } finally {
    unwatchA();
    a.done();
    b.done();
  }
});

test('an FdReader on a PollLoop reads batches, and reports a closed fd once as TUN_ERR_IO', async () => {
  const f = fifo();
  const loop = new PollLoop();
  const reader = new FdReader(f.fd, (b) => {
    const n = readSync(f.fd, b.buf, 0, b.slotSize, null);
    b.sizes[0] = n;
    return b.setSlotEntries(1);
  });
  const batches: string[] = [];
  const errors: Error[] = [];
  reader.start(new RxBatch(1, 64), (b) => batches.push(Buffer.from(b.packet(0)).toString()), (e) => errors.push(e), loop);
  try {
    writeSync(f.fd, 'hello');
    while (batches.length < 1) await tick();
    assert.deepEqual(batches, ['hello']);
    closeSync(f.fd);
    while (errors.length < 1) await tick();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { code?: string }).code, 'TUN_ERR_IO');
    assert.equal(loop.watching, 0);
  } finally {
    reader.stop();
    f.done();
  }
});

test('adaptive: a wake rate above BUSY_WAKES_PER_S sends the loop to libuv (busy); a slow trickle brings it back hot; a plain loop stays hot', async () => {
  const { BUSY_WAKES_PER_S } = await import('./poll-loop.js');
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
      assert.ok(maxRate > BUSY_WAKES_PER_S, `the writer woke the loop ${maxRate} times a second (too slow a machine for this test?)`);
      if (adaptive) {
        assert.ok(modes.has('busy') && loop.stats().busied >= 1, `modes seen: ${[...modes]}`);
      } else {
        assert.ok(!modes.has('busy'), 'a plain loop never goes busy');
      }
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

test('the answer spin: a wake whose answer comes back soon is followed by a spin that catches it; an fd whose wakes get no answer learns not to spin', async () => {
  const { SPIN_MS } = await import('./poll-loop.js');
  // trigger: the "request" this test writes; req: where the loop's callback forwards it; ans: where another process echoes it.
  const [trigger, req, ans] = [fifo(), fifo(), fifo()];
  const [reqPath, ansPath] = [req.path, ans.path];
  // The echo answers at once: within tens of microseconds.
  const echo = startEcho(reqPath, ansPath, 0);
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
    assert.ok(s.spinHits >= ROUNDS / 4, `${s.spinHits} of ${s.spins} spins caught an answer (${SPIN_MS} ms each at most): ${JSON.stringify(s)}`);
    // The answers' fd is never followed by anything: after about 6 misses it spins only to explore (once in 250 ms).
    // A loop that spun after every wake would have spun 2 x ROUNDS times.
    assert.ok(s.spins <= ROUNDS + 10, `${s.spins} spins for ${ROUNDS} requests: ${JSON.stringify(s)}`);
    assert.ok(s.spinMs <= s.spins * (SPIN_MS + 1), JSON.stringify(s));
  } finally {
    echo.kill();
    unwatchTrigger();
    unwatchAns();
    for (const f of [trigger, req, ans]) f.done();
  }
});

test('the answer spin stays within SPIN_BUDGET of the time, however often its answers come late', async () => {
  const { SPIN_BUDGET } = await import('./poll-loop.js');
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
    assert.ok(exchanges >= 100, `only ${exchanges} exchanges in ${elapsed.toFixed(0)} ms`);
    // Without the budget the loop spins for most of each exchange (~0.3 ms of every ~0.4); with it, SPIN_BUDGET of each
    // 100 ms window, plus the one spin (<= 0.5 ms) that crosses the limit.
    assert.ok(s.spinMs <= elapsed * SPIN_BUDGET * 1.5 + 2, `${s.spinMs} ms of ${elapsed.toFixed(0)} spent spinning: ${JSON.stringify(s)}`);
    assert.ok(s.spinHits >= 10, JSON.stringify(s));
  } finally {
    echo.kill();
    unwatchTrigger();
    unwatchAns();
    for (const f of [trigger, req, ans]) f.done();
  }
});
