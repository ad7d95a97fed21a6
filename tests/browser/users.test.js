// users.test.js -- the Users page in a real browser: a user tracked with
// the bootstrap key is looked up by external id, email (two users share it:
// a list to pick from), alias and a bookmarked URL; the profile shows the
// attributes (script in a value is text), events, purchases, cohorts-free
// state, a message received, and the segments the user is in and not in
// with the reason per filter; an unknown id is an empty state, a refused
// lookup is an error in words; a read-only operator looks users up too.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');
const { h } = b;
const { webhookReceiver } = require('../e2e/webhook_receiver.js');

const XSS = '<img src=x onerror=window.__xss=1>';
const GOLD = { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' };
// Ada is in the first segment (every filter matches) and not in the second
// (she lives in Portugal).
const BUYERS = { and: [GOLD, { type: 'custom_event', name: 'cart', op: 'count_ge', value: 2, days: 30 },
  { type: 'purchase', product: 'shoe', op: 'performed' }] };
const US_GOLD = { and: [GOLD, { type: 'country', op: 'equals', value: 'US' }] };

async function seed(srv) {
  const api = h.usersApi(srv);
  const now = new Date().toISOString();
  await api.trackOk({
    attributes: [
      { external_id: 'ada', first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', phone: '+14155550100',
        country: 'PT', home_city: 'Lisbon', gender: 'F', email_subscribe: 'opted_in',
        tier: 'gold', note: XSS, tags: ['early', 'beta'], prefs: { color: 'red', sizes: [1, 2] } },
      { external_id: 'bob', first_name: 'Bob', email: 'ada@example.com', tier: 'silver' },
    ],
    events: [{ external_id: 'ada', name: 'cart', time: now }, { external_id: 'ada', name: 'cart', time: now }],
    purchases: [{ external_id: 'ada', product_id: 'shoe', currency: 'USD', price: 42.5, time: now }],
  });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'ada', alias_name: 'ada-crm', alias_label: 'crm' }] });
  const segs = [];
  for (const [name, definition] of [['Gold buyers', BUYERS], [`US gold ${XSS}`, US_GOLD]]) {
    const res = await h.request(srv, 'POST', '/admin/segments', { key: srv.key, body: { name, definition } });
    assert.equal(res.status, 201, res.text);
    segs.push(res.json.segment);
  }
  // A message received: a webhook campaign sent to Ada.
  const rx = await webhookReceiver();
  try {
    const c = await h.request(srv, 'POST', '/admin/campaigns', { key: srv.key,
      body: { name: 'Welcome', kind: 'api', variations: [{ name: 'Warm', channel: 'webhook' }] } });
    assert.equal(c.status, 201, c.text);
    const res = await h.request(srv, 'POST', '/messages/send', { key: srv.key, body: {
      campaign_id: c.json.campaign_id, external_user_ids: ['ada'],
      messages: { webhook: { url: rx.url(), request_method: 'POST', body: 'hi', message_variation_id: c.json.variations[0].id } } } });
    assert.equal(res.status, 201, res.text);
    await h.poll(async () => (await h.request(srv, 'GET', `/admin/dispatches/${res.json.dispatch_id}`, { key: srv.key })).json.state === 'done',
      { deadlineMs: 30000, intervalMs: 100 });
  } finally {
    await rx.close();
  }
  return segs;
}

// The page's search form, filled and sent.
async function find(page, kind, value, label) {
  await page.getByLabel('Identifier', { exact: true }).selectOption({ label: kind });
  if (kind === 'User alias') {
    await page.getByLabel('Alias name', { exact: true }).fill(value);
    await page.getByLabel('Alias label', { exact: true }).fill(label);
  } else {
    await page.getByLabel('Value', { exact: true }).fill(value);
  }
  await page.getByRole('button', { name: 'Find' }).click();
}

// The row of a name/value or summary table whose first cell is name.
const row = (page, name) => page.getByRole('row').filter({ has: page.getByRole('cell', { name, exact: true }) })
  .or(page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) }));

test('users: find a user, see the profile as Braze shows it, with segments and their reasons', async () => {
  const t = await b.start();
  try {
    const segs = await seed(t.srv);
    const { page, base } = t;
    await b.signIn(page, base);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(`${base}/dashboard/users`);
    assert.equal(await page.title(), 'Users · brasa');
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    await page.getByText('Look a user up by an external id').waitFor();
    // The alias fields appear only for an alias.
    assert.equal(await page.getByLabel('Alias name').isVisible(), false);
    await b.shot(page, 'users');

    // By external id: the URL holds the search.
    await find(page, 'External id', 'ada');
    await page.waitForURL(`${base}/dashboard/users?external_id=ada`);
    await page.getByRole('heading', { name: 'User ada' }).waitFor();
    const check = async () => {
      await page.getByRole('heading', { name: 'User ada' }).waitFor();
      assert.match(await row(page, 'Email').first().textContent(), /ada@example\.com/);
      assert.match(await row(page, 'Phone').first().textContent(), /\+14155550100/);
      assert.match(await row(page, 'Aliases').textContent(), /ada-crm \(label crm\)/);
      assert.match(await row(page, 'First name').textContent(), /Ada/);
      assert.match(await row(page, 'Country').textContent(), /PT/);
      assert.match(await row(page, 'Total revenue').textContent(), /42\.5/);
      // Custom attributes: strings as text, arrays and objects as JSON text.
      assert.match(await row(page, 'tier').textContent(), /gold/);
      assert.equal(await row(page, 'note').getByRole('cell').nth(1).textContent(), XSS);
      assert.equal(await row(page, 'tags').getByRole('cell').nth(1).textContent(), '["early","beta"]');
      assert.equal(await row(page, 'prefs').getByRole('cell').nth(1).textContent(), '{"color":"red","sizes":[1,2]}');
      // Events and purchases: name, count, first, last.
      assert.equal(await row(page, 'cart').getByRole('cell').nth(1).textContent(), '2');
      assert.equal(await row(page, 'shoe').getByRole('cell').nth(1).textContent(), '1');
      assert.match(await row(page, 'Email').last().textContent(), /opted_in/);
      await page.getByText('In no partner cohort').waitFor();
      // The message received.
      const msg = row(page, 'Welcome');
      assert.match(await msg.textContent(), /Warm/);
      assert.match(await msg.textContent(), /webhook/);
    };
    await check();
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'script in an attribute value is not run');
    assert.equal(await page.locator('img[src="x"]').count(), 0);

    // The segments she is in and not in, each filter with its reason, as the server decided.
    await page.getByRole('heading', { name: 'In 1 segment', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Not in 1 segment' }).waitFor();
    const explained = (await h.request(t.srv, 'GET', '/admin/users/profile?external_id=ada', { key: t.srv.key })).json.users[0].segments;
    assert.deepEqual(explained.map((s) => [s.id, s.member]), [[segs[0].id, true], [segs[1].id, false]]);
    assert.equal(explained[1].filters[0].description, 'custom attribute "tier" equals "gold"');
    const lists = page.locator('ul.segments');
    for (const [i, s] of explained.entries()) {
      const item = lists.nth(i).getByRole('listitem').filter({ hasText: s.name }).first();
      const reasons = item.getByRole('listitem');
      assert.equal(await reasons.count(), s.filters.length);
      for (const [k, f] of s.filters.entries())
        assert.equal(await reasons.nth(k).textContent(), `${f.matched ? '✓ matches: ' : '✗ does not match: '}${f.description}`);
    }
    assert.deepEqual(explained[1].filters.map((f) => f.matched), [true, false]);
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'script in a segment name is not run');
    await b.shot(page, 'user-profile');

    // A bookmark opens the same profile.
    await page.goto(`${base}/dashboard/users?external_id=ada`);
    await check();

    // By email: two users share it, the list picks one (its page is by Braze id).
    await find(page, 'Email address', 'ada@example.com');
    await page.waitForURL(`${base}/dashboard/users?email=ada%40example.com`);
    await page.getByRole('heading', { name: '2 users match the email address "ada@example.com"' }).waitFor();
    await b.shot(page, 'users-choose');
    await page.getByRole('link', { name: 'ada', exact: true }).click();
    await page.waitForURL(/\/dashboard\/users\?braze_id=[0-9a-f]{24}$/);
    await check();
    assert.equal(await page.getByLabel('Identifier').inputValue(), 'braze_id');
    // Back goes to the list.
    await page.goBack();
    await page.getByRole('heading', { name: /^2 users match/ }).waitFor();

    // By alias: two fields.
    await find(page, 'User alias', 'ada-crm', 'crm');
    await page.waitForURL(`${base}/dashboard/users?alias_name=ada-crm&alias_label=crm`);
    await check();
    assert.equal(await page.getByLabel('Alias label').inputValue(), 'crm');

    // An unknown id: nothing matched, and what identifiers are accepted.
    await find(page, 'External id', 'nobody');
    await page.getByText('No user matched the external id "nobody".').waitFor();
    await page.getByText(/Users are found by an external id, an email address, a phone number/).waitFor();
    await b.shot(page, 'users-none');

    // A lookup the server refuses: its reason in words.
    await find(page, 'Device id', 'x'.repeat(1025));
    await page.getByRole('alert').filter({ hasText: "Bad Request: 'device_id' is longer than 1024 bytes" }).waitFor();
    await page.goto(`${base}/dashboard/users?external_id=ada&email=ada%40example.com`);
    await page.getByRole('alert').filter({ hasText: /^Bad Request: give exactly one of/ }).waitFor();

    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

test('users: a read-only operator looks users up', async () => {
  const t = await b.start();
  try {
    await seed(t.srv);
    b.addOperator(t.srv.dir, 'rob', 'read-only');
    const { page, base } = t;
    await b.signIn(page, base, 'rob');
    await page.getByRole('link', { name: 'Users' }).click();
    await find(page, 'Phone number', '+14155550100');
    await page.waitForURL(`${base}/dashboard/users?phone=%2B14155550100`);
    await page.getByRole('heading', { name: 'User ada' }).waitFor();
    await page.getByRole('heading', { name: 'In 1 segment', exact: true }).waitFor();
    assert.equal(await row(page, 'note').getByRole('cell').nth(1).textContent(), XSS);
    await page.goto(`${base}/dashboard/users?external_id=bob`);
    await page.getByRole('heading', { name: 'User bob' }).waitFor();
    await page.getByRole('heading', { name: 'Not in 2 segments' }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
