// partner_settings.test.js -- POST /admin/partners/{partner}/settings, the
// admin API's `brasa partners set`: the partner_api_key a partner must send,
// or any; effective at once; every refusal (status and exact body).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const CREATED_AT = '2021-01-21T19:20:30+05:00';

const srv = h.fileServer();

const settings = (partner, body, opts = {}) =>
  h.request(srv, 'POST', `/admin/partners/${partner}/settings`, { key: srv.key, body, ...opts });

async function listed(partner) {
  const res = await h.request(srv, 'GET', '/admin/partners', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  return res.json.partners.find((p) => p.partner === partner);
}

test('set a partner_api_key: required at once, then any again with null', async () => {
  const gen = await h.request(srv, 'POST', '/admin/partners/heap/keys', { key: srv.key, body: {} });
  assert.equal(gen.status, 201, gen.text);
  const secret = gen.json.key.key;
  const call = (pak) => h.request(srv, 'POST', '/partners/heap/cohorts', {
    body: { ...(pak === undefined ? {} : { partner_api_key: pak }), client_secret: secret, cohort_id: 'c', name: 'C', created_at: CREATED_AT },
  });
  assert.equal((await call('anything')).status, 201);

  let res = await settings('Heap', { partner_api_key: 'braze-heap-us' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { message: 'success', partner_api_key: 'configured' });
  // No wait for the key cache: the server forgot what it knew of heap.
  h.assertError(await call('anything'), 401, 'Invalid Partner API key');
  h.assertError(await call(undefined), 401, 'Invalid Partner API key');
  assert.equal((await call('braze-heap-us')).status, 201);
  assert.equal((await listed('heap')).partner_api_key, 'configured');

  res = await settings('heap', { partner_api_key: null });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { message: 'success', partner_api_key: 'any' });
  assert.equal((await call('anything')).status, 201);
  assert.equal((await listed('heap')).partner_api_key, 'any');

  // A partner with nothing yet is listed once it has a setting.
  res = await settings('tinyclues', { partner_api_key: 'tc' });
  assert.equal(res.status, 200, res.text);
  const tc = await listed('tinyclues');
  assert.deepEqual([tc.partner_api_key, tc.valid_keys, tc.cohorts], ['configured', 0, 0]);

  // The audit log names the change; the key is kept only as its hash.
  const audit = await h.request(srv, 'GET', '/admin/audit', { key: srv.key });
  assert.ok(audit.json.entries.some((e) => e.path === '/admin/partners/Heap/settings' && e.status === 200), audit.text);
  assert.ok(!audit.text.includes('braze-heap-us'));
  for (const f of fs.readdirSync(srv.dir)) {
    const p = path.join(srv.dir, f);
    if (fs.statSync(p).isFile()) assert.ok(!fs.readFileSync(p).includes('braze-heap-us'), `${f} holds the partner_api_key`);
  }
});

test('settings: every refusal, exact bodies, nothing changed', async () => {
  const cases = [
    ['heap', { partner_api_key: '' }, "Bad Request: 'partner_api_key' must be a string of 1 to 255 bytes, or null"],
    ['heap', { partner_api_key: 'k'.repeat(256) }, "Bad Request: 'partner_api_key' must be a string of 1 to 255 bytes, or null"],
    ['heap', { partner_api_key: 7 }, "Bad Request: 'partner_api_key' must be a string of 1 to 255 bytes, or null"],
    ['heap', { partner_api_key: ['k'] }, "Bad Request: 'partner_api_key' must be a string of 1 to 255 bytes, or null"],
    ['heap', { partner_api_key: 'a\u0000b' }, /^Invalid JSON in request body: strings must not contain U\+0000/],
    ['heap', {}, "Bad Request: give 'partner_api_key': the key to require, or null to accept any"],
    ['heap', { partner_api_key: 'k', client_secret: 'x' }, "Bad Request: unknown field 'client_secret'"],
    ['heap', ['k'], 'Bad Request: the body must be a JSON object'],
    ['heap', undefined, 'Bad Request: the body must be a JSON object'],
    ['he%20ap', { partner_api_key: 'k' }, "Bad Request: the partner name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'"],
    ['-heap', { partner_api_key: 'k' }, "Bad Request: the partner name must be 1-64 characters of a-z, 0-9, '.', '_' or '-'"],
  ];
  for (const [partner, body, msg] of cases) h.assertError(await settings(partner, body), 400, msg);
  const res = await settings('heap', undefined, { raw: '{"partner_api_key":', headers: { 'content-type': 'application/json' } });
  h.assertError(res, 400, /^Invalid JSON in request body: /);
  assert.equal(await listed('he ap'), undefined);
  assert.equal(await listed('-heap'), undefined);

  // Who may: brasa.keys only; a marketing key reads partners but not this.
  h.assertError(await settings('heap', { partner_api_key: 'k' }, { key: undefined }), 401, 'Invalid API key: ');
  const m = await h.createKey(srv, srv.key, { name: 'marketing', permissions: ['brasa.marketing'] });
  assert.equal((await h.request(srv, 'GET', '/admin/partners', { key: m.key })).status, 200);
  h.assertError(await settings('heap', { partner_api_key: 'k' }, { key: m.key }), 403, /^Access Denied.*brasa\.keys/);
  const get = await h.request(srv, 'GET', '/admin/partners/heap/settings', { key: srv.key });
  h.assertError(get, 405, 'Method Not Allowed');
  assert.equal((await listed('heap')).partner_api_key, 'any', 'no refusal changed it');
});
