// overview.test.js -- the Overview page in a browser: the figures of what
// was tracked, the 24-hour chart, and what the first load costs in bytes.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');

test('overview: profiles and events tracked show, the chart draws, the first load stays small', async () => {
  const t = await b.start();
  try {
    await b.signIn(t.page, t.base);
    await t.page.getByRole('heading', { name: 'Overview' }).waitFor();
    await t.page.getByText('No users yet.').waitFor();

    const now = new Date().toISOString();
    await b.h.usersApi(t.srv).trackOk({
      attributes: [{ external_id: 'o1', first_name: 'Ola' }, { external_id: 'o2', first_name: 'Ivo' }],
      events: [{ external_id: 'o1', name: 'viewed', time: now }, { external_id: 'o2', name: 'viewed', time: now },
        { external_id: 'o2', name: 'added', time: now }],
    });
    await t.page.reload();
    const profiles = t.page.locator('.stat').filter({ hasText: 'Profiles' });
    await profiles.getByText('2', { exact: true }).waitFor();
    await t.page.locator('.stat').filter({ hasText: 'Events today' }).getByText('3', { exact: true }).waitFor();
    await t.page.getByRole('heading', { name: 'Events recorded per hour' }).waitFor();
    await t.page.locator('.chart canvas').first().waitFor();
    await b.shot(t.page, 'overview');
    // The chart's numbers, as a table: the last hour holds the 3 events.
    await t.page.getByText('The numbers').click();
    const lastRow = t.page.locator('details table tbody tr').last();
    assert.match(await lastRow.textContent(), /3$/);
    assert.equal(await t.page.title(), 'Overview · brasa');

    // A first visit (cold cache) costs well under 200 KB, the chart library included.
    const cold = await t.browser.newContext();
    const p2 = await cold.newPage();
    const sizes = [];
    p2.on('response', (res) => sizes.push(res.body().then((x) => x.length, () => 0)));
    await p2.goto(`${t.base}/dashboard/`);
    await p2.getByLabel('Operator name').fill('admin');
    await p2.getByLabel('Password').fill(b.PASSWORD);
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.locator('.chart canvas').first().waitFor();
    const coldBytes = (await Promise.all(sizes)).reduce((a, x) => a + x, 0);
    await cold.close();
    assert.ok(coldBytes > 50000 && coldBytes < 200000, `a cold load transferred ${coldBytes} bytes`);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
