// The browser half of the laptop signing test (tests/laptop_sign.rs): opens the sign-in
// URL `vouch sign` printed, types the email, presses the button and reports where the
// loopback redirect landed, as one JSON object (this script asserts nothing itself).
//
// Environment: SIGN_IN_URL, SIGN_IN_EMAIL, CHROMIUM (the browser executable).

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
  await page.goto(process.env.SIGN_IN_URL);
  result.title = await page.title();
  result.step = 'sign-in';
  await page.fill('#email', process.env.SIGN_IN_EMAIL);
  await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.click('#sign-in')]);
  result.finalUrl = page.url().replace(/code=[^&]*/, 'code=REDACTED');
  result.finalText = ((await page.textContent('body')) ?? '').trim();
  result.ok = true;
} catch (e) {
  result.error = String(e && e.message ? e.message : e);
} finally {
  if (browser) await browser.close();
}
console.log(JSON.stringify(result));
