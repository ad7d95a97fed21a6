// currents.test.js -- the Currents page in a real browser: a Custom HTTP
// connector added through the form and pointed at a receiver started here
// (which refuses events named 'poison' with a 400), its counters growing on
// the connector's page, the poisoned event in the dead letter and sent
// again once the receiver takes it; pause, resume, replay, remove; a bad
// URL and a bad name refused in words; script in what the receiver answers
// shown as text.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const b = require('./harness.js');
const { h } = b;

const XSS = '<img src=x onerror=window.__xss=1>';

// A Custom HTTP receiver: 400 (with script in its answer) for a batch that
// holds an event named 'poison' unless accept is set, 200 otherwise.
async function receiver() {
  const r = { got: [], accept: false };
  r.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')).events;
      if (!r.accept && events.some((e) => e.properties.name === 'poison')) return res.writeHead(400).end(XSS);
      r.got.push(...events);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${r.server.address().port}/currents`;
  r.close = () => new Promise((resolve) => { r.server.closeAllConnections(); r.server.close(resolve); });
  return r;
}

// The value of one stat of the connector shown ("Events sent", "Dead letter" ...).
const stat = (scope, label) => scope.locator('.stat').filter({ hasText: label }).locator('.value');

test('Currents: add a connector, watch it deliver, empty its dead letter, pause, resume, replay, remove', async () => {
  const rcv = await receiver();
  const t = await b.start({ env: { BRASA_CURRENTS_BACKOFF_MS: '20', BRASA_CURRENTS_BACKOFF_MAX_MS: '200' } });
  const { page } = t;
  try {
    await b.signIn(page, t.base);
    await page.getByRole('link', { name: 'Currents' }).click();
    await page.waitForURL(`${t.base}/dashboard/currents`);
    assert.equal(await page.title(), 'Currents · brasa');
    await page.getByText('No connector yet: add one below').waitFor();
    const form = page.getByRole('form', { name: 'Add a connector' });
    const add = form.getByRole('button', { name: 'Add connector' });

    // Refusals in words: a name with script, a bad URL, no event type.
    await form.getByLabel('Name', { exact: true }).fill(XSS);
    await form.getByLabel('URL', { exact: true }).fill(rcv.url);
    await add.click();
    await form.getByRole('alert').filter({ hasText: "'name' must be 1 to 64 letters, digits, '_', '-' or '.'" }).waitFor();
    await form.getByLabel('Name', { exact: true }).fill('heap');
    await form.getByLabel('URL', { exact: true }).fill('ftp://127.0.0.1/currents');
    await add.click();
    await form.getByRole('alert').filter({ hasText: "'url' must be an absolute http:// or https:// URL" }).waitFor();
    await form.getByLabel('URL', { exact: true }).fill(rcv.url);
    await form.getByLabel('Every type, including types later versions add').uncheck();
    await add.click();
    await form.getByRole('alert').filter({ hasText: "'event_types' must be a non-empty array of event type names" }).waitFor();

    // The connector, for custom events and purchases, with a token.
    await form.getByLabel('Custom event users.behaviors.CustomEvent').check();
    await form.getByLabel('Purchase users.behaviors.Purchase').check();
    await form.getByText('More settings').click();
    await form.getByLabel('Token', { exact: true }).fill('s3cret-token');
    await form.getByLabel('Batch size').fill('50');
    assert.equal(await form.getByLabel('Directory', { exact: true }).isVisible(), false, 'a files setting is not shown for Custom HTTP');
    await add.click();
    await page.getByRole('status').filter({ hasText: /Connector heap added \(id [0-9a-f]{24}\)/ }).waitFor();
    const card = page.getByRole('region', { name: /^heap/ });
    await card.waitFor();
    assert.equal(await form.getByLabel('Name', { exact: true }).inputValue(), '', 'the form is cleared');
    let r = await h.request(t.srv, 'GET', '/admin/currents/heap', { key: t.srv.key });
    assert.deepEqual(r.json.connector.settings, { url: rcv.url, token_set: true, batch_size: 50,
      event_types: ['users.behaviors.CustomEvent', 'users.behaviors.Purchase'] });

    // A files connector: its own fields, the others hidden.
    await form.getByLabel('Name', { exact: true }).fill('lake');
    await form.getByLabel('Type', { exact: true }).selectOption('files');
    assert.equal(await form.getByLabel('URL', { exact: true }).isVisible(), false);
    await form.getByLabel('Directory', { exact: true }).fill('relative/dir');
    await add.click();
    await form.getByRole('alert').filter({ hasText: "a files connector needs 'dir', an absolute directory" }).waitFor();
    await form.getByLabel('Directory', { exact: true }).fill(path.join(t.srv.dir, 'currents-files'));
    await form.getByLabel('Format', { exact: true }).selectOption('ndjson');
    await form.getByLabel('Start from', { exact: true }).selectOption('earliest');
    await add.click();
    await page.getByRole('region', { name: /^lake/ }).waitFor();
    r = await h.request(t.srv, 'GET', '/admin/currents/lake', { key: t.srv.key });
    assert.equal(r.json.connector.settings.format, 'ndjson');
    assert.equal(r.json.connector.settings.start, undefined, 'start is not a setting shown back');

    // Events, one of them poisoned (with script in a property).
    const events = ['played', 'played', 'paused', 'poison', 'played'].map((name, i) => ({
      external_id: 'ana', name, time: new Date(Date.UTC(2026, 11, 1, 0, 0, i)).toISOString(), properties: { note: XSS, n: i } }));
    await h.usersApi(t.srv).trackOk({ events });

    // The connector's page: the counters grow by themselves.
    await card.getByRole('link', { name: 'heap' }).click();
    await page.waitForURL(/\/dashboard\/currents\/[0-9a-f]{24}$/);
    await page.getByRole('heading', { level: 1, name: 'heap' }).waitFor();
    const main = page.locator('main');
    await stat(main, 'Events sent').filter({ hasText: /^4$/ }).waitFor({ timeout: 15000 });
    await stat(main, 'Dead letter').filter({ hasText: /^1$/ }).waitFor({ timeout: 15000 });
    const row = page.getByRole('row').filter({ hasText: 'HTTP 400' });
    await row.waitFor();
    assert.match(await row.textContent(), /400/);
    await row.getByText(`HTTP 400: ${XSS}`).waitFor();
    await row.getByText(/^Event /).click();
    assert.match(await row.locator('pre').textContent(), /"name": "poison"/);
    await main.getByText(`HTTP 400: ${XSS}`).first().waitFor(); // the last error, as text
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'script shown, not run');
    await page.getByText('Errors by status').waitFor();
    assert.match(await page.locator('.cur-facts').textContent(), /400: \d/);
    await b.shot(page, 'currents-connector');

    // The receiver takes it now: Replay all empties the dead letter.
    rcv.accept = true;
    await page.getByRole('button', { name: 'Replay all' }).click();
    await page.getByRole('status').filter({ hasText: '1 dead-letter event will be sent again within a second.' }).waitFor();
    await page.getByText('The dead letter is empty').waitFor({ timeout: 15000 });
    await stat(main, 'Events sent').filter({ hasText: /^5$/ }).waitFor({ timeout: 15000 });
    assert.deepEqual(rcv.got.map((e) => e.properties.name).sort(), ['paused', 'played', 'played', 'played', 'poison']);

    // Pause and resume change the state shown.
    await page.getByRole('button', { name: 'Pause' }).click();
    await stat(main, 'State').filter({ hasText: 'paused' }).waitFor();
    r = await h.request(t.srv, 'GET', '/admin/currents/heap', { key: t.srv.key });
    assert.equal(r.json.connector.state, 'paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await stat(main, 'State').filter({ hasText: /delivering|idle/ }).waitFor();

    // Replay from a time: a time must be given; then the connector goes back.
    await page.getByLabel('Replay from', { exact: true }).selectOption('time');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose the time to replay from.' }).waitFor();
    await page.getByLabel('Replay from: time').fill('2026-01-01T00:00:00');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'heap sends again from there' }).waitFor();
    await h.poll(async () => rcv.got.length >= 10, { deadlineMs: 15000 });
    assert.ok(rcv.got.length >= 10, `the replay sent the events again: ${rcv.got.length}`);

    // The list, and its Replay from the earliest; Remove asks first.
    await page.getByRole('link', { name: '← All connectors' }).click();
    await page.waitForURL(`${t.base}/dashboard/currents`);
    const lake = page.getByRole('region', { name: /^lake/ });
    await lake.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'lake sends again from there' }).waitFor();
    await b.shot(page, 'currents');
    await lake.getByRole('button', { name: 'Remove' }).click();
    await lake.getByRole('button', { name: 'Cancel' }).click();
    await lake.getByRole('button', { name: 'Remove' }).click();
    await lake.getByRole('button', { name: 'Yes, remove lake' }).click();
    await page.getByRole('status').filter({ hasText: 'lake removed, with its dead letter.' }).waitFor();
    await lake.waitFor({ state: 'detached' });
    r = await h.request(t.srv, 'GET', '/admin/currents', { key: t.srv.key });
    assert.deepEqual(r.json.connectors.map((c) => c.name), ['heap']);

    // A connector's page that is not there; a removed one while shown.
    await page.goto(`${t.base}/dashboard/currents/nosuch`);
    await page.getByRole('alert').filter({ hasText: "no Currents connector 'nosuch'" }).waitFor();
    await page.goto(`${t.base}/dashboard/currents/heap`);
    await page.getByRole('heading', { level: 1, name: 'heap' }).waitFor();
    r = await h.request(t.srv, 'DELETE', '/admin/currents/heap', { key: t.srv.key });
    assert.equal(r.status, 200, r.text);
    await page.getByRole('alert').filter({ hasText: "no Currents connector '" }).waitFor({ timeout: 10000 });

    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
    await rcv.close();
  }
});

test('Currents is for admins: a marketer neither sees it nor may call it', async () => {
  const t = await b.start();
  try {
    b.addOperator(t.srv.dir, 'mia', 'marketer');
    await b.signIn(t.page, t.base, 'mia');
    assert.equal(await t.page.getByRole('link', { name: 'Currents' }).count(), 0);
    await t.page.goto(`${t.base}/dashboard/currents`);
    await t.page.getByText('This page is for admins.').waitFor();
    const res = await t.page.evaluate(async () => (await fetch('/admin/currents')).status);
    assert.equal(res, 403);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
