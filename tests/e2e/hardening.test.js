// hardening.test.js -- fixes from a review of the profile engine: each test
// fails on the code before its fix.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const ARGS = ['--rate-limit', 'users.export.ids=100000/60s'];

test('a device id shared by anonymous users resolves to the same user after a restart', async () => {
  const dir = h.makeDataDir(); // shared by both servers (an owned dir goes with its server)
  let srv = await h.startServer({ args: ARGS, dir });
  let api = h.usersApi(srv);
  const alias = (n) => ({ alias_name: n, alias_label: 'web' });
  await api.trackOk({ attributes: [
    { user_alias: alias('a'), _update_existing_only: false },
    { user_alias: alias('b'), _update_existing_only: false },
  ] });
  // b gets the device first, then a (a is then the most recently updated).
  await api.trackOk({ attributes: [{ user_alias: alias('b'), push_tokens: [{ app_id: 'app', token: 't1', device_id: 'DEV1' }] }] });
  await new Promise((r) => setTimeout(r, 1100)); // "updated" has one-second resolution
  await api.trackOk({ attributes: [{ user_alias: alias('a'), push_tokens: [{ app_id: 'app', token: 't2', device_id: 'DEV1' }] }] });
  const before = await api.user({ device_id: 'DEV1' }, ['user_aliases']);
  assert.deepEqual(before.user_aliases, [alias('a')]);
  const key = srv.key; // printed on the first start only
  await srv.stop();
  srv = await h.startServer({ args: ARGS, dir });
  api = h.usersApi(srv, key);
  const after = await api.user({ device_id: 'DEV1' }, ['user_aliases']);
  assert.deepEqual(after.user_aliases, before.user_aliases);
  await srv.stop();
  require('node:fs').rmSync(dir, { recursive: true, force: true });
});

test('deeply nested arrays of objects read back and keep their items on $add', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  let deep = { id: 1 };
  for (let i = 0; i < 30; i++) deep = { n: deep };
  deep.id = 1;
  await api.trackOk({ attributes: [{ external_id: 'deep', objs: [deep] }] });
  let u = await api.user('deep', ['custom_attributes']);
  assert.deepEqual(u.custom_attributes.objs, [deep]);
  await api.trackOk({ attributes: [{ external_id: 'deep', objs: { $add: [{ id: 2 }] } }] });
  u = await api.user('deep', ['custom_attributes']);
  assert.deepEqual(u.custom_attributes.objs, [deep, { id: 2 }]);
  await srv.stop();
});

test('"identified" prioritization deletes the identified user, not a newer unidentified one', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  await api.trackOk({ attributes: [{ external_id: 'idA', email: 'p@x.com' }] });
  await api.trackOk({ attributes: [{ user_alias: { alias_name: 'n', alias_label: 'l' }, _update_existing_only: false, email: 'p@x.com' }] });
  await api.ok('/users/delete', { email_addresses: [{ email: 'p@x.com', prioritization: ['identified', 'most_recently_updated'] }] },
    { deleted: 1, message: 'success' });
  await api.none('idA');
  const alive = await api.user({ user_aliases: [{ alias_name: 'n', alias_label: 'l' }] }, ['email']);
  assert.equal(alive.email, 'p@x.com');
  await srv.stop();
});

test('an increment past the 64-bit range saturates instead of overflowing', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  // JSON numbers beyond 2^53 need the raw body: send it as text.
  const res = await h.request(srv, 'POST', '/users/track', { key: srv.key, raw: '{"attributes":[{"external_id":"big","n":9223372036854775807}]}', headers: { 'Content-Type': 'application/json' } });
  assert.equal(res.status, 201, res.text);
  await api.trackOk({ attributes: [{ external_id: 'big', n: { inc: 5 } }] });
  const raw = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['big'], fields_to_export: ['custom_attributes'] } });
  assert.match(raw.text, /"n":9223372036854775807\b/);
  await srv.stop();
});

test('identity endpoints refuse an empty or oversize external_id like /users/track', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  const alias = { alias_name: 'z', alias_label: 'l' };
  for (const external_id of ['', 'x'.repeat(988)]) {
    const res = await api.post('/users/identify', { aliases_to_identify: [{ external_id, user_alias: alias }] });
    h.assertError(res, 400, "Bad Request: 'aliases_to_identify' item 0 must be objects with an 'external_id' and a 'user_alias' object");
  }
  await srv.stop();
});

test('SIGTERM while keep-alive clients keep sending: a clean exit, later requests get 503 or a closed connection', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  let stop = false;
  const statuses = new Set();
  const worker = async (w) => {
    for (let i = 0; !stop && i < 2000; i++) {
      try {
        const r = await api.track({ attributes: [{ external_id: `ka-${w}-${i}`, v: i }] });
        statuses.add(r.status);
      } catch { return; } // the server closed the connection
    }
  };
  const workers = Array.from({ length: 8 }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, 300));
  await srv.stop(); // asserts exit code 0 and no sanitizer report
  stop = true;
  await Promise.all(workers);
  for (const s of statuses) assert.ok(s === 201 || s === 503, `status ${s}`);
});

test('email_subscribe set through /users/track reaches the other users with that email', async () => {
  const srv = await h.startServer({ args: ARGS });
  const api = h.usersApi(srv);
  await api.trackOk({ attributes: [{ external_id: 'sub-1', email: 'Same@x.com' }] });
  await api.trackOk({ attributes: [{ user_alias: { alias_name: 'dup', alias_label: 'l' }, _update_existing_only: false, email: 'same@x.com' }] });
  await api.trackOk({ attributes: [{ external_id: 'other', email: 'other@x.com' }] });
  await api.trackOk({ attributes: [{ external_id: 'sub-1', email_subscribe: 'unsubscribed' }] });
  const dup = await api.user({ user_aliases: [{ alias_name: 'dup', alias_label: 'l' }] }, ['email_subscribe']);
  assert.equal(dup.email_subscribe, 'unsubscribed');
  assert.equal((await api.user('other', ['email_subscribe'])).email_subscribe, 'subscribed');
  await srv.stop();
});
