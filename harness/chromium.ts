// Debian's Chromium, headless, through playwright-core: the options every
// browser test here starts it with (the background-networking flags keep
// it from dialling out of the machine's closed network).
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Starts it; playwright-core loads only here, so test files that import CHROMIUM do not pay for it. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
