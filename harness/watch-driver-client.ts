// The test side of watch-driver.ts: starts it inside a lab node and sends
// it one command at a time.
import type { ChildProcess } from 'node:child_process';
import { createInterface, Interface } from 'node:readline';
import { spawnInNetns } from '../src/netns/processes.js';

const DRIVER = new URL('./watch-driver.js', import.meta.url).pathname;

export class WatchDriver {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(private readonly child: ChildProcess, rl: Interface) {
    this.lines = rl[Symbol.asyncIterator]();
    child.stderr!.on('data', (d) => (this.stderr += d));
  }

  /** Opens `url` in Chromium inside the namespace `netns` (a lab node's); resolves once the page has loaded. */
  static async open(netns: string, url: string): Promise<WatchDriver> {
    const child = spawnInNetns(netns, process.execPath, [DRIVER, url], { stdio: ['pipe', 'pipe', 'pipe'] });
    const driver = new WatchDriver(child, createInterface({ input: child.stdout! }));
    await driver.answer();
    return driver;
  }

  private async answer(): Promise<unknown> {
    const next = await this.lines.next();
    if (next.done) throw new Error(`the browser driver exited: ${this.stderr.trim()}`);
    const reply = JSON.parse(next.value) as { ok: boolean; value?: unknown; error?: string };
    if (!reply.ok) throw new Error(reply.error);
    return reply.value;
  }

  async send(cmd: Record<string, unknown>): Promise<unknown> {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.answer();
  }

  eval<T>(expr: string): Promise<T> {
    return this.send({ op: 'eval', expr }) as Promise<T>;
  }

  waitFor(expr: string, timeoutMs = 10_000): Promise<unknown> {
    return this.send({ op: 'waitFor', expr, timeoutMs });
  }

  click(selector: string): Promise<unknown> {
    return this.send({ op: 'click', selector });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.stdin!.end(JSON.stringify({ op: 'close' }) + '\n');
    await new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      this.child.on('exit', () => resolve(clearTimeout(timer)));
    });
  }
}
