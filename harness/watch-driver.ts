// Drives a page in a real headless Chromium (Debian's, through
// playwright-core) for tests that talk to it step by step. Run *inside* a
// lab namespace, so the browser's packets stay in the lab:
//   node watch-driver.js URL
// then one JSON command per stdin line, one JSON answer per stdout line:
//   {"op":"eval","expr":"..."} {"op":"click","selector":"..."}
//   {"op":"fill","selector":"...","value":"..."} {"op":"select",...}
//   {"op":"waitFor","expr":"...","timeoutMs":N} {"op":"screenshot","path":"...","selector"?:"..."}
// Answers: {"ok":true,"value":...} or {"ok":false,"error":"..."}.
import { createInterface } from 'node:readline';
import type { Page } from 'playwright-core';
import { launchChromium } from './chromium.js';

async function run(page: Page, cmd: Record<string, any>): Promise<unknown> {
  switch (cmd.op) {
    case 'eval':
      return page.evaluate(cmd.expr as string);
    case 'click':
      return void (await page.click(cmd.selector, { timeout: 10_000 }));
    case 'fill':
      return void (await page.fill(cmd.selector, cmd.value));
    case 'select':
      return page.selectOption(cmd.selector, cmd.value);
    case 'waitFor':
      return void (await page.waitForFunction(cmd.expr as string, undefined, { timeout: cmd.timeoutMs ?? 10_000, polling: 100 }));
    case 'screenshot':
      if (cmd.selector) return void (await page.locator(cmd.selector).screenshot({ path: cmd.path }));
      return void (await page.screenshot({ path: cmd.path, fullPage: true }));
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(process.argv[2], { waitUntil: 'load', timeout: 15_000 });
    process.stdout.write(JSON.stringify({ ok: true, value: 'ready' }) + '\n');
    for await (const line of createInterface({ input: process.stdin })) {
      if (!line.trim()) continue;
      const cmd = JSON.parse(line);
      if (cmd.op === 'close') break;
      try {
        const value = await run(page, cmd);
        if (errors.length) throw new Error(`the page threw: ${errors.splice(0).join('; ')}`);
        process.stdout.write(JSON.stringify({ ok: true, value }) + '\n');
      } catch (err) {
        process.stdout.write(JSON.stringify({ ok: false, error: (err as Error).message }) + '\n');
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`watch-driver: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
});
