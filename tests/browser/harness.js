// harness.js -- the dashboard's browser tests: the real brasa binary (the
// e2e harness starts it) and Debian's chromium driven by playwright-core
// (pinned by tests/browser/package-lock.json). Screenshots of each page go
// to build/screenshots/ (docs/dashboard.md shows them).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { chromium } = require('playwright-core');
const h = require('../e2e/harness.js');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(__dirname, '..', '..', 'build', 'screenshots');
const PASSWORD = 'correct horse battery staple';

// `brasa operators add`, the password on standard input.
function addOperator(dir, name, role, password = PASSWORD) {
  const r = spawnSync(process.env.BRASA_BIN, ['operators', 'add', '--data-dir', dir, name, '--role', role],
    { input: `${password}\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, `operators add: ${r.stderr}`);
  h.assertNoSanitizerReport(r.stderr, 'brasa operators');
}

// A server with an admin operator, and a browser. Returns what tests use;
// close() ends both.
async function start({ env, args } = {}) {
  const srv = await h.startServer({ env, args });
  addOperator(srv.dir, 'admin', 'admin');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
  const page = await context.newPage();
  const base = `http://127.0.0.1:${srv.port}`;
  // Every request the pages make: none may leave this origin.
  const foreign = [];
  const pageErrors = [];
  page.on('request', (req) => { if (!req.url().startsWith(base) && !req.url().startsWith('data:')) foreign.push(req.url()); });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  return {
    srv, browser, context, page, base, foreign, pageErrors,
    async close() {
      await browser.close();
      await srv.stop();
    },
  };
}

async function signIn(page, base, name = 'admin', password = PASSWORD) {
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel('Operator name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

// The CSRF token of the page's session, for requests a test makes itself.
async function csrfOf(page) {
  return page.evaluate(async () => (await (await fetch('/dashboard/api/me')).json()).csrf_token);
}

module.exports = { start, signIn, shot, addOperator, csrfOf, PASSWORD, h };
