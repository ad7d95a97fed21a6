// keys.test.js -- the API keys and technology partners pages in a real
// browser: a key made with SmarterSends' ten permissions and an allowlist,
// used with curl as the partner would, then revoked; a Heap data import
// key generated, rotated and invalidated on the page, a cohort imported
// with it as Heap does; what a marketer sees; names with script in them
// shown as text; the server's refusals in words.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const b = require('./harness.js');
const { h } = b;

const SMARTERSENDS = ['users.track', 'users.export.ids', 'messages.schedule.create', 'messages.schedule.update',
  'messages.schedule.delete', 'sends.id.create', 'segments.list', 'segments.data_series', 'segments.details', 'sends.data_series'];
const XSS = '<img src=x onerror=window.__xss=1>';

// curl as a partner's server runs it: the status code, then the body.
function curl(base, method, path, key, body) {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, `${base}${path}`, '-H', `Authorization: Bearer ${key}`];
  if (body) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'utf8', timeout: 20000 }, (err, stdout) => {
      if (err) return reject(err);
      const nl = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(nl + 1)), body: stdout.slice(0, nl) });
    });
  });
}

const checked = (page) => page.$$eval('input[name=permission]:checked', (els) => els.map((e) => e.value));

test('API keys: create SmarterSends\' key on the page, use it with curl, revoke it', async () => {
  const t = await b.start();
  try {
    const { page, base } = t;
    await b.signIn(page, base);
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL(`${base}/dashboard/keys`);
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    assert.equal(await page.title(), 'API keys · brasa');
    // The bootstrap key is listed, with every permission summed up.
    const boot = page.getByRole('row').filter({ hasText: 'Every Braze permission, brasa.keys, brasa.metrics' });
    await boot.waitFor();
    // Braze's groups, from the permission names the server gives.
    for (const g of ['User Data', 'Email', 'Messages', 'Campaigns', 'Canvas', 'Segments', 'KPIs', 'Sends', 'Templates',
      'Content Blocks', 'Preference Center', 'Catalogs', 'SDK Authentication', 'SSO', 'brasa admin']) {
      await page.getByRole('group', { name: g, exact: true }).waitFor();
    }
    await page.getByRole('group', { name: 'Segments', exact: true }).getByLabel('segments.details').waitFor();
    await b.shot(page, 'keys');

    // Refusals, in the server's words: no name; a bad address.
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Bad Request: name must be 1 to 255 characters' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('bad ip');
    await page.getByLabel('users.track', { exact: true }).check();
    await page.getByLabel('IP allowlist').fill('127.0.0.1/32\nnot-an-address');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').filter({ hasText: "Bad Request: invalid IP address or CIDR range in '127.0.0.1/32,not-an-address'" }).waitFor();

    // SmarterSends' preset: exactly its ten permissions.
    await page.getByRole('button', { name: 'SmarterSends preset' }).click();
    assert.deepEqual((await checked(page)).sort(), [...SMARTERSENDS].sort());
    await page.getByText('SmarterSends: 10 permissions checked. SmarterSends also asks for an IP allowlist entry').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('SmarterSends');
    await page.getByLabel('IP allowlist').fill('127.0.0.1/32\n2001:db8::/32\n');
    await page.getByRole('button', { name: 'Create key' }).click();
    const box = page.locator('.secret');
    await box.getByText('Copy it now: it will not be shown again.').waitFor();
    const key = (await box.locator('code').textContent()).trim();
    assert.match(key, h.UUID4_RE);
    await box.getByRole('button', { name: 'Copy key' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: 'SmarterSends' });
    await row.getByText('Active').waitFor();
    assert.match(await row.textContent(), /User Data \(2\), Messages \(3\), Sends \(2\), Segments \(3\)/);
    assert.match(await row.textContent(), /127\.0\.0\.1\/322001:db8::\/32/);
    await b.shot(page, 'keys-created');

    // The key works for what it may do, and only that.
    let r = await curl(base, 'POST', '/users/track', key, { attributes: [{ external_id: 'ss-1', first_name: 'Ada' }] });
    assert.equal(r.status, 201, r.body);
    r = await curl(base, 'GET', '/segments/list', key);
    assert.equal(r.status, 200, r.body);
    r = await curl(base, 'GET', '/campaigns/list', key);
    assert.equal(r.status, 403, r.body);
    assert.match(JSON.parse(r.body).message, /^Access Denied/);

    // Shown once: after a reload the list has it, its text nowhere; used
    // (last use is written in the background, within a few seconds).
    assert.ok(await h.poll(async () => (await h.request(t.srv, 'GET', '/admin/keys', { key: t.srv.key }))
      .json.keys.some((k) => k.name === 'SmarterSends' && k.last_used_at), { deadlineMs: 10000 }));
    await page.reload();
    await page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
    assert.ok(!(await page.content()).includes(key));
    const used = page.getByRole('row').filter({ hasText: 'SmarterSends' });
    await used.getByText('Active').waitFor();
    assert.doesNotMatch(await used.locator('td').nth(4).textContent(), /never/);

    // Revoke: asked first; cancelling keeps it.
    page.once('dialog', (d) => d.dismiss());
    await used.getByRole('button', { name: 'Revoke SmarterSends' }).click();
    assert.equal((await curl(base, 'POST', '/users/track', key, { attributes: [{ external_id: 'ss-1', last_name: 'L' }] })).status, 201);
    let message = '';
    page.once('dialog', (d) => { message = d.message(); d.accept(); });
    await used.getByRole('button', { name: 'Revoke SmarterSends' }).click();
    await used.getByText(/^Revoked /).waitFor();
    assert.match(message, /^Revoke the key "SmarterSends"\?/);
    assert.equal(await used.getByRole('button', { name: /Revoke/ }).count(), 0);
    r = await curl(base, 'POST', '/users/track', key, { attributes: [{ external_id: 'ss-1', first_name: 'Eve' }] });
    assert.equal(r.status, 401, r.body);
    assert.equal(JSON.parse(r.body).message, `Invalid API key: ${key}`);

    // Script in a key's name is text, in the box and in the list.
    await page.getByLabel('Name', { exact: true }).fill(XSS);
    await page.getByLabel('users.track', { exact: true }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await box.getByText(`Key "${XSS}" created`).waitFor();
    await page.getByRole('cell', { name: XSS, exact: true }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined);

    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

test('technology partners: a Heap key made on the page imports a cohort; rotate, invalidate, partner_api_key', async () => {
  const t = await b.start();
  try {
    const { page, base, srv } = t;
    await b.signIn(page, base);
    await page.getByRole('link', { name: 'Technology partners' }).click();
    await page.getByRole('heading', { name: 'Technology partners', level: 1 }).waitFor();
    await page.getByText('No partner yet: generate a data import key for one above.').waitFor();

    // No name: said so; then Heap's first key, shown once.
    await page.getByRole('button', { name: 'Generate data import key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Give the partner\'s name first.' }).waitFor();
    await page.getByLabel('Partner name').fill('Heap');
    await page.getByRole('button', { name: 'Generate data import key' }).click();
    const card = page.getByRole('region', { name: 'heap' });
    const box = card.locator('.secret');
    await box.getByText('Copy it now: it will not be shown again.').waitFor();
    const key = (await box.locator('code').textContent()).trim();
    assert.match(key, h.UUID4_RE);
    // A second one is refused, in the server's words.
    await page.getByLabel('Partner name').fill('heap');
    await page.getByRole('button', { name: 'Generate data import key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Already exists: heap has a valid data import key; rotate or invalidate it' }).waitFor();

    // Heap's integration: the users exist (tracked with a REST key), then
    // the cohort's name, then its members.
    const users = h.usersApi(srv);
    await users.trackOk({ attributes: ['h1', 'h2', 'h3'].map((id) => ({ external_id: id, first_name: id })) });
    const created = '2021-01-21T19:20:30+05:00';
    let r = await h.request(srv, 'POST', '/partners/heap/cohorts', {
      body: { partner_api_key: 'braze-heap', client_secret: key, cohort_id: 'heap-churn', name: XSS, created_at: created } });
    assert.equal(r.status, 201, r.text);
    r = await h.request(srv, 'POST', '/partners/heap/cohorts/users', {
      body: { partner_api_key: 'braze-heap', client_secret: key, cohort_id: 'heap-churn', cohort_changes: [{ user_ids: ['h1', 'h2', 'h3', 'nobody'] }] } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.added, 3, r.text);

    await page.reload();
    const cohort = card.getByRole('row').filter({ hasText: 'heap-churn' });
    await cohort.waitFor();
    assert.equal(await cohort.locator('td').nth(0).textContent(), XSS, 'the name is text');
    assert.equal(await cohort.locator('td').nth(2).textContent(), '3');
    assert.match(await cohort.locator('td').nth(3).textContent(), /: 3 added, 0 removed$/);
    assert.equal(await card.locator('.secret').count(), 0, 'the key is not shown again');
    assert.ok(!(await page.content()).includes(key));
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await b.shot(page, 'partners');

    // Rotate with a 2-hour overlap: a new key; the old one works until then.
    await card.getByLabel('Overlap (hours)').fill('');
    await card.getByRole('button', { name: 'Rotate heap key' }).click();
    await card.getByRole('alert').filter({ hasText: 'The overlap is a number of hours, from 0 to 8760.' }).waitFor();
    await card.getByLabel('Overlap (hours)').fill('2');
    const t0 = Date.now();
    await card.getByRole('button', { name: 'Rotate heap key' }).click();
    await card.getByText(/^The previous key keeps working until /).waitFor();
    const key2 = (await card.locator('.secret code').textContent()).trim();
    assert.notEqual(key2, key);
    let list = (await h.request(srv, 'GET', '/admin/partners', { key: srv.key })).json.partners[0];
    assert.equal(list.keys.length, 2);
    const exp = Date.parse(list.keys[0].expires_at) - t0;
    assert.ok(exp > 7100e3 && exp < 7300e3, `expires in ${exp} ms`);
    assert.equal(await card.getByRole('cell', { name: 'yes', exact: true }).count(), 2);
    const users2 = { partner_api_key: 'p', cohort_id: 'heap-churn', cohort_changes: [{ user_ids: ['h1'], should_remove: true }] };
    assert.equal((await h.request(srv, 'POST', '/partners/heap/cohorts/users', { body: { ...users2, client_secret: key } })).status, 201);

    // A partner_api_key to require: empty refused in words; then set.
    await card.getByRole('button', { name: 'Require it' }).click();
    await card.getByRole('alert').filter({ hasText: "Bad Request: 'partner_api_key' must be a string of 1 to 255 bytes, or null" }).waitFor();
    await card.getByLabel('partner_api_key to require from heap').fill('braze-heap');
    await card.getByRole('button', { name: 'Require it' }).click();
    await card.getByText('Requests must send the partner_api_key set here.').waitFor();
    r = await h.request(srv, 'POST', '/partners/heap/cohorts/users', { body: { ...users2, client_secret: key2 } });
    h.assertError(r, 401, 'Invalid Partner API key');
    await card.getByRole('button', { name: 'Accept any' }).click();
    await card.getByText('Any partner_api_key is accepted', { exact: false }).waitFor();
    assert.equal((await h.request(srv, 'POST', '/partners/heap/cohorts/users', { body: { ...users2, client_secret: key2 } })).status, 201);

    // Invalidate: asked first, then every key stops at once.
    page.once('dialog', (d) => d.accept());
    await card.getByRole('button', { name: 'Invalidate heap keys' }).click();
    await card.getByRole('button', { name: 'Generate heap key' }).waitFor();
    assert.equal(await card.getByRole('cell', { name: 'yes', exact: true }).count(), 0);
    for (const k of [key, key2]) {
      r = await h.request(srv, 'POST', '/partners/heap/cohorts/users', { body: { ...users2, client_secret: k } });
      h.assertError(r, 401, 'Invalid client secret');
    }
    list = (await h.request(srv, 'GET', '/admin/partners', { key: srv.key })).json.partners[0];
    assert.equal(list.valid_keys, 0);

    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});

test('a marketer or read-only operator: no Keys link, Not found at /dashboard/keys, partners without the buttons', async () => {
  const t = await b.start();
  try {
    const { page, base, srv } = t;
    b.addOperator(srv.dir, 'mia', 'marketer');
    const gen = await h.request(srv, 'POST', '/admin/partners/tinyclues/keys', { key: srv.key, body: {} });
    assert.equal(gen.status, 201, gen.text);
    await b.signIn(page, base, 'mia');
    await page.getByRole('link', { name: 'Technology partners' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'API keys' }).count(), 0);
    await page.goto(`${base}/dashboard/keys`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    assert.equal(await page.title(), 'Not found · brasa');

    await page.goto(`${base}/dashboard/partners`);
    const card = page.getByRole('region', { name: 'tinyclues' });
    await card.getByRole('cell', { name: 'yes', exact: true }).waitFor();
    await card.getByText('No cohort yet: tinyclues creates them when it syncs.').waitFor();
    assert.equal(await page.getByRole('button').filter({ hasNotText: 'Sign out' }).filter({ hasNotText: 'Copy endpoint' }).count(), 0);
    assert.equal(await page.getByRole('heading', { name: 'Add a partner' }).count(), 0);

    // Read-only: the same, after the key was invalidated.
    await h.request(srv, 'POST', '/admin/partners/tinyclues/keys/invalidate', { key: srv.key, body: {} });
    b.addOperator(srv.dir, 'rob', 'read-only');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await b.signIn(page, base, 'rob');
    await page.goto(`${base}/dashboard/partners`);
    await page.getByRole('region', { name: 'tinyclues' }).getByRole('cell', { name: 'no', exact: true }).waitFor();
    assert.equal(await page.getByRole('button').filter({ hasNotText: 'Sign out' }).filter({ hasNotText: 'Copy endpoint' }).count(), 0);
    await page.goto(`${base}/dashboard/keys`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();

    assert.deepEqual(t.foreign, []);
    assert.deepEqual(t.pageErrors, []);
  } finally {
    await t.close();
  }
});
