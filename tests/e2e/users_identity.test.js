// users_identity.test.js -- /users/alias/new, /users/alias/update,
// /users/identify, /users/delete, /users/external_ids/rename and
// /users/external_ids/remove, checked through /users/export/ids.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let api;
before(async () => {
  // Exports read back almost every change: lift the 250/min export limit.
  srv = await h.startServer({ args: ['--rate-limit', 'users.export.ids=100000/60s'] });
  api = h.usersApi(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const TOOMANY = 'Max Input Length Exceeded: a single request may not contain more than 50 identifiers';

async function create(external_id, attrs = {}) {
  await api.trackOk({ attributes: [{ external_id, ...attrs }] }, { attributes_processed: 1, message: 'success' });
}

// ---- /users/alias/new ------------------------------------------------------

test('alias/new with external_id adds the alias to that user', async () => {
  await create('al-user', { a: 1 });
  const alias = { alias_name: 'crm-1', alias_label: 'crm' };
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-user', ...alias }] }, { aliases_processed: 1, message: 'success' });
  const u = await api.user('al-user', ['external_id', 'user_aliases', 'braze_id']);
  assert.deepEqual(u.user_aliases, [alias]);
  // The alias finds the same user.
  assert.deepEqual(await api.user({ user_aliases: [alias] }, ['external_id', 'user_aliases', 'braze_id']), u);
  // A second label on the same user.
  const alias2 = { alias_name: 'amp-1', alias_label: 'amplitude' };
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-user', ...alias2 }] }, { aliases_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('al-user', ['user_aliases'])).user_aliases, [alias, alias2]);
  // /users/track by the alias reaches the user.
  await api.trackOk({ attributes: [{ user_alias: alias2, b: 2 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('al-user', ['custom_attributes'])).custom_attributes, { a: 1, b: 2 });
});

test('alias/new without external_id creates an alias-only user, exportable by alias', async () => {
  const aliases = [
    { alias_name: 'anon-1', alias_label: 'cookie' },
    { alias_name: 'anon-2', alias_label: 'cookie' },
  ];
  await api.ok('/users/alias/new', { user_aliases: aliases }, { aliases_processed: 2, message: 'success' });
  const res = await api.ok('/users/export/ids', { user_aliases: aliases });
  assert.equal(res.users.length, 2, JSON.stringify(res));
  const [a, b] = res.users;
  assert.notEqual(a.braze_id, b.braze_id);
  for (const [i, u] of res.users.entries()) {
    assert.deepEqual(h.stableUser(u), {
      user_aliases: [aliases[i]],
      total_revenue: 0,
      push_subscribe: 'subscribed',
      email_subscribe: 'subscribed',
      custom_attributes: {},
      custom_events: [],
      purchases: [],
      devices: [],
      push_tokens: [],
      apps: [],
      campaigns_received: [],
      canvases_received: [],
      cards_clicked: [],
    });
  }
  // Now events by alias reach it (update-only is fine: it exists).
  await api.trackOk({ events: [{ user_alias: aliases[0], name: 'visit', time: '2021-01-01T00:00:00Z' }] }, { events_processed: 1, message: 'success' });
  assert.equal((await api.user({ user_aliases: [aliases[0]] }, ['custom_events'])).custom_events[0].count, 1);
});

test('alias/new: an unknown external_id adds the alias nowhere; a taken pair is not moved', async () => {
  const alias = { alias_name: 'lost', alias_label: 'crm' };
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-nobody', ...alias }] }, { aliases_processed: 1, message: 'success' });
  await api.none({ user_aliases: [alias] });
  await api.none('al-nobody');

  await create('al-owner');
  await create('al-thief');
  const pair = { alias_name: 'taken', alias_label: 'crm' };
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-owner', ...pair }] }, { aliases_processed: 1, message: 'success' });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-thief', ...pair }, pair] }, { aliases_processed: 2, message: 'success' });
  assert.equal((await api.user({ user_aliases: [pair] }, ['external_id'])).external_id, 'al-owner');
  assert.deepEqual((await api.user('al-thief', ['user_aliases'])).user_aliases, []);
  // One alias_name per alias_label on a user.
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'al-owner', alias_name: 'second', alias_label: 'crm' }] }, { aliases_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('al-owner', ['user_aliases'])).user_aliases, [pair]);
  await api.none({ user_aliases: [{ alias_name: 'second', alias_label: 'crm' }] });
});

test('alias/new request errors: 400', async () => {
  const many = Array.from({ length: 51 }, (_, i) => ({ alias_name: `m-${i}`, alias_label: 'l' }));
  h.assertError(await api.post('/users/alias/new', { user_aliases: many }), 400, TOOMANY);
  await api.none({ user_aliases: [many[0]] });
  const SHAPE = "'user_aliases' item 0 must be objects with string 'alias_name' and 'alias_label' (and optional 'external_id')";
  for (const item of [{ alias_name: 'x' }, { alias_label: 'x' }, { alias_name: 1, alias_label: 'l' }, { alias_name: '', alias_label: 'l' }, { alias_name: 'x', alias_label: 'l', external_id: 5 }, 'x',
    { alias_name: 'n'.repeat(988), alias_label: 'l' }, { alias_name: 'x', alias_label: 'l'.repeat(988) }]) {
    h.assertError(await api.post('/users/alias/new', { user_aliases: [item] }), 400, `Bad Request: ${SHAPE}`);
  }
  for (const body of [{}, { user_aliases: [] }, { user_aliases: null }]) {
    h.assertError(await api.post('/users/alias/new', body), 400, "Bad Request: 'user_aliases' must be a non-empty array");
  }
  h.assertError(await api.post('/users/alias/new', { user_aliases: { alias_name: 'x', alias_label: 'l' } }), 400, /^Bad Request: 'user_aliases' must be an array of objects/);
  h.assertError(await api.post('/users/alias/new', []), 400, 'Bad Request: the body must be a JSON object');
  // 50 is fine.
  await api.ok('/users/alias/new', { user_aliases: many.slice(0, 50) }, { aliases_processed: 50, message: 'success' });
});

// ---- /users/identify -------------------------------------------------------

test('identify merges an alias-only user into the external_id user', async () => {
  const alias = { alias_name: 'visitor-1', alias_label: 'web' };
  await create('idt-target', { first_name: 'Target', country: 'FR', a: 1, arr: ['t'] });
  await api.trackOk(
    {
      attributes: [{ user_alias: alias, _update_existing_only: false, first_name: 'Anon', last_name: 'Visitor', a: 9, b: 2, arr: ['v'], obj: { k: 'v' } }],
      events: [
        { external_id: 'idt-target', name: 'view', time: '2021-05-01T00:00:00Z' },
        { external_id: 'idt-target', name: 'view', time: '2021-05-03T00:00:00Z' },
        { user_alias: alias, name: 'view', time: '2021-04-01T00:00:00Z' },
        { user_alias: alias, name: 'view', time: '2021-04-02T00:00:00Z' },
        { user_alias: alias, name: 'view', time: '2021-05-02T00:00:00Z' },
        { user_alias: alias, name: 'anon_only', time: '2021-04-05T00:00:00Z' },
      ],
      purchases: [
        { external_id: 'idt-target', product_id: 'p', currency: 'USD', price: 2, quantity: 2, time: '2021-05-01T00:00:00Z' },
        { user_alias: alias, product_id: 'p', currency: 'USD', price: 1.5, time: '2021-06-01T00:00:00Z' },
      ],
    },
    { attributes_processed: 1, events_processed: 6, purchases_processed: 2, message: 'success' },
  );
  const anon = await api.user({ user_aliases: [alias] }, ['braze_id', 'created_at']);
  const target = await api.user('idt-target', ['braze_id']);

  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'idt-target', user_alias: alias }] }, { aliases_processed: 1, message: 'success' });

  const u = await api.user('idt-target');
  assert.equal(u.braze_id, target.braze_id, 'the identified user keeps its braze_id');
  const events = [...u.custom_events].sort((x, y) => (x.name < y.name ? -1 : 1));
  assert.deepEqual(
    { ...h.stableUser(u), custom_events: events },
    {
      external_id: 'idt-target',
      user_aliases: [alias],
      first_name: 'Target', // present on the target: kept
      last_name: 'Visitor', // absent on the target: copied
      country: 'FR',
      total_revenue: 2 * 2 + 1.5,
      push_subscribe: 'subscribed',
      email_subscribe: 'subscribed',
      custom_attributes: { a: 1, arr: ['t'], b: 2, obj: { k: 'v' } },
      custom_events: [
        { name: 'anon_only', first: '2021-04-05T00:00:00.000Z', last: '2021-04-05T00:00:00.000Z', count: 1 },
        { name: 'view', first: '2021-04-01T00:00:00.000Z', last: '2021-05-03T00:00:00.000Z', count: 5 },
      ],
      purchases: [{ name: 'p', first: '2021-05-01T00:00:00.000Z', last: '2021-06-01T00:00:00.000Z', count: 3 }],
      devices: [],
      push_tokens: [],
      apps: [],
      campaigns_received: [],
      canvases_received: [],
      cards_clicked: [],
    },
  );
  // The alias now resolves to the identified user; the alias-only profile is gone.
  assert.equal((await api.user({ user_aliases: [alias] }, ['external_id'])).external_id, 'idt-target');
  await api.none({ braze_id: anon.braze_id });
  // /users/track by the alias now updates the identified user.
  await api.trackOk({ attributes: [{ user_alias: alias, c: 3 }] }, { attributes_processed: 1, message: 'success' });
  assert.equal((await api.user('idt-target', ['custom_attributes'])).custom_attributes.c, 3);
  // Identifying again is a no-op (the alias user is identified now).
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'idt-target', user_alias: alias }] }, { aliases_processed: 1, message: 'success' });
  assert.deepEqual(h.stableUser(await api.user('idt-target', ['external_id', 'user_aliases'])), { external_id: 'idt-target', user_aliases: [alias] });
});

test('identify to an external_id nobody has: the alias-only user gets it', async () => {
  const alias = { alias_name: 'visitor-2', alias_label: 'web' };
  await api.ok('/users/alias/new', { user_aliases: [alias] }, { aliases_processed: 1, message: 'success' });
  await api.trackOk({ attributes: [{ user_alias: alias, a: 1 }] }, { attributes_processed: 1, message: 'success' });
  const before = await api.user({ user_aliases: [alias] }, ['braze_id', 'created_at']);
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'idt-new', user_alias: alias }] }, { aliases_processed: 1, message: 'success' });
  const u = await api.user('idt-new', ['external_id', 'braze_id', 'created_at', 'user_aliases', 'custom_attributes']);
  assert.deepEqual(u, { ...before, external_id: 'idt-new', user_aliases: [alias], custom_attributes: { a: 1 } });
  assert.deepEqual(await api.user({ user_aliases: [alias] }, ['external_id', 'braze_id']), { external_id: 'idt-new', braze_id: before.braze_id });
});

test('identify: the target already has an alias with that label -> not combined; unknown alias -> nothing', async () => {
  const mine = { alias_name: 'mine', alias_label: 'device' };
  const other = { alias_name: 'other', alias_label: 'device' };
  await create('idt-label');
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'idt-label', ...mine }, other] }, { aliases_processed: 2, message: 'success' });
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'idt-label', user_alias: other }, { external_id: 'idt-label', user_alias: { alias_name: 'ghost', alias_label: 'x' } }] }, {
    aliases_processed: 2,
    message: 'success',
  });
  assert.deepEqual(await api.user({ user_aliases: [other] }, ['external_id', 'user_aliases']), { user_aliases: [other] });
  assert.deepEqual((await api.user('idt-label', ['user_aliases'])).user_aliases, [mine]);
});

test('identify by email: the email-only profile merges into the external_id user', async () => {
  const email = 'idt-email@example.com';
  await api.trackOk({ attributes: [{ email, first_name: 'Anon', x: 1 }], events: [{ email, name: 'signup', time: '2021-01-01T00:00:00Z' }] }, {
    attributes_processed: 1,
    events_processed: 1,
    message: 'success',
  });
  await create('idt-email-user', { y: 2 });
  await api.ok('/users/identify', { emails_to_identify: [{ external_id: 'idt-email-user', email, prioritization: ['unidentified', 'most_recently_updated'] }] }, {
    emails_processed: 1,
    message: 'success',
  });
  const u = await api.user('idt-email-user', ['email', 'first_name', 'custom_attributes', 'custom_events']);
  assert.deepEqual(u, {
    email,
    first_name: 'Anon',
    custom_attributes: { y: 2, x: 1 },
    custom_events: [{ name: 'signup', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
  });
  // Only the identified user has the email now.
  const res = await api.ok('/users/export/ids', { email_address: email, fields_to_export: ['external_id'] });
  assert.deepEqual(res, { users: [{ external_id: 'idt-email-user' }], message: 'success' });
});

test('identify request errors: 400', async () => {
  const NONE = "Bad Request: 'aliases_to_identify', 'emails_to_identify' or 'phone_numbers_to_identify' must be a non-empty array";
  for (const body of [{}, { aliases_to_identify: [] }]) h.assertError(await api.post('/users/identify', body), 400, NONE);
  const A = "Bad Request: 'aliases_to_identify' item 0 must be objects with an 'external_id' and a 'user_alias' object";
  for (const item of [{ external_id: 'x' }, { user_alias: { alias_name: 'a', alias_label: 'b' } }, { external_id: 'x', user_alias: { alias_name: 'a' } }, 5]) {
    h.assertError(await api.post('/users/identify', { aliases_to_identify: [item] }), 400, A);
  }
  h.assertError(await api.post('/users/identify', { emails_to_identify: [{ external_id: 'x' }] }), 400, "Bad Request: 'emails_to_identify' item 0 must be objects with an 'external_id' and an 'email'");
  const many = Array.from({ length: 51 }, (_, i) => ({ external_id: `x${i}`, user_alias: { alias_name: `n${i}`, alias_label: 'l' } }));
  h.assertError(await api.post('/users/identify', { aliases_to_identify: many }), 400, TOOMANY);
});

// ---- /users/delete ---------------------------------------------------------

test('delete by external_id, user_alias and braze_id', async () => {
  await create('del-1', { a: 1 });
  await create('del-2', { a: 2 });
  await create('del-keep', { a: 3 });
  const alias = { alias_name: 'del-alias', alias_label: 'l' };
  await api.ok('/users/alias/new', { user_aliases: [alias] }, { aliases_processed: 1, message: 'success' });
  const b2 = (await api.user('del-2', ['braze_id'])).braze_id;
  const ba = (await api.user({ user_aliases: [alias] }, ['braze_id'])).braze_id;
  await api.ok('/users/delete', { external_ids: ['del-1'], user_aliases: [alias], braze_ids: [b2] }, { deleted: 3, message: 'success' });
  await api.none('del-1');
  await api.none('del-2');
  await api.none({ braze_id: b2 });
  await api.none({ braze_id: ba });
  await api.none({ user_aliases: [alias] });
  assert.deepEqual((await api.user('del-keep', ['custom_attributes'])).custom_attributes, { a: 3 });
  // The external_id is free again: a new, empty user with another braze_id.
  await create('del-2', { fresh: true });
  const again = await api.user('del-2', ['braze_id', 'custom_attributes']);
  assert.notEqual(again.braze_id, b2);
  assert.deepEqual(again.custom_attributes, { fresh: true });
  // Tracking an update-only change to a deleted user creates nothing.
  await api.trackOk({ attributes: [{ external_id: 'del-1', _update_existing_only: true, a: 1 }] }, { attributes_processed: 1, message: 'success' });
  await api.none('del-1');
});

test('delete by email_addresses; unknown identifiers are still counted as queued', async () => {
  await api.trackOk({ attributes: [{ email: 'del-me@example.com', a: 1 }] }, { attributes_processed: 1, message: 'success' });
  await api.ok('/users/delete', { email_addresses: [{ email: 'del-me@example.com', prioritization: ['unidentified', 'most_recently_updated'] }] }, { deleted: 1, message: 'success' });
  await api.none({ email_address: 'del-me@example.com' });
  await api.ok('/users/delete', { external_ids: ['del-nobody-1', 'del-nobody-2'] }, { deleted: 2, message: 'success' });
});

test('delete request errors: 400', async () => {
  const NONE = "Bad Request: 'external_ids', 'user_aliases', 'braze_ids', 'email_addresses' or 'phone_numbers' must be a non-empty array";
  for (const body of [{}, { external_ids: [] }]) h.assertError(await api.post('/users/delete', body), 400, NONE);
  h.assertError(await api.post('/users/delete', { external_ids: [''] }), 400, "Bad Request: 'external_ids' item 0 must be non-empty strings");
  h.assertError(await api.post('/users/delete', { external_ids: 'x' }), 400, "Bad Request: 'external_ids' must be an array of non-empty strings");
  h.assertError(await api.post('/users/delete', { user_aliases: [{ alias_name: 'x' }] }), 400, "Bad Request: 'user_aliases' item 0 must be objects with string 'alias_name' and 'alias_label'");
  await create('del-many-0');
  const many = Array.from({ length: 51 }, (_, i) => `del-many-${i}`);
  h.assertError(await api.post('/users/delete', { external_ids: many }), 400, TOOMANY);
  h.assertError(await api.post('/users/delete', { external_ids: many.slice(0, 30), braze_ids: many.slice(0, 21) }), 400, TOOMANY);
  assert.ok(await api.user('del-many-0', ['external_id']), 'a refused delete deletes nothing');
});

// ---- /users/external_ids/rename and remove ---------------------------------

test('rename: the new id names the user, the old one still resolves to it', async () => {
  await create('rn-old', { a: 1 });
  const b = (await api.user('rn-old', ['braze_id'])).braze_id;
  await api.ok(
    '/users/external_ids/rename',
    { external_id_renames: [{ current_external_id: 'rn-old', new_external_id: 'rn-new' }] },
    { external_ids: [{ current_external_id: 'rn-old', new_external_id: 'rn-new' }], rename_errors: [], message: 'success' },
  );
  const byNew = await api.user('rn-new', ['external_id', 'braze_id', 'custom_attributes']);
  assert.deepEqual(byNew, { external_id: 'rn-new', braze_id: b, custom_attributes: { a: 1 } });
  assert.deepEqual(await api.user('rn-old', ['external_id', 'braze_id', 'custom_attributes']), byNew);
  // /users/track with the old id updates the same user (no new profile).
  await api.trackOk({ attributes: [{ external_id: 'rn-old', b: 2 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('rn-new', ['custom_attributes'])).custom_attributes, { a: 1, b: 2 });
  // A second rename: both older ids resolve.
  await api.ok(
    '/users/external_ids/rename',
    { external_id_renames: [{ current_external_id: 'rn-new', new_external_id: 'rn-newer' }] },
    { external_ids: [{ current_external_id: 'rn-new', new_external_id: 'rn-newer' }], rename_errors: [], message: 'success' },
  );
  for (const id of ['rn-old', 'rn-new', 'rn-newer']) assert.deepEqual(await api.user(id, ['external_id', 'braze_id']), { external_id: 'rn-newer', braze_id: b });
});

test('rename errors are [index, message] pairs; the valid renames in the request apply', async () => {
  await create('rn-a');
  await create('rn-b');
  await create('rn-c');
  await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: 'rn-c', new_external_id: 'rn-c2' }] });
  const res = await api.ok('/users/external_ids/rename', {
    external_id_renames: [
      { current_external_id: 'rn-nobody', new_external_id: 'rn-x' },
      { current_external_id: 'rn-a', new_external_id: 'rn-a' },
      { current_external_id: 'rn-a', new_external_id: 'rn-b' }, // primary id in use
      { current_external_id: 'rn-a', new_external_id: 'rn-c' }, // deprecated id in use
      { current_external_id: 'rn-c', new_external_id: 'rn-y' }, // not the primary id
      { current_external_id: 'rn-b', new_external_id: 'rn-b2' },
    ],
  });
  assert.deepEqual(res, {
    external_ids: [{ current_external_id: 'rn-b', new_external_id: 'rn-b2' }],
    rename_errors: [
      [0, "'current_external_id' is not the primary external_id of any user"],
      [1, "'current_external_id' and 'new_external_id' are the same"],
      [2, "'new_external_id' is already in use"],
      [3, "'new_external_id' is already in use"],
      [4, "'current_external_id' is not the primary external_id of any user"],
    ],
    message: 'success',
  });
  assert.equal((await api.user('rn-a', ['external_id'])).external_id, 'rn-a');
  assert.equal((await api.user('rn-b', ['external_id'])).external_id, 'rn-b2');
  await api.none({ external_ids: ['rn-x', 'rn-y'] });
  // Request shape errors.
  h.assertError(await api.post('/users/external_ids/rename', {}), 400, "Bad Request: 'external_id_renames' must be a non-empty array");
  h.assertError(
    await api.post('/users/external_ids/rename', { external_id_renames: [{ current_external_id: 'rn-a' }] }),
    400,
    "Bad Request: 'external_id_renames' item 0 must be objects with string 'current_external_id' and 'new_external_id'",
  );
  const many = Array.from({ length: 51 }, (_, i) => ({ current_external_id: `m${i}`, new_external_id: `n${i}` }));
  h.assertError(await api.post('/users/external_ids/rename', { external_id_renames: many }), 400, TOOMANY);
});

test('remove: only deprecated ids; a primary id is a removal error', async () => {
  await create('rm-old');
  await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: 'rm-old', new_external_id: 'rm-new' }] });
  const res = await api.ok('/users/external_ids/remove', { external_ids: ['rm-new', 'rm-old', 'rm-nobody'] });
  assert.deepEqual(res, {
    removed_ids: ['rm-old'],
    removal_errors: [
      [0, 'a primary external_id cannot be removed; only deprecated ones'],
      [2, 'no user has this deprecated external_id'],
    ],
    message: 'success',
  });
  // The old id no longer resolves; the user is intact under the new one.
  await api.none('rm-old');
  assert.equal((await api.user('rm-new', ['external_id'])).external_id, 'rm-new');
  // Removing it again: nobody has it.
  assert.deepEqual(await api.ok('/users/external_ids/remove', { external_ids: ['rm-old'] }), {
    removed_ids: [],
    removal_errors: [[0, 'no user has this deprecated external_id']],
    message: 'success',
  });
  // The freed id can name a new user.
  await create('rm-old', { fresh: 1 });
  assert.deepEqual(await api.user('rm-old', ['external_id', 'custom_attributes']), { external_id: 'rm-old', custom_attributes: { fresh: 1 } });
  h.assertError(await api.post('/users/external_ids/remove', { external_ids: [] }), 400, "Bad Request: 'external_ids' must be a non-empty array");
  h.assertError(await api.post('/users/external_ids/remove', { external_ids: [1] }), 400, "Bad Request: 'external_ids' item 0 must be non-empty strings");
});

// ---- permissions -----------------------------------------------------------

test('permissions: each identity endpoint needs its own permission', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'track-export', permissions: ['users.track', 'users.export.ids'] });
  const cases = [
    ['/users/alias/new', 'users.alias.new', { user_aliases: [{ alias_name: 'perm', alias_label: 'l' }] }],
    ['/users/alias/update', 'users.alias.update', { alias_updates: [{ alias_label: 'l', old_alias_name: 'a', new_alias_name: 'b' }] }],
    ['/users/merge', 'users.merge', { merge_updates: [{ identifier_to_merge: { external_id: 'perm' }, identifier_to_keep: { external_id: 'x' } }] }],
    ['/users/identify', 'users.identify', { aliases_to_identify: [{ external_id: 'perm', user_alias: { alias_name: 'perm', alias_label: 'l' } }] }],
    ['/users/delete', 'users.delete', { external_ids: ['perm'] }],
    ['/users/external_ids/rename', 'users.external_ids.rename', { external_id_renames: [{ current_external_id: 'perm', new_external_id: 'perm2' }] }],
    ['/users/external_ids/remove', 'users.external_ids.remove', { external_ids: ['perm'] }],
  ];
  await create('perm', { a: 1 });
  for (const [p, perm, body] of cases) {
    const res = await h.request(srv, 'POST', p, { key: k.key, body });
    h.assertError(res, 403, `Access Denied: this API key does not have the '${perm}' permission`);
  }
  assert.deepEqual(await api.user('perm', ['external_id', 'user_aliases', 'custom_attributes']), { external_id: 'perm', user_aliases: [], custom_attributes: { a: 1 } });
  const d = await h.createKey(srv, srv.key, { name: 'deleter', permissions: ['users.delete'] });
  const res = await h.request(srv, 'POST', '/users/delete', { key: d.key, body: { external_ids: ['perm'] } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { deleted: 1, message: 'success' });
  await api.none('perm');
});

test('deprecated ids: 100 per user (the limit); the 101st rename is a rename error, removing one keeps every other', async () => {
  await create('dep-0');
  for (let start = 0; start < 100; start += 50) {
    const renames = Array.from({ length: 50 }, (_, i) => ({ current_external_id: `dep-${start + i}`, new_external_id: `dep-${start + i + 1}` }));
    const res = await api.ok('/users/external_ids/rename', { external_id_renames: renames });
    assert.equal(res.external_ids.length, 50, JSON.stringify(res.rename_errors));
  }
  const b = (await api.user('dep-100', ['braze_id'])).braze_id;
  assert.deepEqual(await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: 'dep-100', new_external_id: 'dep-101' }] }), {
    external_ids: [],
    rename_errors: [[0, 'the user would have more than 100 deprecated external ids (the limit per user)']],
    message: 'success',
  });
  await api.none('dep-101');
  assert.deepEqual(await api.ok('/users/external_ids/remove', { external_ids: ['dep-50'] }), { removed_ids: ['dep-50'], removal_errors: [], message: 'success' });
  await api.none('dep-50');
  for (const id of ['dep-0', 'dep-49', 'dep-51', 'dep-99', 'dep-100'])
    assert.deepEqual(await api.user(id, ['external_id', 'braze_id']), { external_id: 'dep-100', braze_id: b }, id);
  // Room for one again.
  await api.ok('/users/external_ids/rename', { external_id_renames: [{ current_external_id: 'dep-100', new_external_id: 'dep-101' }] }, {
    external_ids: [{ current_external_id: 'dep-100', new_external_id: 'dep-101' }],
    rename_errors: [],
    message: 'success',
  });
});

test('aliases: 100 per user (the limit); alias/new past it is a non-fatal error naming the item', async () => {
  await create('al-many');
  for (let start = 0; start < 100; start += 50) {
    const aliases = Array.from({ length: 50 }, (_, i) => ({ external_id: 'al-many', alias_name: 'n', alias_label: `l${start + i}` }));
    await api.ok('/users/alias/new', { user_aliases: aliases }, { aliases_processed: 50, message: 'success' });
  }
  const res = await api.ok('/users/alias/new', {
    user_aliases: [
      { alias_name: 'al-many-solo', alias_label: 'l' },
      { external_id: 'al-many', alias_name: 'n', alias_label: 'one-too-many' },
    ],
  });
  assert.deepEqual(res, {
    aliases_processed: 2,
    message: 'success',
    errors: [{ type: 'the user would have more than 100 aliases (the limit per user)', input_array: 'user_aliases', index: 1 }],
  });
  await api.none({ user_aliases: [{ alias_name: 'n', alias_label: 'one-too-many' }] });
  assert.equal((await api.user('al-many', ['user_aliases'])).user_aliases.length, 100);
  assert.ok(await api.user({ user_aliases: [{ alias_name: 'al-many-solo', alias_label: 'l' }] }, ['braze_id']));
});

// ---- /users/alias/update ---------------------------------------------------

test('alias/update renames an alias; unknown and taken aliases are non-fatal errors', async () => {
  await create('au-user', { a: 1 });
  await api.ok('/users/alias/new', { user_aliases: [{ external_id: 'au-user', alias_name: 'old', alias_label: 'crm' }, { alias_name: 'other', alias_label: 'crm' }] });
  const b = (await api.user('au-user', ['braze_id'])).braze_id;
  const res = await api.ok('/users/alias/update', {
    alias_updates: [
      { alias_label: 'crm', old_alias_name: 'old', new_alias_name: 'new' },
      { alias_label: 'crm', old_alias_name: 'ghost', new_alias_name: 'x' },
      { alias_label: 'crm', old_alias_name: 'other', new_alias_name: 'new' },
    ],
  });
  assert.deepEqual(res, {
    message: 'success',
    errors: [
      { type: "no user has an alias with this 'alias_label' and 'old_alias_name'", input_array: 'alias_updates', index: 1 },
      { type: "another user has an alias with this 'alias_label' and 'new_alias_name'", input_array: 'alias_updates', index: 2 },
    ],
  });
  assert.deepEqual(await api.user({ user_aliases: [{ alias_name: 'new', alias_label: 'crm' }] }, ['external_id', 'braze_id', 'user_aliases']), {
    external_id: 'au-user',
    user_aliases: [{ alias_name: 'new', alias_label: 'crm' }],
    braze_id: b,
  });
  await api.none({ user_aliases: [{ alias_name: 'old', alias_label: 'crm' }] });
  // The old name is free for someone else; /users/track by the new one reaches the user.
  await api.ok('/users/alias/new', { user_aliases: [{ alias_name: 'old', alias_label: 'crm' }] }, { aliases_processed: 1, message: 'success' });
  await api.trackOk({ attributes: [{ user_alias: { alias_name: 'new', alias_label: 'crm' }, c: 3 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('au-user', ['custom_attributes'])).custom_attributes, { a: 1, c: 3 });
  // Renaming to the same name changes nothing and is no error.
  await api.ok('/users/alias/update', { alias_updates: [{ alias_label: 'crm', old_alias_name: 'new', new_alias_name: 'new' }] }, { message: 'success' });
});

test('alias/update request errors: 400', async () => {
  const SHAPE = "Bad Request: 'alias_updates' item 0 must be objects with string 'alias_label', 'old_alias_name' and 'new_alias_name'";
  for (const item of [
    { alias_label: 'l', old_alias_name: 'a' },
    { alias_label: 'l', new_alias_name: 'b' },
    { old_alias_name: 'a', new_alias_name: 'b' },
    { alias_label: '', old_alias_name: 'a', new_alias_name: 'b' },
    { alias_label: 'l', old_alias_name: 'a', new_alias_name: 7 },
    'x',
  ]) {
    h.assertError(await api.post('/users/alias/update', { alias_updates: [item] }), 400, SHAPE);
  }
  for (const body of [{}, { alias_updates: [] }]) h.assertError(await api.post('/users/alias/update', body), 400, "Bad Request: 'alias_updates' must be a non-empty array");
  h.assertError(await api.post('/users/alias/update', { alias_updates: {} }), 400, /^Bad Request: 'alias_updates' must be an array of objects/);
  h.assertError(await api.post('/users/alias/update', 'x'), 400, 'Bad Request: the body must be a JSON object');
  const many = Array.from({ length: 51 }, (_, i) => ({ alias_label: 'l', old_alias_name: `o${i}`, new_alias_name: `n${i}` }));
  h.assertError(await api.post('/users/alias/update', { alias_updates: many }), 400, TOOMANY);
});
