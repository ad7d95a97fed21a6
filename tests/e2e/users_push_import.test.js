// users_push_import.test.js -- /users/track attributes objects with
// push_token_import: true (Braze's anonymous push token migration): one
// anonymous user per device, found again by its device, a retried import
// changing nothing, and every refused shape as a per-object error.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let api;
before(async () => {
  srv = await h.startServer({ args: ['--rate-limit', 'users.export.ids=100000/60s'] });
  api = h.usersApi(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const FIELDS = ['external_id', 'email', 'country', 'custom_attributes', 'devices', 'push_tokens'];

test('tokens without an external_id make anonymous users, one per device, with the object\'s attributes', async () => {
  const body = {
    attributes: [
      {
        push_token_import: true,
        email: 'pti-1@example.com',
        country: 'US',
        tier: 'gold',
        push_tokens: [
          { app_id: 'ios-app', token: 'pti-t1', device_id: 'pti-dev-1' },
          { app_id: 'ios-app', token: 'pti-t2', device_id: 'pti-dev-2' },
          { app_id: 'ios-app', token: 'pti-t3', device_id: 'pti-dev-2' },
        ],
      },
    ],
  };
  await api.trackOk(body, { attributes_processed: 1, message: 'success' });
  const one = await api.user({ device_id: 'pti-dev-1' }, FIELDS);
  assert.deepEqual(one, {
    email: 'pti-1@example.com',
    country: 'US',
    custom_attributes: { tier: 'gold' },
    devices: [{ device_id: 'pti-dev-1' }],
    push_tokens: [{ app: 'ios-app', token: 'pti-t1', device_id: 'pti-dev-1' }],
  });
  const two = await api.user({ device_id: 'pti-dev-2' }, [...FIELDS, 'braze_id']);
  assert.deepEqual(two.push_tokens, [
    { app: 'ios-app', token: 'pti-t2', device_id: 'pti-dev-2' },
    { app: 'ios-app', token: 'pti-t3', device_id: 'pti-dev-2' },
  ]);
  // Both users have the email (it is an attribute here, not an identifier).
  const byEmail = await api.ok('/users/export/ids', { email_address: 'pti-1@example.com', fields_to_export: ['braze_id'] });
  assert.equal(byEmail.users.length, 2);

  // A retry changes nothing: Braze ignores tokens it already has.
  await api.trackOk(body, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user({ device_id: 'pti-dev-2' }, [...FIELDS, 'braze_id']), two);
  assert.equal((await api.ok('/users/export/ids', { email_address: 'pti-1@example.com', fields_to_export: ['braze_id'] })).users.length, 2);

  // A new token for a known device joins that device's user.
  await api.trackOk({ attributes: [{ push_token_import: true, push_tokens: [{ app_id: 'android-app', token: 'pti-t4', device_id: 'pti-dev-1' }] }] });
  assert.deepEqual((await api.user({ device_id: 'pti-dev-1' }, ['push_tokens'])).push_tokens, [
    { app: 'ios-app', token: 'pti-t1', device_id: 'pti-dev-1' },
    { app: 'android-app', token: 'pti-t4', device_id: 'pti-dev-1' },
  ]);
});

// The device brasa gives a token imported without one: "token-" and the
// FNV-1a hash of app_id, NUL, token, NUL (core/track.c).
function derivedDevice(app, token) {
  let x = 0xcbf29ce484222325n;
  for (const b of Buffer.concat([Buffer.from(app), Buffer.of(0), Buffer.from(token), Buffer.of(0)])) x = ((x ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return `token-${x.toString(16).padStart(16, '0')}`;
}

test('a token without device_id gets a device derived from it, so a retry finds its user', async () => {
  const body = { attributes: [{ push_token_import: true, n: { inc: 1 }, push_tokens: [{ app_id: 'web', token: 'pti-nodev' }] }] };
  await api.trackOk(body, { attributes_processed: 1, message: 'success' });
  await api.trackOk(body, { attributes_processed: 1, message: 'success' });
  const dev = derivedDevice('web', 'pti-nodev');
  assert.deepEqual(await api.user({ device_id: dev }, ['external_id', 'custom_attributes', 'devices', 'push_tokens']), {
    custom_attributes: { n: 1 }, // the retry was ignored: no second increment, no second user
    devices: [{ device_id: dev }],
    push_tokens: [{ app: 'web', token: 'pti-nodev', device_id: dev }],
  });
  // Another app's same token string is another token, and another device.
  await api.trackOk({ attributes: [{ push_token_import: true, push_tokens: [{ app_id: 'web2', token: 'pti-nodev' }] }] });
  assert.notEqual(derivedDevice('web2', 'pti-nodev'), dev);
  assert.ok(await api.user({ device_id: derivedDevice('web2', 'pti-nodev') }, ['braze_id']));
});

test('update-only imports add tokens to known devices and create nobody', async () => {
  await api.trackOk({ attributes: [{ push_token_import: true, push_tokens: [{ app_id: 'a', token: 'pti-u1', device_id: 'pti-upd' }] }] });
  await api.trackOk({
    attributes: [
      {
        push_token_import: true,
        _update_existing_only: true,
        push_tokens: [
          { app_id: 'a', token: 'pti-u2', device_id: 'pti-upd' },
          { app_id: 'a', token: 'pti-u3', device_id: 'pti-upd-new' },
        ],
      },
    ],
  }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual((await api.user({ device_id: 'pti-upd' }, ['push_tokens'])).push_tokens.map((t) => t.token), ['pti-u1', 'pti-u2']);
  await api.none({ device_id: 'pti-upd-new' });
});

test('refused shapes: per-object errors, the rest of the request applies', async () => {
  const tok = [{ app_id: 'a', token: 'pti-bad' }];
  const bad = [
    [{ push_token_import: true, external_id: 'x', push_tokens: tok }, "a 'push_token_import' object must not have 'external_id' or 'braze_id': its tokens go to anonymous users"],
    [{ push_token_import: true, braze_id: '0123456789abcdef01234567', push_tokens: tok }, "a 'push_token_import' object must not have 'external_id' or 'braze_id': its tokens go to anonymous users"],
    [{ push_token_import: true, user_alias: { alias_name: 'n', alias_label: 'l' }, push_tokens: tok }, "a 'push_token_import' object must not have 'user_alias': each of its tokens gets an anonymous user of its own"],
    [{ push_token_import: true, first_name: 'x' }, "a 'push_token_import' object needs 'push_tokens'"],
    [{ push_token_import: true, push_tokens: [] }, "'push_tokens' must not be empty in a 'push_token_import' object"],
    [{ push_token_import: true, push_tokens: 'x' }, "'push_tokens' must be an array"],
    [{ push_token_import: true, push_tokens: [{ app_id: 'a', token: '' }] }, "'push_tokens' items need string 'app_id' and a non-empty string 'token'"],
    [{ push_token_import: true, push_tokens: [{ app_id: 'a', token: 't', device_id: 'd'.repeat(256) }] }, "'push_tokens' item 0: 'device_id' must be a string of 1-255 bytes"],
    [{ push_token_import: 1, external_id: 'x' }, "'push_token_import' must be a boolean"],
    [{ push_token_import: true, email: 'not-an-email', push_tokens: tok }, "The value provided for the 'email' field is not a valid email."],
    [{ push_token_import: true, push_tokens: Array.from({ length: 101 }, (_, i) => ({ app_id: 'a', token: `pti-many-${i}` })) }, "'push_tokens' has 101 tokens; a user holds at most 100"],
  ];
  const res = await api.track({ attributes: [...bad.map(([o]) => o), { push_token_import: false, external_id: 'pti-ok', push_tokens: tok }] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    attributes_processed: 1,
    message: 'success',
    errors: bad.map(([, type], index) => ({ type, input_array: 'attributes', index })),
  });
  assert.deepEqual((await api.user('pti-ok', ['push_tokens'])).push_tokens, [{ app: 'a', token: 'pti-bad' }]);
  await api.none({ device_id: 'd'.repeat(255) });
  // Nothing valid at all: Braze's fatal 400 with the errors.
  const none = await api.track({ attributes: [bad[0][0]] });
  assert.equal(none.status, 400, none.text);
  assert.deepEqual(none.json, {
    attributes_processed: 0,
    message: "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.",
    errors: [{ type: bad[0][1], input_array: 'attributes', index: 0 }],
  });
});

test('the users an import creates are held to the 100 KB object limit too', async () => {
  const pets = { $add: Array.from({ length: 2000 }, () => ({ i: 1 })), $update: [{ $identifier_key: 'i', $identifier_value: 1, $new_object: { p: 'p'.repeat(250) } }] };
  const res = await api.track({
    attributes: [
      { push_token_import: true, _merge_objects: true, push_tokens: [{ app_id: 'a', token: 'pti-big', device_id: 'pti-big-d' }], pets },
      { external_id: 'pti-big-ok', a: 1 },
    ],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    attributes_processed: 1,
    message: 'success',
    errors: [{ type: "'pets' would be larger than 100 KB", input_array: 'attributes', index: 0 }],
  });
  await api.none({ device_id: 'pti-big-d' });
});
