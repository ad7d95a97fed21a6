// users_export.test.js -- POST /users/export/ids: every kind of identifier,
// fields_to_export, request errors, invalid_user_ids, event and purchase
// summaries.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let api;
let bz = {}; // external_id -> braze_id of the fixtures
before(async () => {
  // Exports read back almost every change: lift the 250/min export limit.
  srv = await h.startServer({ args: ['--rate-limit', 'users.export.ids=100000/60s'] });
  api = h.usersApi(srv);
  // Fixtures: three users sharing an email (one email-only), an alias-only
  // user, a user with a phone, events and purchases.
  await api.trackOk(
    {
      attributes: [
        // First, while no identified user has the email: an email-only profile.
        { email: 'shared@example.com', first_name: 'Anon' },
        { external_id: 'ex-1', first_name: 'One', email: 'shared@example.com', phone: '+14155550101', fav: 'red', n: 1 },
        { external_id: 'ex-2', first_name: 'Two', email: 'Shared@Example.com', n: 2 },
        { external_id: 'ex-3', first_name: 'Three', email: 'three@example.com', phone: '+14155550103' },
        { user_alias: { alias_name: 'a-1', alias_label: 'crm' }, _update_existing_only: false, first_name: 'Alias' },
      ],
      events: [
        { external_id: 'ex-1', name: 'login', time: '2021-02-01T10:00:00Z' },
        { external_id: 'ex-1', name: 'login', time: '2021-01-01T10:00:00.5Z' },
        { external_id: 'ex-1', name: 'login', time: '2021-03-01T10:00:00-01:00' },
        { external_id: 'ex-1', name: 'logout', time: '2021-02-02' },
      ],
      purchases: [
        { external_id: 'ex-1', product_id: 'sku-1', currency: 'USD', price: 9.5, quantity: 2, time: '2021-04-01T00:00:00Z' },
        { external_id: 'ex-1', product_id: 'sku-1', currency: 'USD', price: 1, time: '2021-03-01T00:00:00Z' },
        { external_id: 'ex-1', product_id: 'sku-2', currency: 'EUR', price: 0.75, quantity: 4, time: '2021-05-01T00:00:00Z' },
      ],
    },
    { attributes_processed: 5, events_processed: 4, purchases_processed: 3, message: 'success' },
  );
  const res = await api.ok('/users/export/ids', { external_ids: ['ex-1', 'ex-2', 'ex-3'], fields_to_export: ['external_id', 'braze_id'] });
  bz = Object.fromEntries(res.users.map((u) => [u.external_id, u.braze_id]));
});
after(async () => {
  if (srv) await srv.stop();
});

const FULL_KEYS = [
  'created_at',
  'external_id',
  'user_aliases',
  'braze_id',
  'random_bucket',
  'first_name',
  'email',
  'phone',
  'total_revenue',
  'push_subscribe',
  'email_subscribe',
  'custom_attributes',
  'custom_events',
  'purchases',
  'devices',
  'push_tokens',
  'apps',
  'campaigns_received',
  'canvases_received',
  'cards_clicked',
];

test('by external_ids: the full user object, summaries of events and purchases', async () => {
  const res = await api.ok('/users/export/ids', { external_ids: ['ex-1'] });
  assert.deepEqual(Object.keys(res).sort(), ['message', 'users']);
  assert.equal(res.message, 'success');
  assert.equal(res.users.length, 1);
  const u = res.users[0];
  assert.deepEqual(Object.keys(u).sort(), [...FULL_KEYS].sort());
  assert.equal(u.braze_id, bz['ex-1']);
  assert.deepEqual(h.stableUser(u), {
    external_id: 'ex-1',
    user_aliases: [],
    first_name: 'One',
    email: 'shared@example.com',
    phone: '+14155550101',
    total_revenue: 9.5 * 2 + 1 + 0.75 * 4,
    push_subscribe: 'subscribed',
    email_subscribe: 'subscribed',
    custom_attributes: { fav: 'red', n: 1 },
    custom_events: u.custom_events, // checked below, order-free
    purchases: u.purchases,
    devices: [],
    push_tokens: [],
    apps: [],
    campaigns_received: [],
    canvases_received: [],
    cards_clicked: [],
  });
  const sortByName = (a) => [...a].sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepEqual(sortByName(u.custom_events), [
    { name: 'login', first: '2021-01-01T10:00:00.500Z', last: '2021-03-01T11:00:00.000Z', count: 3 },
    { name: 'logout', first: '2021-02-02T00:00:00.000Z', last: '2021-02-02T00:00:00.000Z', count: 1 },
  ]);
  assert.deepEqual(sortByName(u.purchases), [
    { name: 'sku-1', first: '2021-03-01T00:00:00.000Z', last: '2021-04-01T00:00:00.000Z', count: 3 },
    { name: 'sku-2', first: '2021-05-01T00:00:00.000Z', last: '2021-05-01T00:00:00.000Z', count: 4 },
  ]);
  // created_at is the creation time (whole seconds), not in the future.
  assert.ok(Date.parse(u.created_at) <= Date.now() + 1000, u.created_at);
});

test('several external_ids: one user each, in request order; unknown ids in invalid_user_ids', async () => {
  const res = await api.ok('/users/export/ids', { external_ids: ['ex-3', 'nobody-1', 'ex-1', 'nobody-2'], fields_to_export: ['external_id', 'first_name'] });
  assert.deepEqual(res, {
    users: [
      { external_id: 'ex-3', first_name: 'Three' },
      { external_id: 'ex-1', first_name: 'One' },
    ],
    invalid_user_ids: ['nobody-1', 'nobody-2'],
    message: 'success',
  });
  // Nothing found at all.
  assert.deepEqual(await api.ok('/users/export/ids', { external_ids: ['nobody-3'] }), { users: [], invalid_user_ids: ['nobody-3'], message: 'success' });
});

test('by user_aliases, with external_ids in the same request', async () => {
  const alias = { alias_name: 'a-1', alias_label: 'crm' };
  const res = await api.ok('/users/export/ids', {
    external_ids: ['ex-2'],
    user_aliases: [alias, { alias_name: 'a-1', alias_label: 'other' }],
    fields_to_export: ['external_id', 'user_aliases', 'first_name'],
  });
  assert.deepEqual(res, {
    users: [
      { external_id: 'ex-2', user_aliases: [], first_name: 'Two' },
      { user_aliases: [alias], first_name: 'Alias' },
    ],
    invalid_user_ids: [{ alias_name: 'a-1', alias_label: 'other' }],
    message: 'success',
  });
});

test('by braze_id; an unknown braze_id is invalid', async () => {
  const u = await api.user({ braze_id: bz['ex-3'] }, ['external_id', 'braze_id']);
  assert.deepEqual(u, { external_id: 'ex-3', braze_id: bz['ex-3'] });
  // Upper-case hex names the same user.
  assert.equal((await api.user({ braze_id: bz['ex-3'].toUpperCase() }, ['external_id'])).external_id, 'ex-3');
  await api.none({ braze_id: '0123456789abcdef01234567' });
  await api.none({ braze_id: 'short' });
});

test('by device_id: no user has devices here, so it is invalid', async () => {
  await api.none({ device_id: 'device-123' });
});

test('by email_address: every user with that email, case-insensitively', async () => {
  for (const email of ['shared@example.com', 'SHARED@example.COM']) {
    const res = await api.ok('/users/export/ids', { email_address: email, fields_to_export: ['external_id', 'first_name', 'email'] });
    assert.equal(res.message, 'success');
    assert.equal(res.invalid_user_ids, undefined, JSON.stringify(res));
    const users = [...res.users].sort((a, b) => (a.first_name < b.first_name ? -1 : 1));
    assert.deepEqual(users, [
      { first_name: 'Anon', email: 'shared@example.com' },
      { external_id: 'ex-1', first_name: 'One', email: 'shared@example.com' },
      { external_id: 'ex-2', first_name: 'Two', email: 'Shared@Example.com' },
    ]);
  }
  assert.deepEqual(await api.ok('/users/export/ids', { email_address: 'three@example.com', fields_to_export: ['external_id'] }), {
    users: [{ external_id: 'ex-3' }],
    message: 'success',
  });
  await api.none({ email_address: 'nobody@example.com' });
});

test('by phone', async () => {
  assert.deepEqual(await api.user({ phone: '+14155550103' }, ['external_id', 'phone']), { external_id: 'ex-3', phone: '+14155550103' });
  await api.none({ phone: '+14155550199' });
});

test('fields_to_export selects exactly the listed keys', async () => {
  const sel = async (fields) => Object.keys(await api.user('ex-1', fields)).sort();
  assert.deepEqual(await sel(['first_name']), ['first_name']);
  assert.deepEqual(await sel(['external_id', 'email', 'custom_attributes']), ['custom_attributes', 'email', 'external_id']);
  assert.deepEqual(await sel(['braze_id', 'created_at', 'random_bucket', 'total_revenue', 'purchases', 'custom_events']), [
    'braze_id',
    'created_at',
    'custom_events',
    'purchases',
    'random_bucket',
    'total_revenue',
  ]);
  // A listed field the user lacks is absent (absent means null/empty).
  assert.deepEqual(await sel(['last_name', 'dob', 'first_name']), ['first_name']);
  // Every documented field name is accepted.
  const all = [
    'apps', 'attributed_campaign', 'attributed_source', 'attributed_adgroup', 'attributed_ad', 'braze_id', 'campaigns_received',
    'canvases_received', 'cards_clicked', 'country', 'created_at', 'custom_attributes', 'custom_events', 'devices', 'dob', 'email',
    'email_subscribe', 'external_id', 'first_name', 'gender', 'home_city', 'language', 'last_coordinates', 'last_name', 'phone',
    'purchases', 'push_subscribe', 'push_tokens', 'random_bucket', 'time_zone', 'total_revenue', 'uninstalled_at', 'user_aliases',
  ];
  const u = await api.user('ex-1', all);
  assert.deepEqual(Object.keys(u).sort(), [...FULL_KEYS].sort());
  // The same values as an export without fields_to_export.
  assert.deepEqual(u, await api.user('ex-1'));
});

test('fields_to_export errors: unknown field or wrong type is a 400', async () => {
  h.assertError(await api.exportIds({ external_ids: ['ex-1'], fields_to_export: ['first_name', 'shoe_size'] }), 400, "Bad Request: 'fields_to_export' has an unknown field 'shoe_size'");
  h.assertError(await api.exportIds({ external_ids: ['ex-1'], fields_to_export: [5] }), 400, /^Bad Request: 'fields_to_export' has an unknown field/);
  h.assertError(await api.exportIds({ external_ids: ['ex-1'], fields_to_export: 'first_name' }), 400, "Bad Request: 'fields_to_export' must be an array of strings");
});

test('more than 50 external_ids and aliases together: 400; exactly 50 is fine', async () => {
  const MAX = 'The max number of external_ids and aliases per request was exceeded';
  const ids = (n) => Array.from({ length: n }, (_, i) => `lim-${i}`);
  const aliases = (n) => Array.from({ length: n }, (_, i) => ({ alias_name: `lim-${i}`, alias_label: 'l' }));
  h.assertError(await api.exportIds({ external_ids: ids(51) }), 400, MAX);
  h.assertError(await api.exportIds({ user_aliases: aliases(51) }), 400, MAX);
  h.assertError(await api.exportIds({ external_ids: ids(30), user_aliases: aliases(21) }), 400, MAX);
  const res = await api.ok('/users/export/ids', { external_ids: [...ids(29), 'ex-1'], user_aliases: aliases(20), fields_to_export: ['external_id'] });
  assert.deepEqual(res.users, [{ external_id: 'ex-1' }]);
  assert.equal(res.invalid_user_ids.length, 49);
});

test('request errors: no identifier, two of device_id/email_address/phone, wrong types', async () => {
  const NONE = "Bad Request: one of 'external_ids', 'user_aliases', 'braze_id', 'device_id', 'email_address' or 'phone' is required";
  for (const body of [{}, { external_ids: [] }, { user_aliases: [] }, { fields_to_export: ['email'] }, { external_ids: null }]) {
    h.assertError(await api.exportIds(body), 400, NONE);
  }
  const TWO = "Bad Request: only one of 'device_id', 'email_address' or 'phone' may be given";
  for (const body of [
    { device_id: 'd', email_address: 'shared@example.com' },
    { email_address: 'shared@example.com', phone: '+14155550101' },
    { device_id: 'd', phone: '+14155550101' },
    { device_id: 'd', email_address: 'a@b.co', phone: '+1', external_ids: ['ex-1'] },
  ]) {
    h.assertError(await api.exportIds(body), 400, TWO);
  }
  h.assertError(await api.exportIds({ external_ids: 'ex-1' }), 400, "Bad Request: 'external_ids' must be an array of strings");
  h.assertError(await api.exportIds({ external_ids: ['ex-1', 7] }), 400, "Bad Request: 'external_ids' must be an array of strings");
  const ALIAS = "Bad Request: 'user_aliases' must be an array of objects with string 'alias_name' and 'alias_label'";
  h.assertError(await api.exportIds({ user_aliases: { alias_name: 'a', alias_label: 'b' } }), 400, ALIAS);
  h.assertError(await api.exportIds({ user_aliases: [{ alias_name: 'a' }] }), 400, ALIAS);
  h.assertError(await api.exportIds({ braze_id: '' }), 400, "Bad Request: 'braze_id' must be a non-empty string");
  h.assertError(await api.exportIds({ email_address: 5 }), 400, "Bad Request: 'email_address' must be a non-empty string");
  for (const body of [[], 'x', null]) h.assertError(await api.exportIds(body), 400, 'Bad Request: the body must be a JSON object');
});

test('braze_id together with external_ids: both looked up', async () => {
  const res = await api.ok('/users/export/ids', { external_ids: ['ex-2'], braze_id: bz['ex-3'], fields_to_export: ['external_id'] });
  assert.deepEqual(res, { users: [{ external_id: 'ex-2' }, { external_id: 'ex-3' }], message: 'success' });
});

test('a deleted user is not exported', async () => {
  await api.trackOk({ attributes: [{ external_id: 'ex-del', email: 'shared@example.com' }] }, { attributes_processed: 1, message: 'success' });
  const b = (await api.user('ex-del', ['braze_id'])).braze_id;
  await api.ok('/users/delete', { external_ids: ['ex-del'] }, { deleted: 1, message: 'success' });
  await api.none('ex-del');
  await api.none({ braze_id: b });
  const res = await api.ok('/users/export/ids', { email_address: 'shared@example.com', fields_to_export: ['external_id'] });
  assert.equal(res.users.length, 3, JSON.stringify(res));
  assert.ok(!res.users.some((u) => u.external_id === 'ex-del'));
});

test('permissions: export needs users.export.ids', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'track-only', permissions: ['users.track'] });
  h.assertError(
    await h.request(srv, 'POST', '/users/export/ids', { key: k.key, body: { external_ids: ['ex-1'] } }),
    403,
    "Access Denied: this API key does not have the 'users.export.ids' permission",
  );
  const e = await h.createKey(srv, srv.key, { name: 'export-only', permissions: ['users.export.ids'] });
  const res = await h.request(srv, 'POST', '/users/export/ids', { key: e.key, body: { external_ids: ['ex-1'], fields_to_export: ['external_id'] } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { users: [{ external_id: 'ex-1' }], message: 'success' });
  assert.equal(res.headers.get('x-ratelimit-limit'), '100000'); // as configured in before()
});

test('rate-limit group: /users/export/ids has X-RateLimit-Limit 250 by default', async () => {
  const s2 = await h.startServer();
  try {
    const res = await h.request(s2, 'POST', '/users/export/ids', { key: s2.key, body: { external_ids: ['x'] } });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json, { users: [], invalid_user_ids: ['x'], message: 'success' });
    assert.equal(res.headers.get('x-ratelimit-limit'), '250');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '249');
    const t = await h.request(s2, 'POST', '/users/track', { key: s2.key, body: { attributes: [{ external_id: 'x' }] } });
    assert.equal(t.headers.get('x-ratelimit-limit'), '3000');
  } finally {
    await s2.stop();
  }
});
