// Shared by the browser halves of the laptop tests (device.mjs, laptop.mjs): launches
// headless Chromium (CHROMIUM, else /usr/bin/chromium), opens `url`, lets `steps(page,
// result)` drive the page and fill in `result`, then prints `result` as one JSON object,
// with the step reached and the error when one failed (nothing is asserted here).

import { chromium } from 'playwright-core';

export async function report(url, steps) {
  const result = { ok: false, step: 'launch' };
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      timeout: 30_000,
      args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage();
    result.step = 'open';
    await page.goto(url);
    result.title = await page.title();
    await steps(page, result);
    result.ok = true;
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  } finally {
    if (browser) await browser.close();
  }
  console.log(JSON.stringify(result));
}
