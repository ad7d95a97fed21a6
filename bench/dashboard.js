// dashboard.js -- the dashboard's cold load, as an operator's browser sees
// it (bench/dashboard.sh starts the server): Debian's chromium driven by
// playwright-core (tests/browser's pinned copy), each load in a new browser
// context, so nothing is cached. Prints, for the sign-in page and for the
// Overview of a signed-in operator (cookie set, cache empty): the median
// and p90 time from navigation to the page usable (its form, or its
// figures and chart drawn), the bytes transferred, and the browser's own
// floor: the same navigation to /healthz, a 0.1 KB JSON answer.
'use strict';

const path = require('node:path');
const { chromium } = require(path.join(__dirname, '..', 'tests', 'browser', 'node_modules', 'playwright-core'));

const [base, name, password] = process.argv.slice(2);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 15);
const TARGET_MS = 300;
const TARGET_BYTES = 200 * 1024;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];

async function load(browser, cookie, url, ready) {
  const ctx = await browser.newContext();
  if (cookie) await ctx.addCookies([cookie]);
  const page = await ctx.newPage();
  const sizes = [];
  page.on('response', (r) => sizes.push(r.body().then((b) => b.length, () => 0)));
  const t0 = Date.now();
  await page.goto(url);
  await ready(page);
  const ms = Date.now() - t0;
  const bytes = (await Promise.all(sizes)).reduce((a, x) => a + x, 0);
  await ctx.close();
  return { ms, bytes };
}

async function series(browser, what, cookie, url, ready) {
  await load(browser, cookie, url, ready); // the server's first answer of each file is not the one measured
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await load(browser, cookie, url, ready));
  const ms = runs.map((r) => r.ms);
  return { what, median: median(ms), p90: p90(ms), bytes: runs[runs.length - 1].bytes };
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/dashboard/`);
  await page.getByLabel('Operator name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const cookie = (await ctx.cookies()).find((c) => c.name === 'brasa_session');
  await ctx.close();

  const floor = await series(browser, 'floor', null, `${base}/healthz`, (p) => p.waitForLoadState('load'));
  const signin = await series(browser, 'sign-in page', null, `${base}/dashboard/`,
    (p) => p.getByRole('button', { name: 'Sign in' }).waitFor());
  const overview = await series(browser, 'overview, signed in', cookie, `${base}/dashboard/`,
    (p) => p.locator('.chart canvas').first().waitFor());
  await browser.close();
  console.log(`dashboard: browser floor (GET /healthz in a new context): median ${floor.median} ms`);
  for (const s of [signin, overview]) {
    console.log(`dashboard: ${s.what}: usable in median ${s.median} ms, p90 ${s.p90} ms (${ROUNDS} cold loads), ` +
      `${(s.bytes / 1024).toFixed(1)} KB transferred; ratio to the 300 ms target ${(TARGET_MS / s.median).toFixed(2)}x, ` +
      `to 200 KB ${(TARGET_BYTES / s.bytes).toFixed(2)}x`);
  }
})().catch((e) => { console.error(`dashboard: ${e.stack}`); process.exit(1); });
