// The browser half of the device sign-in test (tests/laptop_device.rs): opens the
// verification URI `vouch sign --device` printed, types the user code (and the email),
// presses Sign in or Deny, and reports the page's answer as one JSON object (this script
// asserts nothing itself).
//
// Environment: VERIFY_URL, USER_CODE, SIGN_IN_EMAIL, ACTION (approve or deny), CHROMIUM.

import { report } from './page.mjs';

await report(process.env.VERIFY_URL, async (page, result) => {
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
});
