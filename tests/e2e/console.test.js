// console.test.js -- the admin reads the web console's Segments and Users
// pages make (src/api/console.c): POST /admin/segments/preview sizes and
// describes a definition exactly as the saved segment would be, saving
// nothing, and refuses what the create route refuses (huge definitions
// too); GET /admin/users/profile finds users by each identifier and shows
// the export's profile, partner cohorts, every live segment with the
// reason per filter, and the messages received, newest first.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const srv = h.fileServer();

const post = (p, body, key = srv.key) => h.request(srv, 'POST', p, { key, body });
const get = (p, key = srv.key) => h.request(srv, 'GET', p, { key });
const preview = (definition) => post('/admin/segments/preview', { definition });
const profile = (query) => get(`/admin/users/profile?${new URLSearchParams(query)}`);

const GOLD = { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'gold' };
const IN_C1 = { type: 'cohort', partner: 'heap', cohort_id: 'c1', op: 'includes' };
const US = { type: 'country', op: 'equals', value: 'US' };

// 20 users: tier gold for every other one, country US for every third,
// u0..u9 in Heap cohort c1; u1 and u2 share an email, u1 has a phone and
// an alias, a push-token import makes an anonymous user with a device.
let seeded;
async function seed() {
  if (seeded) return;
  seeded = true;
  const api = h.usersApi(srv);
  const attributes = [];
  for (let i = 0; i < 20; i++)
    attributes.push({ external_id: `u${i}`, tier: i % 2 ? 'silver' : 'gold', country: i % 3 ? 'FR' : 'US' });
  attributes[1].email = 'shared@example.com';
  attributes[1].phone = '+14155550101';
  attributes[2].email = 'shared@example.com';
  await api.trackOk({ attributes });
  await api.trackOk({ attributes: [{ push_token_import: true, push_tokens: [{ app_id: 'ios', token: 't1', device_id: 'dev-1' }] }] });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'u1', alias_name: 'ann', alias_label: 'crm' }] });

  let res = await post('/admin/partners/heap/keys', {});
  assert.equal(res.status, 201, res.text);
  const secret = res.json.key.key;
  const cohort = (suffix, body) => h.request(srv, 'POST', `/partners/heap/cohorts${suffix}`,
    { body: { partner_api_key: 'p', client_secret: secret, cohort_id: 'c1', ...body } });
  res = await cohort('', { name: 'Loyal <b>', created_at: '2026-01-01T00:00:00Z' });
  assert.equal(res.status, 201, res.text);
  res = await cohort('/users', { cohort_changes: [{ user_ids: [...Array(10).keys()].map((i) => `u${i}`) }] });
  assert.equal(res.status, 201, res.text);
}

// ---- POST /admin/segments/preview -----------------------------------------------

test('preview: the exact size and words of the saved segment, and nothing saved', async () => {
  await seed();
  const defs = [
    { and: [GOLD, IN_C1] }, // u0 u2 u4 u6 u8
    { or: [US, IN_C1] },
    GOLD,
    { and: [IN_C1, { or: [US, { type: 'custom_attribute', name: 'tier', op: 'equals', value: 'silver' }] }] },
  ];
  const listed = async () => (await get('/admin/segments?archived=true')).json.segments.length;
  const before = await listed();
  const sizes = [];
  for (const definition of defs) {
    const res = await preview(definition);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json), ['message', 'size', 'description']);
    assert.equal(res.json.message, 'success');
    sizes.push(res.json);
  }
  assert.equal(sizes[0].size, 5);
  assert.equal(sizes[0].description, 'custom attribute "tier" equals "gold" AND is in heap cohort "c1"');
  assert.equal(await listed(), before, 'a preview saves nothing');

  // Saved, each has the size and words its preview gave.
  for (let i = 0; i < defs.length; i++) {
    const res = await post('/admin/segments', { name: `p${i}`, definition: defs[i] });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.segment.size, sizes[i].size, JSON.stringify(defs[i]));
    assert.equal(res.json.segment.description, sizes[i].description);
  }

  // A definition made of a saved segment, archived or not, as the create route takes it.
  const seg = (await post('/admin/segments', { name: 'gold', definition: GOLD })).json.segment;
  let res = await preview({ and: [{ type: 'segment', id: seg.id, op: 'in' }, IN_C1] });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.size, 5);
  assert.match(res.json.description, /^in segment "gold" \(custom attribute "tier" equals "gold"\) AND is in heap cohort "c1"$/);
  assert.equal((await post(`/admin/segments/${seg.id}`, { archived: true })).status, 200);
  res = await preview({ type: 'segment', id: seg.id, op: 'not_in' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.size, 11); // 10 silver + the anonymous device user
});

test('preview: every definition error of the create route, with the same message', async () => {
  await seed();
  const defs = [
    { type: 'shoe_size', op: 'exists' },
    { and: [{ type: 'custom_attribute', name: 'age', op: 'between', value: 'young' }] },
    { type: 'custom_attribute', name: 'tier', op: 'matches_regex', value: '(a)\\1' },
    { type: 'segment', id: '00000000-0000-4000-8000-000000000000', op: 'in' },
    { or: [] },
    [GOLD],
    'gold',
    { and: [GOLD], or: [US] },
  ];
  for (const definition of defs) {
    const created = await post('/admin/segments', { name: 'x', definition });
    assert.equal(created.status, 400, created.text);
    h.assertError(await preview(definition), 400, created.json.message);
    assert.match(created.json.message, /^Bad Request: invalid segment definition: /);
  }
});

test('preview: a huge definition is refused as by the create route', async () => {
  const both = async (definition, message) => {
    h.assertError(await preview(definition), 400, message);
    h.assertError(await post('/admin/segments', { name: 'huge', definition }), 400, message);
  };
  // More than 200 filters.
  await both({ or: Array.from({ length: 201 }, (_, i) => ({ ...GOLD, value: `t${i}` })) },
    'Bad Request: invalid segment definition: or[200]: more than 200 filters (nested segments included)');
  // More than 16 levels of groups.
  let deep = GOLD;
  for (let i = 0; i < 17; i++) deep = { and: [deep] };
  await both(deep, /^Bad Request: invalid segment definition: (and\[0\]\.)+and\[0\]: groups are nested too deeply$/);
  // More than 1000 values in a list.
  await both({ type: 'custom_attribute', name: 'tier', op: 'in', value: Array.from({ length: 1001 }, (_, i) => `v${i}`) },
    /^Bad Request: invalid segment definition: .*1000/);
  // More than 256 KiB of JSON, within every count.
  const big = { type: 'custom_attribute', name: 'tier', op: 'in', value: Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(300, 'x')) };
  const bytes = JSON.stringify(big).length;
  assert.ok(bytes > 262144);
  await both(big, `Bad Request: 'definition' is ${bytes} bytes as JSON; at most 262144 are allowed`);
});

test('preview: a body that is not an object, no definition, an unknown field, no permission', async () => {
  const REQUIRED = 'Bad Request: \'definition\' is required (a filter, or an {"and": [...]} / {"or": [...]} group)';
  h.assertError(await post('/admin/segments/preview', [GOLD]), 400, 'Bad Request: the body must be a JSON object');
  h.assertError(await post('/admin/segments/preview', 'gold'), 400, 'Bad Request: the body must be a JSON object');
  h.assertError(await post('/admin/segments/preview', {}), 400, REQUIRED);
  h.assertError(await post('/admin/segments/preview', { definition: null }), 400, REQUIRED);
  h.assertError(await post('/admin/segments/preview', { definition: GOLD, name: 'x' }), 400, "Bad Request: unknown field 'name'");
  const res = await h.request(srv, 'POST', '/admin/segments/preview', { key: srv.key, raw: '{"definition":', headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 400, res.text);
  const k = await h.createKey(srv, srv.key, { name: 'no-admin', permissions: ['segments.list', 'users.export.ids'] });
  h.assertError(await post('/admin/segments/preview', { definition: GOLD }, k.key), 403, /^Access Denied/);
  h.assertError(await get('/admin/users/profile?external_id=u1', k.key), 403, /^Access Denied/);
});

// ---- GET /admin/users/profile ---------------------------------------------------

test('profile: the export\'s user object, cohorts, segments with the reason per filter', async () => {
  await seed();
  const a = (await post('/admin/segments', { name: 'Gold in c1', definition: { and: [GOLD, IN_C1, { or: [US, GOLD] }] } })).json.segment;
  const b = (await post('/admin/segments', { name: 'US', definition: US })).json.segment;
  const gone = (await post('/admin/segments', { name: 'Archived', definition: GOLD })).json.segment;
  assert.equal((await post(`/admin/segments/${gone.id}`, { archived: true })).status, 200);

  const res = await profile({ external_id: 'u2' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), ['message', 'users']);
  assert.equal(res.json.users.length, 1);
  const u = res.json.users[0];
  assert.deepEqual(Object.keys(u), ['profile', 'cohorts', 'segments', 'messages']);
  // The same object /users/export/ids gives (every field).
  const exported = await h.usersApi(srv).user('u2');
  assert.deepEqual(u.profile, exported);
  assert.deepEqual(u.cohorts, [{ partner: 'heap', cohort_id: 'c1', name: 'Loyal <b>' }]);
  assert.deepEqual(u.messages, []);

  // Every live segment, in creation order, archived ones left out.
  const live = (await get('/admin/segments')).json.segments;
  assert.deepEqual(u.segments.map((s) => s.id), live.map((s) => s.id));
  assert.ok(!u.segments.some((s) => s.id === gone.id));
  const sa = u.segments.find((s) => s.id === a.id), sb = u.segments.find((s) => s.id === b.id);
  assert.deepEqual(sa, {
    id: a.id, name: 'Gold in c1', member: true,
    filters: [
      { description: 'custom attribute "tier" equals "gold"', matched: true },
      { description: 'is in heap cohort "c1"', matched: true },
      { description: 'country equals "US" OR custom attribute "tier" equals "gold"', matched: true },
    ],
  });
  assert.deepEqual(sb, { id: b.id, name: 'US', member: false, filters: [{ description: 'country equals "US"', matched: false }] });

  // u13: silver, FR... not in c1: member of nothing above, each filter says why.
  const v = (await profile({ external_id: 'u13' })).json.users[0];
  assert.deepEqual(v.cohorts, []);
  assert.deepEqual(v.segments.find((s) => s.id === a.id).filters.map((f) => f.matched), [false, false, false]);
  // u12: gold, US, not in c1: one filter fails.
  const w = (await profile({ external_id: 'u12' })).json.users[0].segments.find((s) => s.id === a.id);
  assert.equal(w.member, false);
  assert.deepEqual(w.filters.map((f) => f.matched), [true, false, true]);
  // Membership agrees with the segment's size.
  let members = 0;
  for (let i = 0; i < 20; i++)
    members += (await profile({ external_id: `u${i}` })).json.users[0].segments.find((s) => s.id === a.id).member;
  assert.equal(members, (await get(`/admin/segments/${a.id}`)).json.segment.size);
});

test('profile: found by each identifier; email and phone may match several', async () => {
  await seed();
  const ids = async (query) => {
    const res = await profile(query);
    assert.equal(res.status, 200, res.text);
    return res.json.users.map((u) => u.profile.external_id ?? null);
  };
  const braze = (await h.usersApi(srv).user('u1')).braze_id;
  assert.deepEqual(await ids({ braze_id: braze }), ['u1']);
  assert.deepEqual(await ids({ alias_name: 'ann', alias_label: 'crm' }), ['u1']);
  assert.deepEqual(await ids({ phone: '+14155550101' }), ['u1']);
  assert.deepEqual((await ids({ email: 'shared@example.com' })).sort(), ['u1', 'u2']);
  assert.deepEqual(await ids({ device_id: 'dev-1' }), [null]); // the anonymous user of the token import
  // Unknown users: an empty list, as Braze's export answers.
  for (const q of [{ external_id: 'nobody' }, { braze_id: 'ffffffffffffffffffffffff' }, { email: 'no@example.com' },
                   { phone: '+10000000000' }, { device_id: 'nope' }, { alias_name: 'ann', alias_label: 'other' }])
    assert.deepEqual((await profile(q)).json, { message: 'success', users: [] }, JSON.stringify(q));
});

test('profile: at most 50 users, then "truncated"', async () => {
  const api = h.usersApi(srv);
  const attributes = Array.from({ length: 51 }, (_, i) => ({ external_id: `many${i}`, email: 'many@example.com' }));
  await api.trackOk({ attributes: attributes.slice(0, 40) });
  await api.trackOk({ attributes: attributes.slice(40) });
  let res = await profile({ email: 'many@example.com' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.users.length, 50);
  assert.equal(res.json.truncated, true);
  await api.ok('/users/delete', { external_ids: ['many0'] });
  res = await profile({ email: 'many@example.com' });
  assert.equal(res.json.users.length, 50);
  assert.equal(res.json.truncated, undefined);
});

test('profile: the messages received, newest first', async () => {
  await seed();
  const rx = await webhookReceiver();
  try {
    const names = ['First', 'Second'];
    for (const name of names) {
      const c = await post('/admin/campaigns', { name, kind: 'api', variations: [{ name: 'Only', channel: 'webhook' }] });
      assert.equal(c.status, 201, c.text);
      const res = await post('/messages/send', {
        campaign_id: c.json.campaign_id, external_user_ids: ['u3'],
        messages: { webhook: { url: rx.url(), request_method: 'POST', body: 'hi', message_variation_id: c.json.variations[0].id } },
      });
      assert.equal(res.status, 201, res.text);
      await h.poll(async () => (await get(`/admin/dispatches/${res.json.dispatch_id}`)).json.state === 'done',
        { deadlineMs: 30000, intervalMs: 100 });
      await new Promise((r) => setTimeout(r, 20)); // distinct times
    }
    const u = (await profile({ external_id: 'u3' })).json.users[0];
    assert.deepEqual(u.messages.map((m) => m.name), ['Second', 'First']);
    assert.equal(u.messages[0].channel, 'webhook');
    assert.equal(u.messages[0].variation_name, 'Only');
    assert.match(u.messages[0].last_received, h.ISO_MS_RE);
    // The export keeps its order, oldest first.
    assert.deepEqual(u.profile.campaigns_received.map((m) => m.name), ['First', 'Second']);
  } finally {
    await rx.close();
  }
});

test('profile: no identifier, two, an alias half, an empty or over-long value are 400s', async () => {
  const LIST = "'external_id', 'braze_id', 'email', 'phone', 'device_id' or 'alias_name' with 'alias_label'";
  h.assertError(await get('/admin/users/profile'), 400, `Bad Request: one of ${LIST} is required`);
  h.assertError(await profile({ other: 'x' }), 400, `Bad Request: one of ${LIST} is required`);
  h.assertError(await profile({ external_id: 'u1', email: 'a@b.co' }), 400, `Bad Request: give exactly one of ${LIST}`);
  h.assertError(await profile({ braze_id: 'x', alias_name: 'ann', alias_label: 'crm' }), 400, `Bad Request: give exactly one of ${LIST}`);
  h.assertError(await profile({ alias_name: 'ann' }), 400, "Bad Request: 'alias_name' needs 'alias_label'");
  h.assertError(await profile({ alias_label: 'crm' }), 400, "Bad Request: 'alias_label' needs 'alias_name'");
  h.assertError(await profile({ external_id: 'u1', alias_label: 'crm' }), 400, "Bad Request: 'alias_label' needs 'alias_name'");
  h.assertError(await profile({ external_id: '' }), 400, "Bad Request: 'external_id' must not be empty");
  h.assertError(await profile({ alias_name: 'ann', alias_label: '' }), 400, "Bad Request: 'alias_label' must not be empty");
  const long = 'x'.repeat(1025);
  for (const name of ['external_id', 'braze_id', 'email', 'phone', 'device_id'])
    h.assertError(await profile({ [name]: long }), 400, `Bad Request: '${name}' is longer than 1024 bytes`);
  h.assertError(await profile({ alias_name: 'ann', alias_label: long }), 400, "Bad Request: 'alias_label' is longer than 1024 bytes");
  // 1024 bytes is a value like any other.
  assert.deepEqual((await profile({ external_id: 'x'.repeat(1024) })).json, { message: 'success', users: [] });
});

// Last: it leaves a broken segment behind. A stored definition that no
// longer compiles (written by hand, or by an older version) is listed with
// the reason, not a failed page.
test('profile: a segment whose stored definition no longer compiles says why', async () => {
  await seed();
  const seg = (await post('/admin/segments', { name: 'Broken', definition: GOLD })).json.segment;
  const unknown = '00000000-0000-4000-8000-000000000000';
  const def = JSON.stringify({ type: 'segment', id: unknown, op: 'in' });
  // The server writes too (the segment's size of the day): wait for its lock.
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 10000', path.join(srv.dir, 'brasa.db'), `UPDATE segments SET definition = '${def}' WHERE id = '${seg.id}'`],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const res = await profile({ external_id: 'u0' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.users[0].segments.find((s) => s.id === seg.id), {
    id: seg.id, name: 'Broken', member: false, filters: [],
    error: `invalid segment definition: unknown segment id '${unknown}'`,
  });
});
