// segments.test.js -- segments end to end: the admin API and the CLI create
// them, Braze's /segments/list, /segments/details and /segments/data_series
// answer for them, sizes follow /users/track and survive a restart (the
// columns are rebuilt from the stored profiles), and every bad definition or
// id is a 400 that names the problem.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./harness.js');

const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString();

const srv = h.fileServer();

const admin = (s, method, p, body) => h.request(s, method, p, { key: s.key, body });
const get = (s, p, key = s.key) => h.request(s, 'GET', p, { key });

// 30 users: tier gold for every third, age = i, "cart" events i % 5 times in
// the last 10 days, and a purchase for even users.
async function seed(s) {
  const api = h.usersApi(s);
  const now = Date.now();
  const attributes = [], events = [], purchases = [];
  for (let i = 0; i < 30; i++) {
    attributes.push({ external_id: `u${i}`, tier: i % 3 ? 'silver' : 'gold', age: i, country: i % 2 ? 'US' : 'FR',
                      nick: `nick-${i}` });
    for (let k = 0; k < i % 5; k++) events.push({ external_id: `u${i}`, name: 'cart', time: iso(now - (k + 1) * DAY) });
    if (i % 2 === 0) purchases.push({ external_id: `u${i}`, product_id: 'shoe', currency: 'USD', price: 10, time: iso(now) });
  }
  for (let i = 0; i < events.length; i += 75) await api.trackOk({ events: events.slice(i, i + 75) });
  await api.trackOk({ attributes, purchases });
}

// What the definitions below select, computed here from the seed.
const expected = {
  goldCarts: [...Array(30).keys()].filter((i) => i % 3 === 0 && i % 5 >= 3 && i >= 5 && i <= 25).length,
};

const GOLD_CARTS = {
  and: [
    { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' },
    { type: 'custom_attribute', name: 'age', op: 'between', value: [5, 25] },
    { type: 'custom_event', name: 'cart', op: 'count_ge', value: 3, days: 30 },
  ],
};

test('segments: create, size, Braze list/details/data_series, updates follow tracking', async () => {
  await seed(srv);
  let res = await admin(srv, 'POST', '/admin/segments', { name: 'Gold carts', tags: ['vip'], definition: GOLD_CARTS,
                                                           text_description: 'gold users who add to cart' });
  assert.equal(res.status, 201, res.text);
  const seg = res.json.segment;
  assert.match(seg.id, h.UUID4_RE);
  assert.equal(seg.size, expected.goldCarts);
  assert.equal(seg.size, 3); // u9, u18, u24
  assert.equal(seg.description,
    'custom attribute "tier" equals "gold" AND custom attribute "age" is between 5 and 25 AND custom event "cart" performed at least 3 times in the last 30 days');

  // A second one, made of the first: nested segments and purchases.
  res = await admin(srv, 'POST', '/admin/segments', {
    name: 'Buyers or gold carts',
    definition: { or: [{ type: 'segment', id: seg.id, op: 'in' }, { type: 'purchase', product: 'shoe', op: 'performed' }] },
  });
  assert.equal(res.status, 201, res.text);
  const seg2 = res.json.segment;
  assert.equal(seg2.size, 16); // 15 even users + u9

  res = await get(srv, '/segments/list');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, {
    message: 'success',
    segments: [
      { id: seg.id, name: 'Gold carts', analytics_tracking_enabled: true, tags: ['vip'] },
      { id: seg2.id, name: 'Buyers or gold carts', analytics_tracking_enabled: true, tags: [] },
    ],
  });
  res = await get(srv, '/segments/list?sort_direction=desc&page=0');
  assert.deepEqual(res.json.segments.map((x) => x.id), [seg2.id, seg.id]);
  res = await get(srv, '/segments/list?page=1');
  assert.deepEqual(res.json, { message: 'success', segments: [] });

  res = await get(srv, `/segments/details?segment_id=${seg.id}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), ['message', 'created_at', 'updated_at', 'name', 'description', 'text_description', 'tags', 'teams']);
  assert.equal(res.json.name, 'Gold carts');
  assert.equal(res.json.description, seg.description);
  assert.equal(res.json.text_description, 'gold users who add to cart');
  assert.match(res.json.created_at, h.ISO_MS_RE);
  assert.deepEqual(res.json.tags, ['vip']);

  const today = new Date().toISOString().slice(0, 10);
  res = await get(srv, `/segments/data_series?segment_id=${seg.id}&length=7`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { message: 'success', data: [{ time: today, size: 3 }] });
  res = await get(srv, `/segments/data_series?segment_id=${seg.id}&length=3&ending_at=${iso(Date.now() - 5 * DAY)}`);
  assert.deepEqual(res.json, { message: 'success', data: [] });

  // Tracking moves users in and out; the size follows at once.
  await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'u9', tier: 'silver' }, { external_id: 'u3', tier: 'gold', age: 7 }],
                                  events: [0, 1, 2].map((k) => ({ external_id: 'u3', name: 'cart', time: iso(Date.now() - k * DAY) })) });
  res = await admin(srv, 'GET', `/admin/segments/${seg.id}`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.segment.size, 3); // u18, u24, u3 (3 + 3 carts); not u9
  res = await get(srv, `/segments/data_series?segment_id=${seg.id}&length=1`);
  assert.deepEqual(res.json.data, [{ time: today, size: 3 }]);
  await h.usersApi(srv).ok('/users/delete', { external_ids: ['u18'] });
  res = await admin(srv, 'GET', `/admin/segments/${seg.id}`);
  assert.equal(res.json.segment.size, 2);

  // Archived: out of /segments/list, still in the admin list with archived=true.
  res = await admin(srv, 'POST', `/admin/segments/${seg2.id}`, { archived: true });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.segment.archived, true);
  res = await get(srv, '/segments/list');
  assert.deepEqual(res.json.segments.map((x) => x.id), [seg.id]);
  res = await admin(srv, 'GET', '/admin/segments?archived=true');
  assert.deepEqual(res.json.segments.map((x) => x.id), [seg.id, seg2.id]);
});

test('segments: the CLI creates while the server runs; sizes survive a restart', async () => {
  const dir = h.makeDataDir(); // kept across the restart
  const s = await h.startServer({ dir });
  try {
    await seed(s);
    const def = path.join(s.dir, 'def.json');
    fs.writeFileSync(def, JSON.stringify({ and: [{ type: 'country', op: 'equals', value: 'US' },
                                                 { type: 'custom_attribute', name: 'nick', op: 'matches_regex', value: '^NICK-1' }] }));
    let r = h.cli(['segments', 'create', '--name', 'US ones', '--file', def, '--tags', 'a,b'], { dir: s.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
    const id = r.stdout.trim();
    let res = await get(s, '/segments/list');
    assert.deepEqual(res.json.segments, [{ id, name: 'US ones', analytics_tracking_enabled: true, tags: ['a', 'b'] }]);
    res = await admin(s, 'GET', `/admin/segments/${id}`);
    assert.equal(res.json.segment.size, 6); // u1, u11, u13, u15, u17, u19
    // `size` loads the profiles: not while a server owns the directory.
    r = h.cli(['segments', 'size', id], { dir: s.dir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /in use by brasa serve/);
    await s.stop();
    r = h.cli(['segments', 'size', id], { dir: s.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '6\n');
    r = h.cli(['segments', 'list', '--json'], { dir: s.dir });
    assert.equal(JSON.parse(r.stdout)[0].size, 6);
    const s2 = await h.startServer({ dir: s.dir });
    try {
      res = await h.request(s2, 'GET', `/admin/segments/${id}`, { key: s.key }); // the bootstrap key of the first start
      assert.equal(res.json.segment.size, 6);
    } finally {
      await s2.stop();
    }
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('segments: bad definitions and unknown ids are 400s that name the problem', async () => {
  const bad = async (definition, message) => {
    const res = await admin(srv, 'POST', '/admin/segments', { name: 'x', definition });
    h.assertError(res, 400, `Bad Request: invalid segment definition: ${message}`);
  };
  await bad({ type: 'shoe_size', op: 'exists' }, "unknown filter type 'shoe_size'");
  await bad({ and: [{ type: 'custom_attribute', name: 'age', op: 'between', value: 'young' }] },
    "and[0]: 'value' of 'between' must be an array [low, high] of two numbers");
  await bad({ type: 'custom_attribute', name: 'age', op: 'less_than', value: '5' }, "'value' of 'less_than' must be a number");
  await bad({ type: 'custom_attribute', name: 'tier', op: 'matches_regex', value: '(gold' },
    'invalid regex: unbalanced parenthesis: missing \')\'');
  await bad({ type: 'custom_attribute', name: 'tier', op: 'matches_regex', value: '(a)\\1' },
    'invalid regex: backreferences (\\1...) are not supported: they cannot be matched in linear time');
  await bad({ type: 'custom_attribute', name: 'tier', op: 'matches_regex', value: '((a{50}){50})' },
    'invalid regex: the pattern is too costly: more than 2000 states once repetitions are expanded');
  await bad({ type: 'segment', id: '00000000-0000-4000-8000-000000000000', op: 'in' },
    "unknown segment id '00000000-0000-4000-8000-000000000000'");
  await bad({ or: [] }, "'or' must be a non-empty array of filters");

  let res = await admin(srv, 'POST', '/admin/segments', { definition: { type: 'email', op: 'exists' } });
  h.assertError(res, 400, "Bad Request: 'name' must be a string of 1 to 255 bytes");
  res = await admin(srv, 'POST', '/admin/segments', { name: 'n' });
  h.assertError(res, 400, /^Bad Request: 'definition' is required/);

  // A cycle through two segments is refused on update.
  res = await admin(srv, 'POST', '/admin/segments', { name: 'A', definition: { type: 'email', op: 'exists' } });
  const a = res.json.segment.id;
  res = await admin(srv, 'POST', '/admin/segments', { name: 'B', definition: { type: 'segment', id: a, op: 'not_in' } });
  const b = res.json.segment.id;
  res = await admin(srv, 'POST', `/admin/segments/${a}`, { definition: { type: 'segment', id: b, op: 'in' } });
  h.assertError(res, 400, `Bad Request: invalid segment definition: (segment ${b}): segment '${a}' refers to itself through its filters (a cycle)`);

  const unknown = '11111111-1111-4111-8111-111111111111';
  for (const p of [`/segments/details?segment_id=${unknown}`, `/segments/data_series?segment_id=${unknown}&length=5`])
    h.assertError(await get(srv, p), 400, `Bad Request: no segment with id '${unknown}'`);
  h.assertError(await admin(srv, 'GET', `/admin/segments/${unknown}`), 400, `Bad Request: no segment with id '${unknown}'`);
  h.assertError(await get(srv, '/segments/details'), 400, "Bad Request: 'segment_id' is required");
  h.assertError(await get(srv, `/segments/data_series?segment_id=${a}`), 400, "Bad Request: 'length' must be an integer from 1 to 100");
  h.assertError(await get(srv, `/segments/data_series?segment_id=${a}&length=101`), 400, "Bad Request: 'length' must be an integer from 1 to 100");
  h.assertError(await get(srv, `/segments/data_series?segment_id=${a}&length=2&ending_at=soon`), 400, "Bad Request: 'ending_at' must be an ISO-8601 time");
  h.assertError(await get(srv, '/segments/list?sort_direction=up'), 400, "Bad Request: 'sort_direction' must be 'asc' or 'desc'");
  h.assertError(await get(srv, '/segments/list?page=-1'), 400, "Bad Request: 'page' must be a non-negative integer");

  // The CLI refuses the same definitions, with the same words.
  const f = path.join(srv.dir, 'bad.json');
  fs.writeFileSync(f, JSON.stringify({ type: 'custom_event', name: 'cart', op: 'count_ge', value: 3, days: 365 }));
  const r = h.cli(['segments', 'create', '--name', 'x', '--file', f], { dir: srv.dir });
  assert.equal(r.status, 2);
  assert.equal(r.stderr, "brasa: invalid segment definition: 'days' must be an integer from 1 to 90 (per-day counts are kept 90 days)\n");
});

// The filters connected audiences compile to (src/core/audience.c):
// subscription statuses with Braze's default, last_used_app (the profile's
// date_of_last_session, a column of its own), >=, days to come, numbers in
// arrays. Every definition is scoped to the users made here ('aud').
test('segments: subscription status, last_used_app and the other audience operators', async () => {
  const now = Date.now();
  await h.usersApi(srv).trackOk({ attributes: [
    { external_id: 'aud1', aud: 1, push_subscribe: 'opted_in', date_of_last_session: iso(now - DAY), renew: iso(now + 5 * DAY), nums: [1, 2] },
    { external_id: 'aud2', aud: 2, date_of_last_session: iso(now - 30 * DAY), renew: iso(now + 40 * DAY), nums: ['2'] },
    { external_id: 'aud3', aud: 3, email_subscribe: 'unsubscribed' },
  ] });
  const scoped = (f) => ({ and: [{ type: 'custom_attribute', name: 'aud', op: 'exists' }, f] });
  const size = async (name, definition) => {
    const res = await admin(srv, 'POST', '/admin/segments', { name, definition: scoped(definition) });
    assert.equal(res.status, 201, res.text);
    return res.json.segment;
  };
  const subscribed = await size('push subscribed', { type: 'push_subscription_status', op: 'equals', value: 'subscribed' });
  assert.equal(subscribed.size, 2); // aud2, aud3: never set, so subscribed
  assert.equal(subscribed.description,
    'custom attribute "aud" exists AND push_subscription_status equals "subscribed"');
  assert.equal((await size('email not unsubscribed', { type: 'email_subscription_status', op: 'not_in', value: ['unsubscribed'] })).size, 2);
  assert.equal((await size('recent', { type: 'last_used_app', op: 'after', value: iso(now - 7 * DAY) })).size, 1);
  assert.equal((await size('used', { type: 'last_used_app', op: 'within_last_days', value: 60 })).size, 2);
  assert.equal((await size('aud >= 2', { type: 'custom_attribute', name: 'aud', op: 'greater_than_or_equal_to', value: 2 })).size, 2);
  assert.equal((await size('aud <= 2', { type: 'custom_attribute', name: 'aud', op: 'less_than_or_equal_to', value: 2 })).size, 2);
  assert.equal((await size('renews soon', { type: 'custom_attribute', name: 'renew', op: 'within_next_days', value: 10 })).size, 1);
  assert.equal((await size('renews later', { type: 'custom_attribute', name: 'renew', op: 'more_than_days_from_now', value: 10 })).size, 1);
  assert.equal((await size('has 2', { type: 'custom_attribute', name: 'nums', op: 'includes_any', value: [2] })).size, 1);
  assert.equal((await size('has "2"', { type: 'custom_attribute', name: 'nums', op: 'includes_any', value: ['2'] })).size, 1);
  assert.equal((await size('not vip', { type: 'custom_attribute', name: 'vip', op: 'is_not_true' })).size, 3);

  // Opting out moves a user out at once; the status column follows.
  await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'aud3', push_subscribe: 'unsubscribed' }] });
  const res = await admin(srv, 'GET', `/admin/segments/${subscribed.id}`);
  assert.equal(res.json.segment.size, 1);

  const bad = await admin(srv, 'POST', '/admin/segments', { name: 'x', definition: { type: 'push_subscription_status', op: 'equals', value: 'yes' } });
  h.assertError(bad, 400, "Bad Request: invalid segment definition: push_subscription_status values are 'opted_in', 'subscribed' and 'unsubscribed'");
});

test('segments: a key needs the segments permissions', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'list-only', permissions: ['segments.list'] });
  assert.equal((await get(srv, '/segments/list', k.key)).status, 200);
  h.assertError(await get(srv, '/segments/details?segment_id=x', k.key), 403, /^Access Denied/);
  h.assertError(await h.request(srv, 'POST', '/admin/segments', { key: k.key, body: {} }), 403, /^Access Denied/);
});
