// campaigns.test.js -- the Campaigns page in a real browser: an
// API-triggered webhook campaign made in the editor, its Liquid previewed
// for a tracked user, the ids a sending tool copies, a test send that the
// webhook receiver gets rendered, the sends chart; an API campaign's test
// send through /messages/send; archiving; Liquid and server refusals in
// words, script in names shown as text; a read-only operator who looks,
// previews and changes nothing.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');
const { h } = b;
const { webhookReceiver } = require('../e2e/webhook_receiver.js');

const XSS = '<img src=x onerror=window.__xss=1>';

async function campaigns(srv) {
  const r = await h.request(srv, 'GET', '/admin/campaigns?archived=true', { key: srv.key });
  assert.equal(r.status, 200, r.text);
  return r.json.campaigns;
}

test('create an API-triggered webhook campaign, preview its Liquid, copy its ids, test send, see the chart', async () => {
  const t = await b.start();
  const rx = await webhookReceiver();
  try {
    const { page, srv } = t;
    await t.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.base });
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ana', first_name: 'Ana' }] });
    await b.signIn(page, t.base);
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.waitForURL(`${t.base}/dashboard/campaigns`);
    assert.equal(await page.title(), 'Campaigns · brasa');
    await page.getByText('No campaign yet: create one with New campaign').waitFor();

    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByRole('heading', { name: 'New campaign', level: 1 }).waitFor();
    await page.getByLabel('Campaign name').fill('Order shipped');
    assert.equal(await page.getByLabel('Kind').inputValue(), 'api_triggered');
    const v1 = page.getByRole('group', { name: 'Variation 1' });
    await v1.getByLabel('Variation name').fill('Friendly');
    await v1.getByLabel('Webhook URL').fill(rx.url('/hook/{{${user_id}}}'));
    await v1.getByLabel('Request headers').fill('Content-Type: application/json\nX-Team: {{${first_name}}}');
    const body = v1.getByLabel('Request body (Liquid)');
    await body.fill('{"text": "Hi {{${first_name} | default: \'there\'}}, your order is on its way"}');

    // The preview, for the tracked user: every field rendered.
    await v1.getByLabel('Preview for the user with external id').fill('ana');
    await v1.getByRole('button', { name: 'Preview' }).click();
    await v1.getByRole('heading', { name: 'As ana would get it' }).waitFor();
    await v1.locator('pre', { hasText: '{"text": "Hi Ana, your order is on its way"}' }).waitFor();
    await v1.locator('pre', { hasText: rx.url('/hook/ana') }).waitFor();
    await v1.locator('pre', { hasText: /^Ana$/ }).waitFor();
    // A user who is not there; a Liquid syntax error: in words.
    await v1.getByLabel('Preview for the user with external id').fill('nobody');
    await v1.getByRole('button', { name: 'Preview' }).click();
    await v1.getByRole('alert').filter({ hasText: "Not Found: no user with external_id 'nobody'" }).waitFor();
    await v1.getByLabel('Preview for the user with external id').fill('ana');
    await body.fill('{"text": "Hi {{ ${first_name} "}');
    await v1.getByRole('button', { name: 'Preview' }).click();
    await v1.getByRole('alert').filter({ hasText: /Liquid syntax error at 1:\d+: output '\{\{' was not properly terminated/ }).waitFor();
    await b.shot(page, 'campaign-editor-preview-error');
    // Saved like that, the server refuses it, in words.
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('alert').filter({ hasText: /^Bad Request: variations\[0\]\.content\.body: Liquid syntax error at line 1/ }).waitFor();
    assert.deepEqual(await campaigns(srv), []);

    await body.fill('{"text": "Hi {{${first_name} | default: \'there\'}}, your order is on its way"}');
    await v1.getByRole('button', { name: 'Preview' }).click();
    await v1.locator('pre', { hasText: 'Hi Ana, your order' }).waitFor();
    await b.shot(page, 'campaign-editor-preview');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('heading', { name: 'Order shipped', level: 1 }).waitFor();
    await page.getByText('Campaign “Order shipped” created.').waitFor();

    // The ids shown are the stored ones, and copy.
    const [c] = await campaigns(srv);
    assert.equal(c.name, 'Order shipped');
    assert.equal(c.kind, 'api_triggered');
    assert.equal(page.url(), `${t.base}/dashboard/campaigns/${c.id}`);
    assert.deepEqual(c.variations[0].content.request_headers, { 'Content-Type': 'application/json', 'X-Team': '{{${first_name}}}' });
    const ids = page.getByRole('region', { name: 'Ids for your sending tool' });
    await ids.locator('code', { hasText: c.id }).waitFor();
    await ids.getByRole('row').filter({ hasText: 'Friendly' }).locator('code', { hasText: c.variations[0].id }).waitFor();
    await ids.getByRole('button', { name: 'Copy campaign id' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), c.id);
    await ids.getByRole('button', { name: 'Copy id of Friendly' }).click();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), c.variations[0].id);
    // The saved message comes back into the form.
    assert.match(await page.getByRole('group', { name: 'Variation 1' }).getByLabel('Request body (Liquid)').inputValue(), /Hi \{\{\$\{first_name\}/);

    // A test send to the user: the receiver gets the rendered message.
    await page.getByRole('region', { name: 'Sends, last 14 days' }).getByRole('heading', { name: 'Messages per day' }).waitFor();
    const test_ = page.getByRole('region', { name: 'Test send' });
    await test_.getByLabel('Send to the user with external id').fill('ana');
    await test_.getByRole('button', { name: 'Send test' }).click();
    await test_.getByText(/^Done: 1 of 1 recipients; sent 1, errors 0/).waitFor({ timeout: 30000 });
    const [got] = await rx.wait(1);
    assert.equal(got.url, '/hook/ana');
    assert.equal(got.headers['x-team'], 'Ana');
    assert.deepEqual(JSON.parse(got.body), { text: 'Hi Ana, your order is on its way' });
    const dispatchId = await test_.locator('code').first().textContent();
    assert.match(dispatchId, /^[0-9a-f]{24}$/);
    const d = await h.request(srv, 'GET', `/admin/dispatches/${dispatchId}`, { key: srv.key });
    assert.equal(d.json.campaign_id, c.id);

    // The chart counts the send (its numbers are in the table under it).
    await page.reload();
    const series = page.getByRole('region', { name: 'Sends, last 14 days' });
    await series.getByRole('img', { name: /Messages per day: Sent, Errors over time/ }).waitFor();
    await series.locator('canvas').first().waitFor();
    await series.getByText('The numbers').click();
    const today = series.getByRole('row').last();
    assert.deepEqual((await today.getByRole('cell').allTextContents()).slice(1), ['1', '0']);
    await page.getByRole('region', { name: 'Scheduled sends' }).getByText('Nothing scheduled in the next year').waitFor();
    await b.shot(page, 'campaign-editor');

    // The list shows it, sent.
    await page.getByRole('link', { name: '← All campaigns' }).click();
    const row = page.getByRole('row').filter({ hasText: 'Order shipped' });
    await row.waitFor();
    assert.match(await row.textContent(), /API-triggered campaign.*webhook/);
    assert.doesNotMatch(await row.getByRole('cell').nth(4).textContent(), /never/);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await rx.close();
    await t.close();
  }
});

test('an API campaign: its test message goes through /messages/send; script shown as text; archive', async () => {
  const t = await b.start();
  const rx = await webhookReceiver();
  try {
    const { page, srv } = t;
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'bo', first_name: 'Bo' }] });
    // A campaign whose names carry script, made through the API.
    let r = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key, body: {
      name: XSS, kind: 'api_triggered',
      variations: [{ name: `${XSS} v`, channel: 'webhook', content: { url: rx.url(), request_method: 'POST', body: 'x' } }] } });
    assert.equal(r.status, 201, r.text);
    const xssId = r.json.campaign_id;
    await b.signIn(page, t.base);
    await page.goto(`${t.base}/dashboard/campaigns`);
    await page.getByRole('link', { name: XSS }).waitFor();

    await page.getByRole('link', { name: 'New campaign' }).click();
    await page.getByLabel('Campaign name').fill('Local teams');
    await page.getByLabel('Kind').selectOption('api');
    await page.getByText('Test message (not saved: each request brings its own)').waitFor();
    await page.getByRole('button', { name: 'Add variation' }).click();
    const north = page.getByRole('group', { name: 'Variation 1' });
    const south = page.getByRole('group', { name: 'Variation 2' });
    await north.getByLabel('Variation name').fill('North');
    await south.getByLabel('Variation name').fill('South');
    await south.getByLabel('Channel').selectOption('email');
    await south.getByLabel('Subject').waitFor();
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('heading', { name: 'Local teams', level: 1 }).waitFor();
    const c = (await campaigns(srv)).find((x) => x.name === 'Local teams');
    assert.equal(c.kind, 'api');
    assert.deepEqual(c.variations.map((v) => [v.name, v.channel]), [['North', 'webhook'], ['South', 'email']]);

    // The test message is written here, sent with the chosen variation's id.
    const n = page.getByRole('group', { name: 'Variation 1' });
    await n.getByLabel('Webhook URL').fill(rx.url('/north'));
    await n.getByLabel('Request body (Liquid)').fill('Hello {{${first_name}}} from {{campaign.${message_name}}}');
    const test_ = page.getByRole('region', { name: 'Test send' });
    await test_.getByLabel('Send to the user with external id').fill('bo');
    await test_.getByLabel('Variation').selectOption({ label: 'North' });
    await test_.getByRole('button', { name: 'Send test' }).click();
    await test_.getByText(/^Done: 1 of 1 recipients; sent 1/).waitFor({ timeout: 30000 });
    const [got] = await rx.wait(1);
    assert.equal(got.url, '/north');
    assert.equal(got.body, 'Hello Bo from North');
    // A refusal of the send, in words: the email variation without a relay.
    await test_.getByLabel('Variation').selectOption({ label: 'South' });
    await test_.getByRole('button', { name: 'Send test' }).click();
    await test_.getByRole('alert').waitFor();
    assert.match(await test_.getByRole('alert').textContent(), /^Bad Request: /);

    // Archive, confirmed; the list hides it until asked.
    page.once('dialog', (dlg) => dlg.accept());
    await page.getByRole('button', { name: 'Archive campaign' }).click();
    await page.waitForURL(`${t.base}/dashboard/campaigns`);
    await page.getByText('Campaign “Local teams” archived.').waitFor();
    await page.getByRole('link', { name: XSS }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Local teams' }).count(), 0);
    await page.getByLabel('Show archived campaigns').check();
    await page.waitForURL(`${t.base}/dashboard/campaigns?archived=true`);
    await page.getByRole('row').filter({ hasText: 'Local teams' }).getByText('archived').waitFor();
    assert.equal((await campaigns(srv)).find((x) => x.name === 'Local teams').archived, true);
    await b.shot(page, 'campaigns');

    // Script in the names: text on the list and the editor, never run.
    await page.getByRole('link', { name: XSS }).click();
    await page.getByRole('heading', { name: XSS, level: 1 }).waitFor();
    await page.getByRole('region', { name: 'Ids for your sending tool' }).getByRole('cell', { name: `${XSS} v`, exact: true }).waitFor();
    assert.equal(page.url(), `${t.base}/dashboard/campaigns/${xssId}`);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await rx.close();
    await t.close();
  }
});

test('a read-only operator sees campaigns and previews, and changes nothing', async () => {
  const t = await b.start();
  try {
    const { page, srv } = t;
    b.addOperator(srv.dir, 'rob', 'read-only');
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'cy', first_name: 'Cy' }] });
    const r = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key, body: {
      name: 'Welcome', kind: 'api_triggered',
      variations: [{ name: 'A', channel: 'webhook', content: { url: 'http://127.0.0.1:9/x', request_method: 'POST', body: 'Hi {{${first_name}}}' } }] } });
    assert.equal(r.status, 201, r.text);
    await b.signIn(page, t.base, 'rob');
    await page.goto(`${t.base}/dashboard/campaigns`);
    await page.getByRole('link', { name: 'Welcome' }).click();
    await page.getByRole('heading', { name: 'Welcome', level: 1 }).waitFor();
    await page.getByText('Your role is read-only').waitFor();
    const v = page.getByRole('group', { name: 'Variation 1' });
    assert.equal(await v.getByLabel('Request body (Liquid)').getAttribute('readonly'), '');
    assert.ok(await v.getByLabel('Channel').isDisabled());
    await v.getByLabel('Preview for the user with external id').fill('cy');
    await v.getByRole('button', { name: 'Preview' }).click();
    await v.locator('pre', { hasText: /^Hi Cy$/ }).waitFor();
    for (const name of ['Save changes', 'Add variation', 'Send test', 'Archive campaign', 'Remove variation 1'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, name);
    await page.getByRole('region', { name: 'Ids for your sending tool' }).waitFor();
    await page.getByRole('link', { name: '← All campaigns' }).click();
    await page.getByRole('row').filter({ hasText: 'Welcome' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'New campaign' }).count(), 0);
    // Sent anyway, the server refuses.
    const res = await page.evaluate(async (csrf) => (await fetch('/admin/campaigns', { method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{"name":"x","kind":"api"}' })).status,
    await b.csrfOf(page));
    assert.equal(res, 403);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
