// Drives the vouch web UI in Debian's headless Chromium through playwright-core and
// prints one JSON object of what it saw; tests/web_browser.rs starts the server,
// runs this script and asserts on that JSON (this script asserts nothing itself).
//
// Environment: VOUCH_BASE_URL (http://127.0.0.1:PORT), VOUCH_ADMIN_TOKEN_FILE
// (DATA/admin.token of `vouch serve --dev`), VOUCH_SCREENSHOT_DIR, CHROMIUM (the
// browser executable; playwright's own browser builds are never downloaded).

import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.VOUCH_BASE_URL;
const token = readFileSync(process.env.VOUCH_ADMIN_TOKEN_FILE, 'utf8').trim();
const shots = process.env.VOUCH_SCREENSHOT_DIR;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(shots, { recursive: true });

const result = { ok: false, step: 'launch', consoleErrors: [], failedRequests: [] };
const text = async (page, sel) => ((await page.textContent(sel)) ?? '').trim();

let browser;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    // Without the background-networking flags Chromium keeps trying to reach
    // Google's hosts, which this closed network refuses.
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  result.browserVersion = browser.version();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('requestfailed', (r) => result.failedRequests.push(r.url()));

  result.step = 'landing';
  await page.goto(`${base}/`);
  result.landingTitle = await text(page, 'h1');
  result.landingLinks = await page.$$eval('#links a', (els) => els.map((e) => e.getAttribute('href')));
  result.landingScreenshot = join(shots, 'landing.png');
  await page.screenshot({ path: result.landingScreenshot, fullPage: true });
  await Promise.all([page.waitForURL('**/packages'), page.click('#link-packages')]);
  result.packagesTitle = await text(page, 'h1');
  result.packagesEmpty = await text(page, '#no-packages');

  result.step = 'sign-in';
  await page.goto(`${base}/admin/security`);
  result.redirectedToLogin = new URL(page.url()).pathname === '/admin/login';
  await page.fill('#token', token);
  await Promise.all([page.waitForURL('**/admin/security'), page.click('#sign-in')]);
  result.signedIn = new URL(page.url()).pathname === '/admin/security';
  // The stylesheet loaded under the CSP (default-src 'self'): the header is dark.
  result.headerBackground = await page.$eval('header', (h) => getComputedStyle(h).backgroundColor);

  result.step = 'security';
  result.kidBefore = await text(page, '#current-kid');
  result.previousBefore = await page.$$eval('#previous-keys code.kid', (els) => els.map((e) => e.textContent));

  result.step = 'rotate';
  await Promise.all([page.waitForURL('**/admin/security/rotate'), page.click('#rotate')]);
  result.confirmKid = await text(page, '#confirm-kid');
  // Nothing changes on the confirmation page itself.
  await Promise.all([page.waitForURL('**/admin/security'), page.click('#confirm-rotate')]);
  result.kidAfter = await text(page, '#current-kid');
  result.previousAfter = await page.$$eval('#previous-keys code.kid', (els) => els.map((e) => e.textContent));
  result.notice = await text(page, '.notice');
  result.securityScreenshot = join(shots, 'security.png');
  await page.screenshot({ path: result.securityScreenshot, fullPage: true });

  result.step = 'audit';
  await Promise.all([page.waitForURL('**/admin/audit'), page.click('nav >> text=Audit log')]);
  await page.fill('#action', 'registry.signing_key');
  await Promise.all([page.waitForURL('**/admin/audit?action=*'), page.click('#filter')]);
  result.auditActions = await page.$$eval('#audit code.action', (els) => els.map((e) => e.textContent));
  result.auditDetails = await page.$$eval('#audit td.details', (els) => els.map((e) => e.textContent));
  result.auditDetailPairs = await page.$$eval('#audit td.details dt', (els) =>
    els.map((e) => [e.textContent, e.nextElementSibling ? e.nextElementSibling.textContent : null]));
  result.auditScreenshot = join(shots, 'audit.png');
  await page.screenshot({ path: result.auditScreenshot, fullPage: true });

  result.step = 'sign-out';
  await Promise.all([page.waitForURL('**/admin/login'), page.click('nav >> text=Sign out')]);
  await page.goto(`${base}/admin/security`);
  result.signedOut = new URL(page.url()).pathname === '/admin/login';

  result.step = 'done';
  result.ok = true;
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  if (browser) await browser.close().catch(() => {});
}
process.stdout.write(`${JSON.stringify(result)}\n`);
