// auth.test.js -- API keys on requests: where they are read from, what a
// refusal says, permissions, IP allowlists and revocation.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const srv = h.fileServer();

const KEY_FIELDS = ['id', 'name', 'permissions', 'allow_ips', 'created_at', 'last_used_at', 'revoked_at'];

function assertKeyRow(k) {
  assert.deepEqual(Object.keys(k).sort(), [...KEY_FIELDS].sort(), JSON.stringify(k));
  assert.ok(Number.isInteger(k.id) && k.id > 0);
  assert.equal(typeof k.name, 'string');
  assert.ok(Array.isArray(k.permissions) && k.permissions.every((p) => typeof p === 'string'));
  assert.ok(Array.isArray(k.allow_ips) && k.allow_ips.every((p) => typeof p === 'string'));
  assert.ok(!Number.isNaN(Date.parse(k.created_at)), k.created_at);
  for (const f of ['last_used_at', 'revoked_at']) assert.ok(k[f] === null || !Number.isNaN(Date.parse(k[f])), `${f}: ${k[f]}`);
  const s = JSON.stringify(k);
  assert.ok(!/"(key|hash|secret)"/.test(s), `a listed key must not carry its text or hash: ${s}`);
}

test('Bearer key: GET /admin/keys lists keys without their text', async () => {
  const res = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  assert.equal(res.json.message, 'success');
  assert.ok(Array.isArray(res.json.keys) && res.json.keys.length >= 1);
  for (const k of res.json.keys) assertKeyRow(k);
  const boot = res.json.keys.find((k) => k.name === 'bootstrap');
  assert.ok(boot, res.text);
  assert.ok(boot.permissions.includes('brasa.keys'));
  assert.ok(boot.permissions.includes('users.track'));
  assert.deepEqual(boot.allow_ips, []);
  assert.equal(boot.revoked_at, null);
  assert.ok(!res.text.includes(srv.key), 'the key text never appears in a list');
});

test('"Bearer" is case-insensitive and surrounding spaces are ignored', async () => {
  for (const v of [`bearer ${srv.key}`, `BEARER ${srv.key}`, `Bearer   ${srv.key}  `]) {
    const res = await h.request(srv, 'GET', '/admin/keys', { headers: { authorization: v } });
    assert.equal(res.status, 200, `${JSON.stringify(v)}: ${res.text}`);
  }
});

test('missing key: 401 "Invalid API key: "', async () => {
  h.assertError(await h.request(srv, 'GET', '/admin/keys'), 401, 'Invalid API key: ');
  h.assertError(await h.request(srv, 'POST', '/admin/keys', { body: { name: 'x', permissions: ['users.track'] } }), 401, 'Invalid API key: ');
});

test('an empty Bearer credential is a missing key: 401 "Invalid API key: "', async () => {
  // "Authorization: Bearer " with nothing after it; the header value reaches
  // the server as "Bearer" (trailing space trimmed), which is the scheme,
  // not a key.
  for (const v of ['Bearer ', 'Bearer', 'bearer   ']) {
    const res = await h.request(srv, 'GET', '/admin/keys', { headers: { authorization: v } });
    h.assertError(res, 401, 'Invalid API key: ');
  }
});

test('wrong key: 401 echoing the key', async () => {
  const res = await h.request(srv, 'GET', '/admin/keys', { key: 'nope' });
  h.assertError(res, 401, 'Invalid API key: nope');
  // A refused key gets no rate-limit headers (no bucket applies).
  assert.equal(res.headers.get('x-ratelimit-limit'), null);
  // A near miss of a real key is refused too.
  const near = srv.key.slice(0, -1) + (srv.key.endsWith('0') ? '1' : '0');
  h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: near }), 401, `Invalid API key: ${near}`);
});

test('a very long wrong key is echoed truncated to 128 characters + "..."', async () => {
  const long = 'k'.repeat(100) + 'x'.repeat(28) + 'TAIL'.repeat(500);
  const res = await h.request(srv, 'GET', '/admin/keys', { key: long });
  h.assertError(res, 401, `Invalid API key: ${long.slice(0, 128)}...`);
  // Exactly 128 characters: echoed whole.
  const k128 = 'y'.repeat(128);
  h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: k128 }), 401, `Invalid API key: ${k128}`);
});

test('legacy: api_key in the query string', async () => {
  let res = await h.request(srv, 'GET', `/admin/keys?api_key=${srv.key}`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success');
  res = await h.request(srv, 'GET', '/admin/keys?api_key=nope');
  h.assertError(res, 401, 'Invalid API key: nope');
});

test('legacy: api_key in the JSON body of a POST', async () => {
  const res = await h.request(srv, 'POST', '/admin/keys', {
    body: { api_key: srv.key, name: 'via-body', permissions: ['users.track'] },
  });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.key.name, 'via-body');
  const bad = await h.request(srv, 'POST', '/admin/keys', { body: { api_key: 'nope', name: 'x', permissions: ['users.track'] } });
  h.assertError(bad, 401, 'Invalid API key: nope');
});

test('a key without brasa.keys gets 403 naming the permission', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'track-only', permissions: ['users.track'] });
  for (const [m, p, body] of [
    ['GET', '/admin/keys'],
    ['POST', '/admin/keys', { name: 'x', permissions: ['users.track'] }],
    ['POST', '/admin/keys/revoke', { id: 1 }],
  ]) {
    const res = await h.request(srv, m, p, { key: k.key, body });
    h.assertError(res, 403, /^Access Denied.*brasa\.keys/);
  }
  // The 403 did nothing: the bootstrap key still works.
  assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
});

test('IP allowlist: a key limited to other addresses is refused with 401', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'ten-net', permissions: ['brasa.keys'], allow_ips: ['10.0.0.0/8'] });
  assert.deepEqual(k.allow_ips, ['10.0.0.0/8']);
  const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  h.assertError(res, 401, /127\.0\.0\.1.*allowlist/);
});

test('IP allowlist: a key allowing 127.0.0.0/8 works from 127.0.0.1', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'loopback', permissions: ['brasa.keys'], allow_ips: ['127.0.0.0/8'] });
  const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  assert.equal(res.status, 200, res.text);
  // Listed with its allowlist; last_used_at is set on first use... eventually
  // (flushed in the background), so only its shape is checked here.
  const row = res.json.keys.find((r) => r.id === k.id);
  assert.deepEqual(row.allow_ips, ['127.0.0.0/8']);
});

test('IP allowlist: several entries, one matching, admits', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'multi', permissions: ['brasa.keys'], allow_ips: ['10.0.0.0/8', '127.0.0.1', '::1'] });
  const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  assert.equal(res.status, 200, res.text);
});

test('IP allowlist: a key allowing only ::1 is refused from 127.0.0.1', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'v6-only', permissions: ['brasa.keys'], allow_ips: ['::1'] });
  const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  h.assertError(res, 401, /127\.0\.0\.1.*allowlist/);
});

test('IP allowlist: the allowlist is checked before the permission', async () => {
  // A key from a refused address learns nothing about its permissions.
  const k = await h.createKey(srv, srv.key, { name: 'ten-track', permissions: ['users.track'], allow_ips: ['10.0.0.0/8'] });
  h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: k.key }), 401, /allowlist/);
});

test('revocation: 201, then the key is refused at once', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'to-revoke', permissions: ['brasa.keys'] });
  assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: k.key })).status, 200, 'works before (and is now cached)');
  const res = await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key, body: { id: k.id } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { message: 'success' });
  h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: k.key }), 401, `Invalid API key: ${k.key}`);

  const list = await h.request(srv, 'GET', '/admin/keys', { key: srv.key });
  const row = list.json.keys.find((r) => r.id === k.id);
  assert.ok(row && row.revoked_at && !Number.isNaN(Date.parse(row.revoked_at)), JSON.stringify(row));

  // Revoking it again: no active key with that id.
  h.assertError(await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key, body: { id: k.id } }), 404, /no active key with id/);
});

test('revocation: a key may revoke itself; its next request is refused', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'self-revoke', permissions: ['brasa.keys'] });
  const res = await h.request(srv, 'POST', '/admin/keys/revoke', { key: k.key, body: { id: k.id } });
  assert.equal(res.status, 201, res.text);
  h.assertError(await h.request(srv, 'GET', '/admin/keys', { key: k.key }), 401, `Invalid API key: ${k.key}`);
});

test('revocation of an unknown id: 404', async () => {
  const res = await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key, body: { id: 999999 } });
  h.assertError(res, 404, 'Not Found: no active key with id 999999');
});

test('revocation with a bad id: 400', async () => {
  for (const body of [{ id: 'x' }, { id: -1 }, { id: 0 }, { id: 1.5 }, { id: '3' }, { id: null }, {}, [], 'x', { ids: [1] }]) {
    const res = await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key, body });
    h.assertError(res, 400, /^Bad Request: .*'id'/);
  }
  // No body at all.
  const res = await h.request(srv, 'POST', '/admin/keys/revoke', { key: srv.key });
  h.assertError(res, 400, /^Bad Request/);
  // The bootstrap key survived all that.
  assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
});
