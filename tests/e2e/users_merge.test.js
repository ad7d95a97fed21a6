// users_merge.test.js -- POST /users/merge: Braze's merge rules seen through
// /users/export/ids, 202 {"message": "success"} with brasa's non-fatal
// errors for what was not merged, every 400 with Braze's text, the
// permission, the identity rate-limit group, Global Control Group users
// left alone, and the per-user limits.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let api;
const ARGS = ['--rate-limit', 'users.export.ids=100000/60s'];
before(async () => {
  srv = await h.startServer({ args: ARGS });
  api = h.usersApi(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const OK = { message: 'success' };
const IDENT =
  "identifiers must be objects with an 'external_id' property that is a string, 'user_alias' property that is an object, 'email' property that is a string, or 'phone' property that is a string";

async function merge(updates, expected = OK) {
  const res = await api.post('/users/merge', { merge_updates: updates });
  assert.equal(res.status, 202, res.text);
  assert.deepEqual(res.json, expected);
  return res;
}
const byExt = (from, to) => ({ identifier_to_merge: { external_id: from }, identifier_to_keep: { external_id: to } });

async function plainUsers(prefix, n, a = api) {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await a.trackOk({ attributes: ids.map((external_id) => ({ external_id })) });
  return ids;
}

test('merge by external_id: the kept values win, the rest is copied, counts add up, the merged user is gone', async () => {
  const [keep, old] = await plainUsers('mg', 2);
  await api.trackOk({
    attributes: [
      { external_id: keep, first_name: 'Kept', a: 1, push_tokens: [{ app_id: 'app', token: 'tk', device_id: 'dk' }] },
      { external_id: old, first_name: 'Old', last_name: 'Merged', a: 9, b: 2, email: 'mg-old@example.com',
        push_tokens: [{ app_id: 'app', token: 'to', device_id: 'do' }] },
    ],
    events: [
      { external_id: keep, name: 'view', time: '2021-05-03T00:00:00Z' },
      { external_id: old, name: 'view', time: '2021-04-01T00:00:00Z' },
      { external_id: old, name: 'only_old', time: '2021-04-02T00:00:00Z' },
    ],
    purchases: [
      { external_id: keep, product_id: 'p', currency: 'USD', price: 2, time: '2021-05-01T00:00:00Z' },
      { external_id: old, product_id: 'p', currency: 'USD', price: 1.5, quantity: 2, time: '2021-06-01T00:00:00Z' },
    ],
  });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: old, alias_name: `${old}-a`, alias_label: 'crm' }] });
  const kb = (await api.user(keep, ['braze_id'])).braze_id;
  const ob = (await api.user(old, ['braze_id'])).braze_id;

  await merge([byExt(old, keep)]);

  const u = await api.user(keep);
  const events = [...u.custom_events].sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepEqual({ ...h.stableUser(u), custom_events: events }, {
    external_id: keep,
    user_aliases: [{ alias_name: `${old}-a`, alias_label: 'crm' }], // the alias follows the kept user
    first_name: 'Kept',
    last_name: 'Merged',
    email: 'mg-old@example.com',
    total_revenue: 2 + 1.5 * 2,
    push_subscribe: 'subscribed',
    email_subscribe: 'subscribed',
    custom_attributes: { a: 1, b: 2 },
    custom_events: [
      { name: 'only_old', first: '2021-04-02T00:00:00.000Z', last: '2021-04-02T00:00:00.000Z', count: 1 },
      { name: 'view', first: '2021-04-01T00:00:00.000Z', last: '2021-05-03T00:00:00.000Z', count: 2 },
    ],
    purchases: [{ name: 'p', first: '2021-05-01T00:00:00.000Z', last: '2021-06-01T00:00:00.000Z', count: 3 }],
    devices: [{ device_id: 'dk' }, { device_id: 'do' }],
    push_tokens: [
      { app: 'app', token: 'tk', device_id: 'dk' },
      { app: 'app', token: 'to', device_id: 'do' },
    ],
    apps: [],
    campaigns_received: [],
    canvases_received: [],
    cards_clicked: [],
  });
  assert.equal(u.braze_id, kb, 'the kept user keeps its braze_id');
  await api.none(old); // its external id went with it...
  await api.none({ braze_id: ob });
  assert.equal((await api.user({ user_aliases: [{ alias_name: `${old}-a`, alias_label: 'crm' }] }, ['external_id'])).external_id, keep);
  await api.trackOk({ attributes: [{ external_id: old, fresh: true }] }); // ...and is free again
  assert.deepEqual((await api.user(old, ['custom_attributes'])).custom_attributes, { fresh: true });
});

test('merge by alias and by email or phone with prioritization (Braze\'s examples)', async () => {
  const keepAlias = { alias_name: 'mg-current@example.com', alias_label: 'email' };
  const oldAlias = { alias_name: 'mg-oldalias@example.com', alias_label: 'email2' };
  await api.ok('/users/alias/new', { user_aliases: [keepAlias, oldAlias] });
  await api.trackOk({ attributes: [{ user_alias: oldAlias, x: 1 }, { user_alias: keepAlias, y: 2 }] });
  const kb = (await api.user({ user_aliases: [keepAlias] }, ['braze_id'])).braze_id;
  await merge([{ identifier_to_merge: { user_alias: oldAlias }, identifier_to_keep: { user_alias: keepAlias } }]);
  assert.deepEqual(await api.user({ user_aliases: [keepAlias] }, ['braze_id', 'custom_attributes', 'user_aliases']), {
    braze_id: kb,
    custom_attributes: { y: 2, x: 1 },
    user_aliases: [keepAlias, oldAlias],
  });

  // The unidentified user with an email merges into the identified one;
  // a phone whose prioritization matches nobody merges nothing.
  const [john] = await plainUsers('mg-john', 1);
  const email = 'mg-john@example.com';
  await api.trackOk({ attributes: [{ email, seen: 1 }, { phone: '+15550001111', b: 1 }] });
  await merge(
    [
      { identifier_to_merge: { email, prioritization: ['unidentified', 'most_recently_updated'] }, identifier_to_keep: { external_id: john } },
      { identifier_to_merge: { phone: '+15550001111', prioritization: ['identified'] }, identifier_to_keep: { external_id: john } },
    ],
    {
      message: 'success',
      errors: [{ type: "'identifier_to_merge' matches no user (or several, and its 'prioritization' picks none)", input_array: 'merge_updates', index: 1 }],
    },
  );
  assert.deepEqual(await api.user(john, ['email', 'custom_attributes']), { email, custom_attributes: { seen: 1 } });
  const res = await api.ok('/users/export/ids', { email_address: email, fields_to_export: ['external_id'] });
  assert.deepEqual(res.users, [{ external_id: john }], 'the email-only user is gone');
  assert.ok(await api.user({ phone: '+15550001111' }, ['braze_id']));
  // Keep by email with "identified": the identified user with the email.
  const [other] = await plainUsers('mg-other', 1);
  await merge([{ identifier_to_merge: { external_id: other }, identifier_to_keep: { email, prioritization: ['identified', 'most_recently_updated'] } }]);
  await api.none(other);
});

test('pairs that are not merged: non-fatal errors, the rest merged, 202', async () => {
  const [a, b, c] = await plainUsers('mg-e', 3);
  await merge(
    [
      byExt('mg-nobody', a),
      byExt(a, 'mg-nobody'),
      byExt(a, a),
      byExt(b, c),
      { identifier_to_merge: { email: 'mg-none@example.com', prioritization: ['unidentified'] }, identifier_to_keep: { external_id: a } },
    ],
    {
      message: 'success',
      errors: [
        { type: "'identifier_to_merge' matches no user (or several, and its 'prioritization' picks none)", input_array: 'merge_updates', index: 0 },
        { type: "'identifier_to_keep' matches no user (or several, and its 'prioritization' picks none)", input_array: 'merge_updates', index: 1 },
        { type: "'identifier_to_merge' and 'identifier_to_keep' are the same user", input_array: 'merge_updates', index: 2 },
        { type: "'identifier_to_merge' matches no user (or several, and its 'prioritization' picks none)", input_array: 'merge_updates', index: 4 },
      ],
    },
  );
  await api.none(b);
  assert.ok(await api.user(c, ['external_id']));
  // In request order: a merge that needs an earlier one's result sees it.
  await merge([byExt(a, c), byExt(c, a)], {
    message: 'success',
    errors: [{ type: "'identifier_to_keep' matches no user (or several, and its 'prioritization' picks none)", input_array: 'merge_updates', index: 1 }],
  });
});

test('users of the Global Control Group are never merged (Braze), whether kept or merged', async () => {
  const g = await h.startServer({ args: [...ARGS, '--global-control-group', '15'] });
  try {
    const ga = h.usersApi(g);
    // Batches of users until one falls in the group (15%: buckets 8500-9999).
    let buckets = [];
    for (let batch = 0; batch < 8 && !buckets.some((u) => u.random_bucket >= 8500); batch++) {
      const ids = await plainUsers(`mg-g${batch}`, 50, ga);
      buckets = buckets.concat((await ga.ok('/users/export/ids', { external_ids: ids, fields_to_export: ['external_id', 'random_bucket'] })).users);
    }
    const inGroup = buckets.find((u) => u.random_bucket >= 8500), plain = buckets.filter((u) => u.random_bucket < 8500);
    assert.ok(inGroup && plain.length >= 2, 'no user fell in 15% of the buckets in 400 users');
    const err = (index) => ({ type: 'users in the Global Control Group are never merged', input_array: 'merge_updates', index });
    const res = await ga.post('/users/merge', { merge_updates: [byExt(plain[0].external_id, inGroup.external_id), byExt(inGroup.external_id, plain[0].external_id), byExt(plain[1].external_id, plain[0].external_id)] });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(res.json, { message: 'success', errors: [err(0), err(1)] });
    assert.ok(await ga.user(inGroup.external_id, ['external_id']));
    assert.ok(await ga.user(plain[0].external_id, ['external_id']));
    await ga.none(plain[1].external_id); // users outside it merge as ever
  } finally {
    await g.stop();
  }
});

test('a merge that would pass a per-user limit is refused and changes nothing', async () => {
  const [keep, old] = await plainUsers('mg-lim', 2);
  const toks = (p) => Array.from({ length: 60 }, (_, i) => ({ app_id: 'app', token: `${p}-t${i}`, device_id: `${p}-d${i}` }));
  await api.trackOk({ attributes: [{ external_id: keep, push_tokens: toks(keep) }, { external_id: old, push_tokens: toks(old) }] }, { attributes_processed: 2, message: 'success' });
  await merge([byExt(old, keep)], {
    message: 'success',
    errors: [{ type: 'the user would have more than 100 push tokens (the limit per user)', input_array: 'merge_updates', index: 0 }],
  });
  assert.equal((await api.user(keep, ['push_tokens'])).push_tokens.length, 60);
  assert.equal((await api.user(old, ['push_tokens'])).push_tokens.length, 60);
});

test('request errors: 400 with Braze\'s messages, nothing merged', async () => {
  const [a, b] = await plainUsers('mg-bad', 2);
  const cases = [
    [{}, "'merge_updates' must be an array of objects: 'merge_updates' is required"],
    [{ merge_updates: byExt(a, b) }, "'merge_updates' must be an array of objects: 'merge_updates' is not an array"],
    [{ merge_updates: [] }, "'merge_updates' must be an array of objects: 'merge_updates' is empty"],
    [{ merge_updates: [byExt(a, b), 'x'] }, "'merge_updates' must be an array of objects: merge_updates[1] is not an object"],
    [{ merge_updates: Array.from({ length: 51 }, () => byExt(a, b)) }, 'a single request may not contain more than 50 merge updates: this request has 51'],
    [{ merge_updates: [{ ...byExt(a, b), note: 'x' }] }, "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep': merge_updates[0] has 'note'"],
    [{ merge_updates: [{ identifier_to_keep: { external_id: b } }] }, "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep': merge_updates[0] has no 'identifier_to_merge'"],
    [{ merge_updates: [{ identifier_to_merge: { external_id: a } }] }, "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep': merge_updates[0] has no 'identifier_to_keep'"],
    [{ merge_updates: [{ identifier_to_merge: 'a', identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge is not an object`],
    [{ merge_updates: [{ identifier_to_merge: {}, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge has none of them`],
    [{ merge_updates: [{ identifier_to_merge: { external_id: a, phone: '+1' }, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge has more than one of them`],
    [{ merge_updates: [{ identifier_to_merge: { external_id: 12 }, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge: 'external_id' must be a string of 1-987 bytes`],
    [{ merge_updates: [{ identifier_to_merge: { external_id: a }, identifier_to_keep: { user_alias: { alias_name: 'n' } } }] }, `${IDENT}: merge_updates[0].identifier_to_keep: 'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'`],
    [{ merge_updates: [{ identifier_to_merge: { email: 'x@y.io' }, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge: 'prioritization' is required with 'email' or 'phone'`],
    [{ merge_updates: [{ identifier_to_merge: { email: 'x@y.io', prioritization: ['identified', 'unidentified'] }, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge: 'prioritization' may have 'identified' or 'unidentified', not both`],
    [{ merge_updates: [{ identifier_to_merge: { phone: '+15550100', prioritization: ['latest'] }, identifier_to_keep: { external_id: b } }] }, `${IDENT}: merge_updates[0].identifier_to_merge: 'prioritization' values are 'identified', 'unidentified', 'most_recently_updated' and 'least_recently_updated'`],
  ];
  for (const [body, message] of cases) h.assertError(await api.post('/users/merge', body), 400, message);
  h.assertError(await api.post('/users/merge', [byExt(a, b)]), 400, 'Bad Request: the body must be a JSON object');
  assert.ok(await api.user(a, ['external_id']), 'nothing merged');
});

test('permission users.merge; the identity rate-limit group (20,000 / min, shared)', async () => {
  const [a, b, c] = await plainUsers('mg-perm', 3);
  const k = await h.createKey(srv, srv.key, { name: 'no-merge', permissions: ['users.identify', 'users.export.ids'] });
  h.assertError(await h.request(srv, 'POST', '/users/merge', { key: k.key, body: { merge_updates: [byExt(a, b)] } }), 403,
    "Access Denied: this API key does not have the 'users.merge' permission");
  assert.ok(await api.user(a, ['external_id']));
  const m = await h.createKey(srv, srv.key, { name: 'merger', permissions: ['users.merge', 'users.alias.new'] });
  const first = await h.request(srv, 'POST', '/users/merge', { key: m.key, body: { merge_updates: [byExt(a, b)] } });
  assert.equal(first.status, 202, first.text);
  assert.equal(first.headers.get('x-ratelimit-limit'), '20000');
  const second = await h.request(srv, 'POST', '/users/merge', { key: m.key, body: { merge_updates: [byExt(c, b)] } });
  assert.equal(Number(second.headers.get('x-ratelimit-remaining')), Number(first.headers.get('x-ratelimit-remaining')) - 1);
  // /users/alias/new counts against the same group.
  const al = await h.request(srv, 'POST', '/users/alias/new', { key: m.key, body: { user_aliases: [{ alias_name: 'mg-perm', alias_label: 'l' }] } });
  assert.equal(al.status, 201, al.text);
  assert.equal(Number(al.headers.get('x-ratelimit-remaining')), Number(second.headers.get('x-ratelimit-remaining')) - 1);
  await api.none(a);
  await api.none(c);
});
