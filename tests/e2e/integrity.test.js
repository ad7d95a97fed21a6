// integrity.test.js -- nothing enters that brasa cannot give back: invalid
// UTF-8, NUL characters, numbers that would sum to Infinity, table lookups
// that read past their end, stored JSON read back at a smaller depth than
// it was admitted with, client text quoted in error messages. Each test
// failed on the version before the fix (issue #12, items 1-3 and 9).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let api;
before(async () => {
  srv = await h.startServer();
  api = h.usersApi(srv);
});
after(async () => {
  await srv.stop(); // a sanitizer report (a read past a table) fails here
});

async function rawTrack(bytes) {
  const res = await fetch(`${srv.url}/users/track`, {
    method: 'POST',
    headers: { authorization: `Bearer ${srv.key}`, 'content-type': 'application/json' },
    body: bytes,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) };
}

test('a purchase currency not in the ISO 4217 table is refused, and the lookup stays inside the table', async () => {
  for (const currency of ['usd', 'ZZZ', 'ZWLX', 'AE', '   ']) {
    const res = await api.post('/users/track', {
      purchases: [{ external_id: 'cur', product_id: 'p', currency, price: 1, time: '2024-01-01T00:00:00Z' }],
    });
    assert.equal(res.status, 400, `${currency}: ${res.text}`);
    assert.deepEqual(res.json.errors, [{ type: "'currency' must be an ISO 4217 currency", input_array: 'purchases', index: 0 }]);
  }
  await api.trackOk({ purchases: [{ external_id: 'cur', product_id: 'p', currency: 'ZWL', price: 1, time: '2024-01-01T00:00:00Z' }] },
    { purchases_processed: 1, message: 'success' }); // the table's last entry
});

test('invalid UTF-8 anywhere in a body is 400, and nothing of it is stored', async () => {
  const cases = [
    ['overlong', Buffer.from([0xc0, 0xaf])],
    ['surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['past U+10FFFF', Buffer.from([0xf5, 0x80, 0x80, 0x80])],
    ['F4 90', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['truncated', Buffer.from([0xe2, 0x82])],
    ['lone continuation', Buffer.from([0x80])],
  ];
  for (const [what, bad] of cases) {
    for (const where of ['value', 'key', 'id']) {
      const pre = Buffer.from(where === 'id' ? '{"attributes":[{"external_id":"u8-' : where === 'key' ? '{"attributes":[{"external_id":"u8","k' : '{"attributes":[{"external_id":"u8","v":"');
      const post = Buffer.from(where === 'key' ? '":1}]}' : '"}]}');
      const body = where === 'value' ? Buffer.concat([pre, bad, post]) : Buffer.concat([pre, bad, post]);
      const res = await rawTrack(body);
      h.assertError(res, 400, new RegExp(`^Invalid JSON in request body: the body is not valid UTF-8 \\(byte ${pre.length}\\)$`));
      assert.ok(what);
    }
  }
  await api.none('u8');
  // Valid multi-byte text goes through and comes back as sent.
  await api.trackOk({ attributes: [{ external_id: 'u8', v: 'ação 😀 𝄞' }] }, { attributes_processed: 1, message: 'success' });
  assert.equal((await api.user('u8', ['custom_attributes'])).custom_attributes.v, 'ação 😀 𝄞');
});

test('NUL in a string, a key or the raw body is 400: an identifier is never cut at it', async () => {
  await api.trackOk({ attributes: [{ external_id: 'victim', role: 'user' }] }, { attributes_processed: 1, message: 'success' });
  const esc = '\\u0000';
  for (const raw of [
    `{"attributes":[{"external_id":"victim${esc}evil","role":"admin"}]}`,
    `{"attributes":[{"external_id":"victim","role${esc}x":"admin"}]}`,
    `{"attributes":[{"external_id":"victim","role":"ad${esc}min"}]}`,
  ]) {
    const res = await rawTrack(Buffer.from(raw));
    h.assertError(res, 400, new RegExp(`^Invalid JSON in request body: strings must not contain U\\+0000 \\(\\\\u0000 at byte ${raw.indexOf('\\')}\\)$`));
  }
  const withNul = Buffer.from('{"attributes":[{"external_id":"victim","role":"x\0y"}]}');
  h.assertError(await rawTrack(withNul), 400, `Invalid JSON in request body: the body contains a NUL byte (byte ${withNul.indexOf(0)})`);
  // An escaped backslash followed by "u0000" is text, not a NUL.
  await api.trackOk({ attributes: [{ external_id: 'victim', note: '\\u0000' }] }, { attributes_processed: 1, message: 'success' });
  const u = await api.user('victim', ['custom_attributes']);
  assert.deepEqual(u.custom_attributes, { role: 'user', note: '\\u0000' });
  await api.none('victim\u0000evil'.slice(0, 6) + 'x'); // nobody else was created
});

test('prices are bounded so total_revenue stays a finite number; exports stay JSON', async () => {
  const buy = (price, quantity = 1) => ({ external_id: 'rich', product_id: 'p', currency: 'USD', price, quantity, time: '2024-01-01T00:00:00Z' });
  let res = await api.post('/users/track', { purchases: [buy(1e308, 2)] });
  assert.equal(res.status, 400, res.text);
  assert.deepEqual(res.json.errors, [{ type: "'price' must be at most 10000000000000 in absolute value", input_array: 'purchases', index: 0 }]);
  res = await api.post('/users/track', { purchases: [buy(-1e14)] });
  assert.equal(res.status, 400, res.text);
  await api.trackOk({ purchases: [buy(1e13, 100), buy(-1e13, 100), buy(2.5, 2)] }, { purchases_processed: 3, message: 'success' });
  const raw = await api.post('/users/export/ids', { external_ids: ['rich'], fields_to_export: ['total_revenue', 'purchases'] });
  assert.equal(raw.status, 201);
  assert.doesNotMatch(raw.text, /Infinity|NaN/);
  assert.equal(JSON.parse(raw.text).users[0].total_revenue, 5);
  // NaN and Infinity are not JSON at all.
  h.assertError(await rawTrack(Buffer.from('{"purchases":[{"external_id":"rich","product_id":"p","currency":"USD","price":NaN}]}')), 400,
    /^Invalid JSON in request body: /);
  h.assertError(await rawTrack(Buffer.from('{"attributes":[{"external_id":"rich","x":1e999}]}')), 400,
    'Invalid JSON in request body: numbers must be finite (NaN, Infinity and out-of-range values are not JSON)');
});

test('client text quoted in an error message is made valid UTF-8 (query strings, keys)', async () => {
  const res = await fetch(`${srv.url}/segments/details?segment_id=%C0%AF%FF`, { headers: { authorization: `Bearer ${srv.key}` } });
  const text = await res.text();
  assert.equal(res.status, 400, text);
  assert.deepEqual(JSON.parse(text), { message: "Bad Request: no segment with id '\uFFFD\uFFFD\uFFFD'" });
  const bad = await h.rawRequest(srv.port, Buffer.concat([
    Buffer.from('GET /segments/list HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer '), Buffer.from([0xff, 0xfe]), Buffer.from('\r\nConnection: close\r\n\r\n'),
  ]));
  h.assertRawError(bad, 401, 'Invalid API key: \uFFFD\uFFFD');
});

test('a segment definition at the documented maximum depth (16 groups) is stored, read back and sized; 17 are refused', async () => {
  const nested = (groups) => {
    let def = { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' };
    for (let i = 0; i < groups; i++) def = { [i % 2 ? 'and' : 'or']: [def] };
    return def;
  };
  await api.trackOk({ attributes: [{ external_id: 'deep', tier: 'gold' }] }, { attributes_processed: 1, message: 'success' });
  const create = await h.request(srv, 'POST', '/admin/segments', { key: srv.key, body: { name: 'deep', definition: nested(16) } });
  assert.equal(create.status, 201, create.text);
  assert.equal(create.json.segment.size, 1);
  const id = create.json.segment.id;
  const get = await h.request(srv, 'GET', `/admin/segments/${id}`, { key: srv.key });
  assert.equal(get.status, 200, get.text);
  assert.equal(get.json.segment.size, 1);
  const details = await h.request(srv, 'GET', `/segments/details?segment_id=${id}`, { key: srv.key });
  assert.equal(details.status, 200, details.text);
  assert.match(details.json.description, /tier/);
  const deeper = await h.request(srv, 'POST', '/admin/segments', { key: srv.key, body: { name: 'deeper', definition: nested(17) } });
  h.assertError(deeper, 400, /nested too deeply/);
});

test('/users/export/ids lists a user once however many of its identifiers the request names', async () => {
  await api.trackOk({ attributes: [{ external_id: 'once', user_alias: undefined }] }, { attributes_processed: 1, message: 'success' });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'once', alias_name: 'o', alias_label: 'crm' }] });
  const res = await api.ok('/users/export/ids', {
    external_ids: ['once', 'once'],
    user_aliases: [{ alias_name: 'o', alias_label: 'crm' }],
    fields_to_export: ['external_id'],
  });
  assert.deepEqual(res.users, [{ external_id: 'once' }]);
  assert.equal(res.invalid_user_ids, undefined);
});
