// keys.test.js -- POST /admin/keys: what a created key looks like, and every
// way a create request can be refused.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const srv = h.fileServer();

const post = (body, opts = {}) => h.request(srv, 'POST', '/admin/keys', { key: srv.key, body, ...opts });

async function listIds() {
  const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  return res.json.keys.map((k) => k.id).sort((a, b) => a - b);
}

test('create: 201 with the key shown once, in UUID v4 form', async () => {
  const t0 = Date.now();
  const res = await post({ name: 'partner-a', permissions: ['users.track', 'brasa.keys'], allow_ips: ['10.1.2.3', '192.168.0.0/16'] });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.json.message, 'success');
  const k = res.json.key;
  assert.deepEqual(Object.keys(k).sort(), ['allow_ips', 'created_at', 'id', 'key', 'last_used_at', 'name', 'permissions', 'revoked_at']);
  assert.ok(Number.isInteger(k.id) && k.id > 1, JSON.stringify(k));
  assert.equal(k.name, 'partner-a');
  assert.match(k.key, h.UUID4_RE);
  assert.deepEqual([...k.permissions].sort(), ['brasa.keys', 'users.track']);
  assert.deepEqual(k.allow_ips, ['10.1.2.3', '192.168.0.0/16']);
  const created = Date.parse(k.created_at);
  assert.ok(!Number.isNaN(created), k.created_at);
  assert.ok(created >= t0 - 5000 && created <= Date.now() + 5000, `created_at ${k.created_at} is not now`);
  assert.equal(k.last_used_at, null);
  assert.equal(k.revoked_at, null);

  // It works, and the list shows it without its text.
  const list = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
  const row = list.json.keys.find((r) => r.id === k.id);
  assert.ok(row, list.text);
  assert.equal(row.name, 'partner-a');
  assert.ok(!list.text.includes(k.key));
});

test('create: keys are distinct, ids increase', async () => {
  const a = (await post({ name: 'a', permissions: ['users.track'] })).json.key;
  const b = (await post({ name: 'a', permissions: ['users.track'] })).json.key;
  assert.notEqual(a.key, b.key);
  assert.ok(b.id > a.id);
});

test('create: permissions as a comma-separated string', async () => {
  const res = await post({ name: 'csv', permissions: 'users.track,users.export.ids' });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual([...res.json.key.permissions].sort(), ['users.export.ids', 'users.track']);
});

test('create: "all" grants every Braze permission but not brasa.keys, which must be named', async () => {
  const res = await post({ name: 'all', permissions: ['all'] });
  assert.equal(res.status, 201, res.text);
  assert.ok(!res.json.key.permissions.includes('brasa.keys'), res.text);
  assert.ok(res.json.key.permissions.includes('users.track'));
  assert.ok(res.json.key.permissions.length > 10);
  // A partner key made with "all" cannot mint keys or read them.
  let use = await h.request(srv, 'POST', '/admin/keys', { key: res.json.key.key, body: { name: 'minted', permissions: ['all'] } });
  h.assertError(use, 403, "Access Denied: this API key does not have the 'brasa.keys' permission");
  use = await h.request(srv, 'GET', '/admin/keys', { key: res.json.key.key });
  assert.equal(use.status, 403, use.text);
  const admin = await post({ name: 'all-admin', permissions: ['all', 'brasa.keys'] });
  assert.equal(admin.status, 201, admin.text);
  assert.ok(admin.json.key.permissions.includes('brasa.keys'));
  use = await h.request(srv, 'GET', '/admin/keys', { key: admin.json.key.key });
  assert.equal(use.status, 200, use.text);
});

test('create: a 255-character name and a non-ASCII name are accepted', async () => {
  let res = await post({ name: 'n'.repeat(255), permissions: ['users.track'] });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.key.name, 'n'.repeat(255));
  res = await post({ name: 'clé été ✓', permissions: ['users.track'] });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.key.name, 'clé été ✓');
});

test('create: IPv6 allowlist entries are accepted', async () => {
  const res = await post({ name: 'v6', permissions: ['users.track'], allow_ips: ['::1', '2001:db8::/32'] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json.key.allow_ips, ['::1', '2001:db8::/32']);
});

const BAD = [
  ['body is an array', [], /^Bad Request: .*JSON object/],
  ['body is a string', 'name', /^Bad Request: .*JSON object/],
  ['body is a number', 42, /^Bad Request: .*JSON object/],
  ['body is null', null, /^Bad Request: .*JSON object/],
  ['name missing', { permissions: ['users.track'] }, /^Bad Request: .*'name'/],
  ['name a number', { name: 7, permissions: ['users.track'] }, /^Bad Request: .*'name'/],
  ['name null', { name: null, permissions: ['users.track'] }, /^Bad Request: .*'name'/],
  ['name empty', { name: '', permissions: ['users.track'] }, /^Bad Request: name must be 1 to 255 characters/],
  ['name 256 chars', { name: 'n'.repeat(256), permissions: ['users.track'] }, /^Bad Request: name must be 1 to 255 characters/],
  ['name with a newline', { name: 'a\nb', permissions: ['users.track'] }, /^Bad Request: .*control characters/],
  ['permissions a number', { name: 'x', permissions: 3 }, /^Bad Request: 'permissions' must be an array of strings/],
  ['permissions an object', { name: 'x', permissions: { a: 1 } }, /^Bad Request: 'permissions' must be an array of strings/],
  ['permissions with a number', { name: 'x', permissions: ['users.track', 1] }, /^Bad Request: 'permissions' must be an array of strings/],
  ['unknown permission', { name: 'x', permissions: ['users.track', 'no.such.perm'] }, /^Bad Request: .*no\.such\.perm/],
  ['unknown permission in a string', { name: 'x', permissions: 'users.track,bogus' }, /^Bad Request: .*bogus/],
  ['permissions missing', { name: 'x' }, /^Bad Request: at least one permission is required/],
  ['permissions empty', { name: 'x', permissions: [] }, /^Bad Request: at least one permission is required/],
  ['permissions empty string', { name: 'x', permissions: '' }, /^Bad Request: at least one permission is required/],
  ['allow_ips a number', { name: 'x', permissions: ['users.track'], allow_ips: 10 }, /^Bad Request: 'allow_ips' must be an array of strings/],
  ['allow_ips with an object', { name: 'x', permissions: ['users.track'], allow_ips: [{}] }, /^Bad Request: 'allow_ips' must be an array of strings/],
  ['allow_ips prefix /33', { name: 'x', permissions: ['users.track'], allow_ips: ['10.0.0.0/33'] }, /^Bad Request: invalid IP address or CIDR range.*10\.0\.0\.0\/33/],
  ['allow_ips nonsense', { name: 'x', permissions: ['users.track'], allow_ips: ['nonsense'] }, /^Bad Request: invalid IP address or CIDR range.*nonsense/],
  ['allow_ips one good one bad', { name: 'x', permissions: ['users.track'], allow_ips: ['10.0.0.1', '300.1.1.1'] }, /^Bad Request: invalid IP address or CIDR range/],
  ['allow_ips IPv6 prefix /129', { name: 'x', permissions: ['users.track'], allow_ips: ['::1/129'] }, /^Bad Request: invalid IP address or CIDR range/],
  ['allow_ips empty prefix', { name: 'x', permissions: ['users.track'], allow_ips: ['10.0.0.0/'] }, /^Bad Request: invalid IP address or CIDR range/],
  ['allow_ips negative prefix', { name: 'x', permissions: ['users.track'], allow_ips: ['10.0.0.0/-1'] }, /^Bad Request: invalid IP address or CIDR range/],
];

for (const [what, body, msg] of BAD) {
  test(`create refused with 400: ${what}`, async () => {
    const res = await post(body);
    h.assertError(res, 400, msg);
  });
}

test('refused creates leave no key behind', async () => {
  const beforeIds = await listIds();
  for (const [, body] of BAD) await post(body);
  assert.deepEqual(await listIds(), beforeIds);
});

test('an empty allowlist entry is refused, not read as "any address"', async () => {
  // [""] or [" "] must not silently create a key that works from everywhere.
  for (const allow of [[''], [' ']]) {
    const res = await post({ name: 'x', permissions: ['brasa.keys'], allow_ips: allow });
    h.assertError(res, 400, /^Bad Request: 'allow_ips' item 0 must be a non-empty string without commas or spaces$/);
  }
});

test('GET /admin/keys/permissions: every name of perm.h, admin ones marked; brasa.keys only', async () => {
  const res = await h.request(srv, 'GET', '/admin/keys/permissions', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success');
  const names = res.json.permissions.map((p) => p.name);
  assert.equal(names[0], 'users.track');
  assert.ok(names.includes('messages.schedule.create') && names.includes('sso.saml.login'), res.text);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(res.json.permissions.filter((p) => p.admin).map((p) => p.name), ['brasa.keys', 'brasa.metrics', 'brasa.marketing']);
  // Each one is a name a key can be made with.
  const k = await h.createKey(srv, srv.key, { name: 'every', permissions: names });
  assert.deepEqual([...k.permissions].sort(), [...names].sort());
  h.assertError(await h.request(srv, 'GET', '/admin/keys/permissions'), 401, 'Invalid API key: ');
  const track = await h.createKey(srv, srv.key, { name: 'track-only', permissions: ['users.track', 'brasa.marketing'] });
  h.assertError(await h.request(srv, 'GET', '/admin/keys/permissions', { key: track.key }), 403, /^Access Denied.*brasa\.keys/);
});
