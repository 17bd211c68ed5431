// The browser half of the device sign-in test (tests/laptop_device.rs): opens the
// verification URI `vouch sign --device` printed, types the user code (and the email),
// presses Sign in or Deny, and reports the page's answer as one JSON object (this script
// asserts nothing itself).
//
// Environment: VERIFY_URL, USER_CODE, SIGN_IN_EMAIL, ACTION (approve or deny), CHROMIUM.

import { chromium } from 'playwright-core';

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
  await page.goto(process.env.VERIFY_URL);
  result.title = await page.title();
  result.step = 'enter-code';
  await page.fill('#user_code', process.env.USER_CODE);
  if (process.env.ACTION === 'deny') {
    await page.click('#deny');
  } else {
    await page.fill('#email', process.env.SIGN_IN_EMAIL);
    await page.click('#sign-in');
  }
  result.step = 'answer';
  await page.waitForSelector('#result', { timeout: 15_000 });
  result.finalText = ((await page.textContent('#result')) ?? '').trim();
  result.ok = true;
} catch (e) {
  result.error = String(e && e.message ? e.message : e);
} finally {
  if (browser) await browser.close();
}
console.log(JSON.stringify(result));
