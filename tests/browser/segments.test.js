// segments.test.js -- the Segments page in a real browser: a segment built
// on a Heap cohort filter shows its exact size, which changes exactly as an
// attribute filter is added; saved, listed with its size, opened again with
// the same filters; its daily size chart and an export; a huge definition
// refused in words; script in segment and cohort names shown as text; a
// read-only operator sees everything disabled.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./harness.js');
const { h } = b;

const XSS = '<img src=x onerror=window.__xss=1>';

// Users u1..u6: tier gold for u1, u2, u4. A Heap cohort "Heap buyers" (c1)
// holding u1, u2, u3 (and an id nobody has), and one named with script.
async function seed(srv) {
  const users = h.usersApi(srv);
  await users.trackOk({ attributes: ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((id, i) =>
    ({ external_id: id, tier: [0, 1, 3].includes(i) ? 'gold' : 'silver' })) });
  const k = await h.request(srv, 'POST', '/admin/partners/heap/keys', { key: srv.key, body: {} });
  assert.equal(k.status, 201, k.text);
  const secret = k.json.key.key;
  const post = async (suffix, body) => {
    const r = await h.request(srv, 'POST', `/partners/heap/cohorts${suffix}`,
      { body: { partner_api_key: 'braze-issued-partner-key', client_secret: secret, ...body } });
    assert.equal(r.status, 201, r.text);
    return r.json;
  };
  await post('', { cohort_id: 'c1', name: 'Heap buyers', created_at: '2026-01-01T00:00:00Z' });
  const added = await post('/users', { cohort_id: 'c1', cohort_changes: [{ user_ids: ['u1', 'u2', 'u3', 'nobody'] }] });
  assert.equal(added.added, 3);
  await post('', { cohort_id: 'x1', name: XSS, created_at: '2026-01-01T00:00:00Z' });
  await post('/users', { cohort_id: 'x1', cohort_changes: [{ user_ids: ['u5'] }] });
}

const filter = (page, n) => page.getByRole('group', { name: `Filter ${n}`, exact: true });
const sizeIs = (page, n) => page.locator('#seg-size').filter({ hasText: new RegExp(`^${n}$`) }).waitFor();

// A request the test makes with the page's session, as the page would.
async function pageApi(page, method, path, body) {
  const csrf = await b.csrfOf(page);
  return page.evaluate(async ([m, p, bd, token]) => {
    const r = await fetch(p, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': token }, body: JSON.stringify(bd) });
    return { status: r.status, json: await r.json() };
  }, [method, path, body, csrf]);
}

const attrs = (n) => ({ and: Array.from({ length: n }, (_, i) => ({ type: 'custom_attribute', name: `a${i}`, op: 'exists' })) });

test('build a segment on a Heap cohort, see its exact size, save, list, reopen, chart, export, archive', async () => {
  const t = await b.start();
  try {
    await seed(t.srv);
    await b.signIn(t.page, t.base);
    const page = t.page;
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Segments' }).click();
    await page.getByRole('heading', { name: 'Segments', level: 1 }).waitFor();
    await page.getByText('No segments yet: press "New segment"').waitFor();
    await b.shot(page, 'segments-empty');

    await page.getByRole('button', { name: 'New segment' }).click();
    await page.waitForURL(`${t.base}/dashboard/segments/new`);
    await page.getByRole('heading', { name: 'New segment', level: 1 }).waitFor();

    // The Heap cohort filter: partner, then the cohort by its name.
    await filter(page, 1).getByLabel('Filter type').selectOption('cohort');
    await filter(page, 1).getByLabel('Partner').selectOption('heap');
    const cohort = filter(page, 1).getByLabel('Cohort');
    await cohort.locator('option', { hasText: 'Heap buyers (3 users)' }).waitFor({ state: 'attached' });
    // The cohort named with script is an option's text, not markup.
    assert.equal(await cohort.locator('option', { hasText: XSS }).count(), 1);
    await cohort.selectOption('c1');
    await sizeIs(page, 3);
    await page.getByText('is in heap cohort "c1"').waitFor();

    // A second filter: tier = gold leaves u1 and u2.
    await page.getByRole('button', { name: 'Add filter', exact: true }).click();
    assert.equal(await filter(page, 2).getByLabel('Filter type').inputValue(), 'custom_attribute');
    await filter(page, 2).getByLabel('Attribute name').fill('tier');
    await filter(page, 2).getByLabel('Operator').selectOption('equals');
    await filter(page, 2).getByLabel('Value').fill('gold');
    await sizeIs(page, 2);
    // OR: in the cohort or gold: u1..u4.
    await page.getByLabel('Users must match', { exact: true }).selectOption('or');
    await sizeIs(page, 4);
    await page.getByLabel('Users must match', { exact: true }).selectOption('and');
    await sizeIs(page, 2);
    assert.match(await page.locator('#seg-json').textContent(), /"cohort_id": "c1"[\s\S]*"name": "tier"/);

    // A third filter, removed again; a nested OR group of two filters.
    await page.getByRole('button', { name: 'Add filter', exact: true }).click();
    await filter(page, 3).getByLabel('Filter type').selectOption('random_bucket');
    await page.getByRole('button', { name: 'Remove filter 3' }).click();
    assert.equal(await filter(page, 3).count(), 0);
    await page.getByRole('button', { name: 'Add group', exact: true }).click();
    await filter(page, 3.1).getByLabel('Filter type').selectOption('external_id');
    await filter(page, 3.1).getByLabel('Operator').selectOption('exists');
    await sizeIs(page, 2);
    await page.getByRole('button', { name: 'Remove group 3' }).click();
    await sizeIs(page, 2);

    await page.getByLabel('Name', { exact: true }).fill(`${XSS} gold buyers`);
    await page.getByLabel('Tags').fill('vip, q4');
    await page.getByLabel('Description').fill(`bought ${XSS}`);
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.waitForURL(/\/dashboard\/segments\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop();
    await page.getByRole('heading', { name: `Segment: ${XSS} gold buyers`, level: 1 }).waitFor();
    await sizeIs(page, 2);
    await page.getByRole('heading', { name: 'Users in the segment, last 30 days' }).waitFor();
    await b.shot(page, 'segment-builder');

    // Export: the link to the file, then that it is ready. A refusal first.
    const exp = page.getByRole('group', { name: 'Fields to export' });
    for (const n of ['external_id', 'email', 'custom_attributes']) await exp.getByLabel(n, { exact: true }).uncheck();
    await page.getByRole('button', { name: 'Export users' }).click();
    await page.getByRole('alert').filter({ hasText: 'fields_to_export' }).waitFor();
    await exp.getByLabel('external_id', { exact: true }).check();
    await page.getByRole('button', { name: 'Export users' }).click();
    const dl = page.getByRole('link', { name: /\/exports\/.*\.zip$/ });
    await dl.waitFor();
    await page.getByText('Ready', { exact: true }).waitFor({ timeout: 15000 });
    const file = await h.request(t.srv, 'GET', new URL(await dl.getAttribute('href')).pathname);
    assert.equal(file.status, 200);

    // The list: the name as text, its size, tags.
    await page.getByRole('link', { name: '← All segments' }).click();
    const row = page.getByRole('row').filter({ hasText: `${XSS} gold buyers` });
    await row.waitFor();
    assert.match(await row.textContent(), /2.*vip, q4/);
    await b.shot(page, 'segments');

    // Opened again: the same filters.
    await row.getByRole('link').click();
    await page.waitForURL(`${t.base}/dashboard/segments/${id}`);
    await sizeIs(page, 2);
    await filter(page, 1).getByLabel('Cohort').locator('option[value="c1"]').waitFor({ state: 'attached' });
    assert.equal(await filter(page, 1).getByLabel('Filter type').inputValue(), 'cohort');
    assert.equal(await filter(page, 1).getByLabel('Partner').inputValue(), 'heap');
    assert.equal(await filter(page, 1).getByLabel('Cohort').inputValue(), 'c1');
    assert.equal(await filter(page, 2).getByLabel('Attribute name').inputValue(), 'tier');
    assert.equal(await filter(page, 2).getByLabel('Operator').inputValue(), 'equals');
    assert.equal(await filter(page, 2).getByLabel('Value').inputValue(), 'gold');
    assert.equal(await page.getByLabel('Tags').inputValue(), 'vip, q4');
    assert.equal(await filter(page, 3).count(), 0);

    // An update: silver cohort members (u3) only.
    await filter(page, 2).getByLabel('Value').fill('silver');
    await sizeIs(page, 1);
    await page.getByRole('button', { name: 'Save segment' }).click();
    await page.getByText(`Saved "${XSS} gold buyers": 1 user.`).waitFor();
    await page.getByRole('link', { name: '← All segments' }).click();
    assert.match(await row.textContent(), /gold buyers1vip/);
    await row.getByRole('link').click();
    await sizeIs(page, 1);

    // Archive, confirmed: it leaves the list.
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Archive segment' }).click();
    await page.waitForURL(`${t.base}/dashboard/segments`);
    await page.getByText('No segments yet').waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

// Every filter type with every operator, its fields filled as an operator
// would: the server accepts each definition the builder sends.
test('every filter type and operator of docs/segments.md makes a definition the server takes', async () => {
  const t = await b.start();
  try {
    await seed(t.srv);
    await b.signIn(t.page, t.base);
    const r = await pageApi(t.page, 'POST', '/admin/segments', { name: 'gold', definition: { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    // A stored definition of every kind of value, opened in the builder,
    // comes back the same.
    const def = { and: [
      { type: 'custom_attribute', name: 'age', op: 'between', value: [25, 40] },
      { type: 'custom_attribute', name: 'tags', op: 'includes_any', value: ['a', 2, '3'] },
      { type: 'country', op: 'in', value: ['US', 'CA'] },
      { type: 'custom_event', name: 'cart', op: 'count_ge', value: 3, days: 30 },
      { type: 'purchase', op: 'performed' },
      { type: 'purchase', product: 'shoe', op: 'last_after', value: '2026-01-01T00:00:00Z' },
      { or: [{ type: 'email_subscription_status', op: 'in', value: ['opted_in', 'subscribed'] },
        { type: 'subscription_group', group_id: 'g1', op: 'equals', value: 'unsubscribed' },
        { type: 'segment', id: r.json.segment.id, op: 'not_in' }] },
      { type: 'cohort', partner: 'heap', cohort_id: 'c1', op: 'excludes' },
      { type: 'random_bucket', op: 'less_than', value: 5000 },
      { type: 'custom_attribute', name: 'vip', op: 'is_true' },
      { type: 'last_used_app', op: 'within_last_days', value: 7 },
      { type: 'custom_attribute', name: 'nick', op: 'matches_regex', value: '^a' },
    ] };
    const all = await pageApi(t.page, 'POST', '/admin/segments', { name: 'all kinds', definition: def });
    assert.equal(all.status, 201, JSON.stringify(all.json));
    await t.page.goto(`${t.base}/dashboard/segments/${all.json.segment.id}`);
    await sizeIs(t.page, 0);
    assert.deepEqual(JSON.parse(await t.page.locator('#seg-json').textContent()), def);
    assert.equal(await filter(t.page, '7.3').getByLabel('Segment', { exact: true }).inputValue(), r.json.segment.id);
    assert.equal(await filter(t.page, 2).getByLabel('Values').inputValue(), 'a\n2\n"3"');
    assert.equal(await filter(t.page, 4).getByLabel('In the last … days').inputValue(), '30');
    await filter(t.page, 8).getByLabel('Cohort').locator('option[value="c1"]').waitFor({ state: 'attached' });
    assert.equal(await filter(t.page, 8).getByLabel('Cohort').inputValue(), 'c1');
    assert.ok(await filter(t.page, '7.1').getByRole('checkbox', { name: 'opted in' }).isChecked());
    assert.equal(await t.page.getByLabel('Group 7: users must match').inputValue(), 'or');

    await t.page.goto(`${t.base}/dashboard/segments/new`);
    await everyFilter(t.page);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

async function everyFilter(page) {
  const f = filter(page, 1);
  await f.getByLabel('Filter type').waitFor();
  const types = await f.getByLabel('Filter type').locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.equal(types.length, 23);
  const fills = [['Attribute name', 'tier'], ['Event name', 'cart'], ['Product', 'shoe'], ['Subscription group id', 'g1'],
    ['Values', 'a'], ['From', '1'], ['To (inclusive)', '2'], ['Time', '2026-01-31T00:00:00Z'], ['Days', '3'],
    ['Number of elements', '2'], ['Times', '1'], ['In the last … days', '7']];
  let checked = 0;
  for (const type of types) {
    await f.getByLabel('Filter type').selectOption(type);
    const ops = await f.getByLabel('Operator').locator('option').evaluateAll((os) => os.map((o) => o.value));
    for (const op of ops) {
      await f.getByLabel('Operator').selectOption(op);
      const shown = new Set(await f.locator('label, legend').allTextContents());
      for (const [label, value] of fills) if (shown.has(label)) await f.getByLabel(label, { exact: true }).fill(value);
      if (shown.has('Value')) {
        const v = f.getByLabel('Value', { exact: true });
        await v.fill((await v.getAttribute('type')) === 'number' ? '5' : 'gold');
      }
      if (shown.has('Regex')) await f.getByLabel('Regex', { exact: true }).fill('^g(o|a)ld$');
      if (shown.has('Status')) await f.getByLabel('Status', { exact: true }).selectOption({ index: 1 });
      if (shown.has('Statuses')) await f.getByRole('group', { name: 'Statuses' }).getByRole('checkbox').first().check();
      if (type === 'cohort') {
        await f.getByLabel('Partner').selectOption('heap');
        await f.getByLabel('Cohort').locator('option[value="c1"]').waitFor({ state: 'attached' });
        await f.getByLabel('Cohort').selectOption('c1');
      }
      if (type === 'segment') await f.getByLabel('Segment', { exact: true }).selectOption({ index: 1 });
      // The preview of this state: a size, not a refusal.
      await page.waitForTimeout(400);
      await page.waitForFunction(() => document.querySelector('#seg-size') || document.querySelector('.seg-result [role=alert]'));
      const refused = page.locator('.seg-result [role=alert]');
      assert.equal(await refused.count(), 0, `${type} ${op}: ${await refused.allTextContents()}`);
      const def = JSON.parse(await page.locator('#seg-json').textContent()).and[0];
      assert.deepEqual([def.type, def.op], [type, op]);
      checked++;
    }
  }
  assert.ok(checked > 100, `${checked} filters`);
}

test('a huge definition is refused in words; a read-only operator sees everything disabled', async () => {
  const t = await b.start();
  try {
    await seed(t.srv);
    await b.signIn(t.page, t.base);
    const page = t.page;
    // 300 filters straight to the API: refused.
    const huge = await pageApi(page, 'POST', '/admin/segments', { name: 'huge', definition: attrs(300) });
    assert.equal(huge.status, 400);
    assert.match(huge.json.message, /more than 200 filters/);
    // Two segments of 150 filters each are fine; a definition in both is 300.
    const ids = [];
    for (const name of ['half one', 'half two']) {
      const r = await pageApi(page, 'POST', '/admin/segments', { name, definition: attrs(150) });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      ids.push(r.json.segment.id);
    }
    await page.goto(`${t.base}/dashboard/segments/new`);
    await filter(page, 1).getByLabel('Filter type').selectOption('segment');
    await filter(page, 1).getByLabel('Segment', { exact: true }).selectOption({ label: 'half one' });
    await sizeIs(page, 0);
    await page.getByRole('button', { name: 'Add filter', exact: true }).click();
    await filter(page, 2).getByLabel('Filter type').selectOption('segment');
    await filter(page, 2).getByLabel('Segment', { exact: true }).selectOption({ label: 'half two' });
    await page.getByRole('alert').filter({ hasText: 'more than 200 filters (nested segments included)' }).waitFor();
    await page.getByText('no size: the definition is refused').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('too big');
    await page.getByRole('button', { name: 'Create segment' }).click();
    await page.getByRole('alert').filter({ hasText: 'Not saved: Bad Request: invalid segment definition: and[1]' }).waitFor();
    await b.shot(page, 'segment-builder-refused');
    assert.equal(page.url(), `${t.base}/dashboard/segments/new`);

    // A read-only operator: the list without "New segment", the builder
    // disabled and without Save, the size still shown.
    b.addOperator(t.srv.dir, 'rob', 'read-only');
    const ctx = await t.browser.newContext();
    const ro = await ctx.newPage();
    const roErrors = [];
    ro.on('pageerror', (e) => roErrors.push(String(e)));
    await b.signIn(ro, t.base, 'rob');
    await ro.goto(`${t.base}/dashboard/segments`);
    await ro.getByRole('link', { name: 'half one' }).click();
    await ro.waitForURL(`${t.base}/dashboard/segments/${ids[0]}`);
    await sizeIs(ro, 0);
    assert.equal(await ro.getByRole('button', { name: 'New segment' }).count(), 0);
    assert.ok(await ro.getByLabel('Name', { exact: true }).isDisabled());
    assert.ok(await filter(ro, 1).getByLabel('Filter type').isDisabled());
    assert.ok(await ro.getByRole('button', { name: 'Add filter', exact: true }).isDisabled());
    assert.equal(await ro.getByRole('button', { name: /Save segment|Create segment|Archive segment/ }).count(), 0);
    assert.ok(await ro.getByRole('button', { name: 'Export users' }).isDisabled());
    await ro.goto(`${t.base}/dashboard/segments`);
    await ro.getByRole('link', { name: 'half two' }).waitFor();
    assert.equal(await ro.getByRole('button', { name: 'New segment' }).count(), 0);
    await b.shot(ro, 'segments-read-only');
    await ctx.close();
    assert.deepEqual(roErrors, []);
    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
