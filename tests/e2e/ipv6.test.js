// ipv6.test.js -- a dual-stack server (--listen ::): IPv6 clients and IPv6
// allowlists, and IPv4 clients seen as IPv4 on the same socket.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

let srv;
let v6ok = false;
before(async () => {
  v6ok = await h.canBindIPv6Loopback();
  if (v6ok) srv = await h.startServer({ listen: '::' });
});
after(async () => {
  if (srv) await srv.stop();
});

const v6url = () => `http://[::1]:${srv.port}`;
const at = (url) => ({ ...srv, url });

test('dual stack: IPv6 client with a key allowing ::1/128 gets 200', async (t) => {
  if (!v6ok) return t.skip('cannot bind ::1 on this host');
  const k = await h.createKey(srv, srv.key, { name: 'v6', permissions: ['brasa.keys'], allow_ips: ['::1/128'] });
  const res = await h.request(at(v6url()), 'GET', '/admin/keys', { key: k.key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success');
});

test('dual stack: IPv6 client with a key allowing only 127.0.0.1 gets 401', async (t) => {
  if (!v6ok) return t.skip('cannot bind ::1 on this host');
  const k = await h.createKey(srv, srv.key, { name: 'v4only', permissions: ['brasa.keys'], allow_ips: ['127.0.0.1'] });
  const res = await h.request(at(v6url()), 'GET', '/admin/keys', { key: k.key });
  h.assertError(res, 401, /::1 .*allowlist/);
  // The same key from 127.0.0.1 on the same dual-stack socket: admitted,
  // i.e. a v4-mapped peer address is matched as IPv4.
  const v4 = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  assert.equal(v4.status, 200, v4.text);
});

test('dual stack: IPv4 client refused by an IPv6-only key is named as 127.0.0.1', async (t) => {
  if (!v6ok) return t.skip('cannot bind ::1 on this host');
  const k = await h.createKey(srv, srv.key, { name: 'v6only', permissions: ['brasa.keys'], allow_ips: ['::1'] });
  const res = await h.request(srv, 'GET', '/admin/keys', { key: k.key });
  h.assertError(res, 401, /127\.0\.0\.1 .*allowlist/);
});

test('dual stack: /healthz and errors over IPv6', async (t) => {
  if (!v6ok) return t.skip('cannot bind ::1 on this host');
  const res = await h.request(at(v6url()), 'GET', '/healthz');
  assert.equal(res.status, 200, res.text);
  h.assertError(await h.request(at(v6url()), 'GET', '/admin/keys', { key: 'nope' }), 401, 'Invalid API key: nope');
});
