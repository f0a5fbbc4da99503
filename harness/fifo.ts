// FIFOs and an echo process for the poll loop's tests (src/io/poll-loop.test.ts,
// test/timing/poll-loop.test.ts): fds the test makes readable by writing.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../src/native/addon.js';

/** A FIFO opened read-write: one fd that we make readable by writing to it. */
export function fifo(): { fd: number; path: string; drain: () => string; done: () => void } {
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
export function startEcho(reqPath: string, ansPath: string, delayUs: number): ChildProcess {
  return spawn(process.execPath, ['-e', `const fs = require('fs'); const r = fs.openSync(${JSON.stringify(reqPath)}, 'r'); const w = fs.openSync(${JSON.stringify(ansPath)}, 'w'); const b = Buffer.alloc(64);
    for (;;) { const n = fs.readSync(r, b); const t = process.hrtime.bigint(); while (process.hrtime.bigint() - t < ${delayUs * 1000}n); if (n > 0) fs.writeSync(w, b.subarray(0, n)); }`], { stdio: 'ignore' });
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** CPU time this process used over `ms`. */
export async function cpuOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
