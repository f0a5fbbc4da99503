// Drives the live page in a real headless Chromium (Debian's, through
// playwright-core): run *inside* the lab node where the daemon serves it.
//   node page-probe.js URL COUNTER_ID MIN_INCREASE SCREENSHOT
// Prints JSON: what the page showed, and the counter before and after.
import { launchChromium } from './chromium.js';

const [url, counterId, minIncrease, screenshot] = process.argv.slice(2);

async function main(): Promise<void> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 420 } });
    await page.goto(url, { waitUntil: 'load', timeout: 15_000 });
    await page.waitForSelector(`#${counterId}`, { timeout: 10_000 });
    const read = async (): Promise<number> => Number(await page.textContent(`#${counterId}`));
    const first = await read();
    process.stdout.write('ready\n'); // the test starts its traffic now
    let last = first;
    for (let i = 0; i < 100 && last - first < Number(minIncrease); i++) {
      await page.waitForTimeout(100);
      last = await read();
    }
    await page.waitForTimeout(1200); // let the rates settle for the picture
    await page.screenshot({ path: screenshot });
    const shown = {
      mode: await page.textContent('#mode'),
      device: await page.textContent('#device'),
      ioWait: await page.textContent('#iowait'),
      rows: await page.$$eval('#diagram table tr', (rows) => rows.slice(1).map((r) => (r as HTMLElement).innerText)),
      first,
      last,
      /** Points in the rate charts' history, and the chart canvases drawn. */
      chartPoints: await page.evaluate('hist.t.length'),
      chartSent: await page.evaluate('Math.max(...hist.txPps.filter((v) => v !== null))'),
      canvases: await page.$$eval('.charts canvas', (c) => c.length),
    };
    process.stdout.write(JSON.stringify(shown) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(`page-probe: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
});
