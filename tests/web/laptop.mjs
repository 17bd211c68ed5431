// The browser half of the laptop signing test (tests/laptop_sign.rs): opens the sign-in
// URL `vouch sign` printed, types the email, presses the button and reports where the
// loopback redirect landed, as one JSON object (this script asserts nothing itself).
//
// Environment: SIGN_IN_URL, SIGN_IN_EMAIL, CHROMIUM (the browser executable).

import { report } from './page.mjs';

await report(process.env.SIGN_IN_URL, async (page, result) => {
  result.step = 'sign-in';
  await page.fill('#email', process.env.SIGN_IN_EMAIL);
  await Promise.all([page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback/), page.click('#sign-in')]);
  result.finalUrl = page.url().replace(/code=[^&]*/, 'code=REDACTED');
  result.finalText = ((await page.textContent('body')) ?? '').trim();
});
