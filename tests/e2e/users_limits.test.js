// users_limits.test.js -- the per-user limits of /users/track (docs/api.md,
// "Per-user limits"): an object that would take a user past one is refused
// whole with an errors entry, decided by the engine against the stored
// profile; nothing of it is applied, nothing is cut short. Also Braze's
// 25-element rule for arrays of scalars, which drops the oldest on purpose.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const h = require('./harness.js');

const ARGS = ['--rate-limit', 'users.export.ids=100000/60s'];
let srv;
let api;
let key;
before(async () => {
  srv = await h.startServer({ args: ARGS, keepDir: true });
  key = srv.key;
  api = h.usersApi(srv);
});
after(async () => {
  if (srv) await srv.stop();
  if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
});

const tokens = (p, from, n) => Array.from({ length: n }, (_, i) => ({ app_id: 'app', token: `${p}-${from + i}`, device_id: `${p}-d${from + i}` }));
const TOKENS = 'the user would have more than 100 push tokens (the limit per user)';

test('push tokens: 100 per user; the object that would pass it is refused whole, in the errors, the others apply', async () => {
  await api.trackOk({ attributes: [{ external_id: 'lim-tok', push_tokens: tokens('lt', 0, 70) }] }, { attributes_processed: 1, message: 'success' });
  const res = await api.track({
    attributes: [
      { external_id: 'lim-tok', x: 1, push_tokens: tokens('lt', 70, 31) }, // 101
      { external_id: 'lim-other', y: 1 },
      { external_id: 'lim-tok', bad_email_object: true, email: 'nope' }, // a parser error, for the order
    ],
    events: [{ external_id: 'lim-tok', name: 'still_counted', time: '2021-01-01T00:00:00Z' }],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    attributes_processed: 1,
    events_processed: 1,
    message: 'success',
    errors: [
      { type: TOKENS, input_array: 'attributes', index: 0 },
      { type: "The value provided for the 'email' field is not a valid email.", input_array: 'attributes', index: 2 },
    ],
  });
  const u = await api.user('lim-tok', ['custom_attributes', 'push_tokens', 'devices', 'custom_events']);
  assert.equal(u.push_tokens.length, 70);
  assert.equal(u.devices.length, 70);
  assert.deepEqual(u.custom_attributes, {}, 'nothing of the refused object');
  assert.equal(u.custom_events[0].count, 1);
  assert.ok(await api.user('lim-other', ['external_id']));
  // Up to 100 is fine.
  await api.trackOk({ attributes: [{ external_id: 'lim-tok', push_tokens: tokens('lt', 70, 30) }] }, { attributes_processed: 1, message: 'success' });
  assert.equal((await api.user('lim-tok', ['push_tokens'])).push_tokens.length, 100);
  // When every object is refused: Braze's fatal 400, with the errors.
  const none = await api.track({ attributes: [{ external_id: 'lim-tok', push_tokens: tokens('lt', 100, 1) }] });
  assert.equal(none.status, 400, none.text);
  assert.deepEqual(none.json, {
    attributes_processed: 0,
    message: "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.",
    errors: [{ type: TOKENS, input_array: 'attributes', index: 0 }],
  });
  // A new device for a token it has is a 101st device.
  const dev = await api.track({ attributes: [{ external_id: 'lim-tok', push_tokens: [{ app_id: 'app', token: 'lt-0', device_id: 'lt-elsewhere' }] }] });
  assert.equal(dev.status, 400, dev.text);
  assert.deepEqual(dev.json.errors, [{ type: 'the user would have more than 100 devices (the limit per user)', input_array: 'attributes', index: 0 }]);
  // Nothing was cut: all 100 are there, in order, after a crash and restart too.
  await srv.kill9();
  srv = await h.startServer({ dir: srv.dir, args: ARGS });
  api = h.usersApi(srv, key);
  const after100 = (await api.user('lim-tok', ['push_tokens'])).push_tokens;
  assert.deepEqual(after100.map((t) => t.token), Array.from({ length: 100 }, (_, i) => `lt-${i}`));
});

test('arrays of objects: 100 KB; an update past it is refused and reported (Braze drops it silently)', async () => {
  const pad = 'p'.repeat(250); // nested strings are at most 255 characters
  const items = (from, n) => Array.from({ length: n }, (_, i) => ({ id: from + i, pad }));
  await api.trackOk({ attributes: [{ external_id: 'lim-obj', pets: items(0, 250) }] }, { attributes_processed: 1, message: 'success' });
  const res = await api.track({ attributes: [{ external_id: 'lim-obj', n: 1, pets: { $add: items(250, 150) } }] });
  assert.equal(res.status, 400, res.text);
  assert.deepEqual(res.json.errors, [{ type: "'pets' would be larger than 100 KB", input_array: 'attributes', index: 0 }]);
  let ca = (await api.user('lim-obj', ['custom_attributes'])).custom_attributes;
  assert.equal(ca.pets.length, 250);
  assert.equal(ca.n, undefined);
  // Braze's order within one attribute: $add, then $remove, then $update.
  await api.trackOk({
    attributes: [{
      external_id: 'lim-obj',
      _merge_objects: true,
      pets: {
        $add: [{ id: 900, pad: 'a' }, { id: 901, pad: 'b' }],
        $remove: [{ $identifier_key: 'id', $identifier_value: 900 }, { $identifier_key: 'id', $identifier_value: 0 }],
        $update: [{ $identifier_key: 'id', $identifier_value: 901, $new_object: { pad: 'c' } }],
      },
    }],
  }, { attributes_processed: 1, message: 'success' });
  ca = (await api.user('lim-obj', ['custom_attributes'])).custom_attributes;
  assert.equal(ca.pets.length, 250);
  assert.deepEqual(ca.pets.at(-1), { id: 901, pad: 'c' });
  assert.ok(!ca.pets.some((p) => p.id === 0 || p.id === 900));
});

test('arrays of scalars keep their newest 25 elements, as Braze documents (a rule, not a truncation)', async () => {
  const thirty = Array.from({ length: 30 }, (_, i) => `s${i}`);
  await api.trackOk({ attributes: [{ external_id: 'lim-arr', list: thirty }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('lim-arr', ['custom_attributes'])).custom_attributes.list, thirty.slice(5));
  await api.trackOk({ attributes: [{ external_id: 'lim-arr', list: { add: ['n1'] } }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user('lim-arr', ['custom_attributes'])).custom_attributes.list, [...thirty.slice(6), 'n1']);
});
