// The poll loop with real fds and no timing bars: what it must do whatever
// the machine's load (its decisions on a clock of the test's own:
// wait-policy.test.ts; its behaviour in real time: test/timing/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readSync, rmSync, writeSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RxBatch } from './batch.js';
import { FdReader } from './fd-reader.js';
import { PollLoop } from './poll-loop.js';
import { fifo, tick } from '../../harness/fifo.js';

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

