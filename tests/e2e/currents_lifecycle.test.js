// currents_lifecycle.test.js -- the user-lifecycle Currents events in the
// outbox: a brasa.cohorts.Change per user a partner cohort import adds or
// removes, users.UserDeleteRequest per user /users/delete deletes,
// users.UserOrphan per user /users/merge or /users/identify merges into
// another; each with its fields, none for a call that changes nothing or is
// refused, and the same events (no more) after a clean restart and after a
// SIGKILL (the journal replay writes none); and a Custom HTTP connector
// selecting these types receives them.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const ARGS = ['--rate-limit', 'users.export.ids=0'];
const ID_RE = (tag) => new RegExp(`^[0-9a-f]{16}-${tag}[0-9a-f]{4}$`);
const nowS = () => Math.floor(Date.now() / 1000);

const cohortEvents = (dir) => h.outboxEvents(dir, 'brasa.cohorts.', 'outbox');
const userEvents = (dir) => h.outboxEvents(dir, 'users.User', 'outbox');

// Checks an event's id (its form, and that no other event has it) and time
// (between t0 and t1, epoch seconds), and returns it without those two.
function strip(ev, tag, t0, t1, seen) {
  const { id, time, ...rest } = ev;
  assert.match(id, ID_RE(tag), JSON.stringify(ev));
  assert.ok(!seen.has(id), `id ${id} given twice`);
  seen.add(id);
  assert.ok(Number.isInteger(time) && time >= t0 && time <= t1, `time ${time} in [${t0}, ${t1}]`);
  return rest;
}

function partnerKey(dir) {
  const r = h.cli(['partners', 'key', 'heap'], { dir });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const partnerPost = (srv, suffix, body) => h.request(srv, 'POST', `/partners/heap/cohorts${suffix}`, { body });

// Restarts srv (cleanly, or after a SIGKILL) and returns the new server.
async function restart(srv, dir, kill) {
  if (kill) await srv.kill9();
  else await srv.stop();
  return h.startServer({ dir, args: ARGS });
}

test('a partner cohort import writes a brasa.cohorts.Change per user added or removed, once', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let srv = await h.startServer({ dir, args: ARGS });
  t.after(() => srv.cleanup());
  const api = h.usersApi(srv);
  const anon = { alias_name: 'anon-1', alias_label: 'heap' };
  await api.trackOk({ attributes: [
    { external_id: 'c-1' }, { external_id: 'c-2' }, { external_id: 'c-3' },
    { user_alias: anon, _update_existing_only: false, push_tokens: [{ app_id: 'app', token: 'tok-1', device_id: 'dev-a' }] },
  ] });
  const bz = {};
  for (const x of ['c-1', 'c-2', 'c-3']) bz[x] = (await api.user(x)).braze_id;
  bz.anon = (await api.user({ user_aliases: [anon] })).braze_id;
  const secret = partnerKey(dir);
  const base = { partner_api_key: 'braze-issued', client_secret: secret, cohort_id: 'fans' };
  let res = await partnerPost(srv, '', { ...base, name: 'Fans "Ü"', created_at: '2024-01-01T00:00:00Z' });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(cohortEvents(dir), [], 'creating a cohort changes no membership');

  // Add: three users by external id, one by device id, one id of nobody.
  const t0 = nowS();
  res = await partnerPost(srv, '/users', { ...base, cohort_changes: [{ user_ids: ['c-1', 'c-2', 'ghost', 'c-3'] }, { device_ids: ['dev-a'] }] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { added: 4, removed: 0, unchanged: 0, unmatched: 1, message: 'success' });
  const seen = new Set();
  const common = { event_type: 'brasa.cohorts.Change', cohort_id: 'fans', cohort_name: 'Fans "Ü"', partner: 'heap' };
  const added = cohortEvents(dir).map((e) => strip(e, 'c', t0, nowS(), seen));
  assert.deepEqual(added, [
    { ...common, user_id: bz['c-1'], external_user_id: 'c-1', change: 'added' },
    { ...common, user_id: bz['c-2'], external_user_id: 'c-2', change: 'added' },
    { ...common, user_id: bz['c-3'], external_user_id: 'c-3', change: 'added' },
    { ...common, user_id: bz.anon, change: 'added' }, // no external id: none in the event
  ]);

  // The same call again changes nothing: no event.
  res = await partnerPost(srv, '/users', { ...base, cohort_changes: [{ user_ids: ['c-1', 'c-2', 'c-3'] }] });
  assert.deepEqual(res.json, { added: 0, removed: 0, unchanged: 3, unmatched: 0, message: 'success' });
  assert.equal(cohortEvents(dir).length, 4);

  // Remove two members and one user who is not in: two events.
  const t1 = nowS();
  res = await partnerPost(srv, '/users', { ...base, cohort_changes: [{ user_ids: ['c-2', 'c-3'], should_remove: true }, { device_ids: ['dev-zz'], should_remove: true }] });
  assert.deepEqual(res.json, { added: 0, removed: 2, unchanged: 0, unmatched: 1, message: 'success' });
  const all = cohortEvents(dir);
  assert.equal(all.length, 6);
  assert.deepEqual(all.slice(4).map((e) => strip(e, 'c', t1, nowS(), seen)), [
    { ...common, user_id: bz['c-2'], external_user_id: 'c-2', change: 'removed' },
    { ...common, user_id: bz['c-3'], external_user_id: 'c-3', change: 'removed' },
  ]);

  // Refused calls write nothing: an unknown cohort, a wrong secret, a bad
  // body, more ids than allowed, and a credentials check (no ids).
  const refused = [
    [{ ...base, cohort_id: 'nope', cohort_changes: [{ user_ids: ['c-1'] }] }, 400],
    [{ ...base, client_secret: 'not-the-key', cohort_changes: [{ user_ids: ['c-2'] }] }, 401],
    [{ ...base, cohort_changes: [{ user_ids: 'c-2' }] }, 400],
    [{ ...base, cohort_changes: [{ user_ids: Array.from({ length: 1001 }, (_, i) => `x-${i}`) }] }, 400],
  ];
  for (const [body, status] of refused) {
    res = await partnerPost(srv, '/users', body);
    assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 120)}: ${res.status} ${res.text}`);
  }
  res = await partnerPost(srv, '/users', { ...base, cohort_changes: [] });
  assert.equal(res.status, 201, res.text);
  assert.equal(cohortEvents(dir).length, 6);

  // A clean restart and a SIGKILL (the journal replayed): the same events.
  srv = await restart(srv, dir, false);
  assert.deepEqual(cohortEvents(dir), all);
  srv = await restart(srv, dir, true);
  assert.deepEqual(cohortEvents(dir), all);
  // A new change after the restarts: a new id.
  res = await partnerPost(srv, '/users', { ...base, cohort_changes: [{ user_ids: ['c-2'] }] });
  assert.deepEqual(res.json, { added: 1, removed: 0, unchanged: 0, unmatched: 0, message: 'success' });
  const after = cohortEvents(dir);
  assert.equal(after.length, 7);
  assert.deepEqual(strip(after[6], 'c', t1, nowS(), seen), { ...common, user_id: bz['c-2'], external_user_id: 'c-2', change: 'added' });
  await srv.stop();
});

test('/users/delete writes users.UserDeleteRequest; /users/merge and /users/identify write users.UserOrphan', async (t) => {
  const dir = h.makeDataDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let srv = await h.startServer({ dir, args: ARGS });
  t.after(() => srv.cleanup());
  const api = h.usersApi(srv);
  const anon = { alias_name: 'anon-2', alias_label: 'web' };
  await api.trackOk({ attributes: [
    { external_id: 'd-1' }, { external_id: 'd-2' }, { external_id: 'm-from', email: 'from@example.com' }, { external_id: 'm-keep' },
    { user_alias: anon, _update_existing_only: false, email: 'anon@example.com' },
  ] });
  const bz = {};
  for (const x of ['d-1', 'd-2', 'm-from', 'm-keep']) bz[x] = (await api.user(x)).braze_id;
  bz.anon = (await api.user({ user_aliases: [anon] })).braze_id;
  const seen = new Set();

  // Delete d-1 by external id and d-2 by braze_id; an unknown id deletes nobody.
  const t0 = nowS();
  await api.ok('/users/delete', { external_ids: ['d-1', 'ghost'], braze_ids: [bz['d-2']] });
  await api.none('d-1');
  const deleted = userEvents(dir).map((e) => strip(e, 'd', t0, nowS(), seen));
  assert.deepEqual(deleted, [
    { event_type: 'users.UserDeleteRequest', user_id: bz['d-1'] }, // Braze's schema has no external_user_id
    { event_type: 'users.UserDeleteRequest', user_id: bz['d-2'] },
  ]);
  // Deleting them again (they are gone) and a refused request: nothing.
  await api.ok('/users/delete', { external_ids: ['d-1'], braze_ids: [bz['d-2']] });
  h.assertError(await api.post('/users/delete', { external_ids: 'd-1' }), 400, /./);
  assert.equal(userEvents(dir).length, 2);

  // Merge m-from into m-keep; the second pair names nobody, the third one
  // user twice: one event.
  const t1 = nowS();
  const pair = (a, b) => ({ identifier_to_merge: { external_id: a }, identifier_to_keep: { external_id: b } });
  let res = await api.post('/users/merge', { merge_updates: [pair('m-from', 'm-keep'), pair('ghost', 'm-keep'), pair('m-keep', 'm-keep')] });
  assert.equal(res.status, 202, res.text);
  await api.none('m-from');
  let events = userEvents(dir);
  assert.equal(events.length, 3);
  assert.deepEqual(strip(events[2], 'o', t1, nowS(), seen), {
    event_type: 'users.UserOrphan', user_id: bz['m-from'], external_user_id: 'm-from', orphaned_by_id: bz['m-keep'],
  });

  // Identify: the anonymous user is merged into m-keep (it had no external id).
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'm-keep', user_alias: anon }] });
  events = userEvents(dir);
  assert.equal(events.length, 4);
  assert.deepEqual(strip(events[3], 'o', t1, nowS(), seen), { event_type: 'users.UserOrphan', user_id: bz.anon, orphaned_by_id: bz['m-keep'] });
  // Identifying with an external id nobody has merges nothing.
  await api.trackOk({ attributes: [{ user_alias: { alias_name: 'anon-3', alias_label: 'web' }, _update_existing_only: false }] });
  await api.ok('/users/identify', { aliases_to_identify: [{ external_id: 'brand-new', user_alias: { alias_name: 'anon-3', alias_label: 'web' } }] });
  assert.equal(userEvents(dir).length, 4);

  // A clean restart and a SIGKILL: the same events, none added.
  srv = await restart(srv, dir, false);
  assert.deepEqual(userEvents(dir), events);
  srv = await restart(srv, dir, true);
  assert.deepEqual(userEvents(dir), events);
  await srv.stop();
});

test('a Custom HTTP connector selecting the lifecycle types receives them, in Braze\'s event shape', async (t) => {
  const rx = await webhookReceiver();
  t.after(() => rx.close());
  const srv = await h.startServer({ args: ARGS });
  t.after(() => srv.cleanup());
  const api = h.usersApi(srv);
  const res = await h.request(srv, 'POST', '/admin/currents', { key: srv.key, body: {
    name: 'lifecycle', type: 'custom_http', url: rx.url('/currents'), start: 'earliest',
    event_types: ['brasa.cohorts.Change', 'users.UserDeleteRequest', 'users.UserOrphan'],
  } });
  assert.equal(res.status, 201, res.text);
  await api.trackOk({ attributes: [{ external_id: 'x-1' }, { external_id: 'x-2' }, { external_id: 'x-3' }], events: [{ external_id: 'x-1', name: 'not-selected', time: new Date().toISOString() }] });
  const bz = {};
  for (const x of ['x-1', 'x-2', 'x-3']) bz[x] = (await api.user(x)).braze_id;
  const secret = partnerKey(srv.dir);
  const base = { partner_api_key: 'p', client_secret: secret, cohort_id: 'vip' };
  assert.equal((await partnerPost(srv, '', { ...base, name: 'VIP', created_at: '2024-01-01T00:00:00Z' })).status, 201);
  assert.equal((await partnerPost(srv, '/users', { ...base, cohort_changes: [{ user_ids: ['x-1', 'x-2'] }] })).status, 201);
  await api.ok('/users/delete', { external_ids: ['x-1'] });
  assert.equal((await api.post('/users/merge', { merge_updates: [{ identifier_to_merge: { external_id: 'x-2' }, identifier_to_keep: { external_id: 'x-3' } }] })).status, 202);

  // Every event of the outbox, and only the selected types, at least once.
  const want = [...cohortEvents(srv.dir), ...userEvents(srv.dir)];
  assert.equal(want.length, 4);
  const got = new Map();
  await h.poll(async () => {
    for (const r of rx.got) for (const e of JSON.parse(r.body).events) got.set(e.id, e);
    return got.size >= 4;
  }, { deadlineMs: 30000, intervalMs: 100 });
  assert.deepEqual([...got.values()].map((e) => e.event_type).sort(),
    ['brasa.cohorts.Change', 'brasa.cohorts.Change', 'users.UserDeleteRequest', 'users.UserOrphan']);
  for (const r of rx.got) assert.equal(r.headers['braze-currents-version'], '1');
  const byId = Object.fromEntries(want.map((e) => [e.id, e]));
  for (const e of got.values()) {
    const f = byId[e.id];
    assert.ok(f, `an event of the outbox: ${JSON.stringify(e)}`);
    const user = { user_id: f.user_id, ...(f.external_user_id ? { external_user_id: f.external_user_id } : {}) };
    const { id, event_type: type, user_id: u, external_user_id: x, time, ...props } = f;
    assert.deepEqual(e, { event_type: type, id, time, user, properties: props });
  }
  const orphan = [...got.values()].find((e) => e.event_type === 'users.UserOrphan');
  assert.deepEqual(orphan.properties, { orphaned_by_id: bz['x-3'] });
  assert.deepEqual(orphan.user, { user_id: bz['x-2'], external_user_id: 'x-2' });
  await srv.stop();
});
