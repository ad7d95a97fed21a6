// basics.test.js -- /healthz, unknown paths and methods, keep-alive.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const srv = h.fileServer();

test('GET /healthz needs no key and reports version, uptime and store counters', async () => {
  const res = await h.request(srv, 'GET', '/healthz');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const b = res.json;
  assert.equal(b.message, 'success');
  assert.equal(b.status, 'ok');
  assert.equal(b.version, '0.1.0');
  assert.equal(srv.version, '0.1.0', 'listening line and /healthz agree on the version');
  assert.equal(typeof b.uptime_seconds, 'number');
  assert.ok(Number.isInteger(b.uptime_seconds) && b.uptime_seconds >= 0, res.text);
  assert.deepEqual(Object.keys(b.store).sort(), ['commits', 'failed', 'writes']);
  for (const k of ['commits', 'writes', 'failed']) assert.ok(Number.isInteger(b.store[k]) && b.store[k] >= 0, res.text);
  assert.equal(b.store.failed, 0);
  // Not rate limited and not authenticated: no rate-limit headers.
  assert.equal(res.headers.get('x-ratelimit-limit'), null);
});

test('GET /healthz with a wrong key still answers (no key needed)', async () => {
  const res = await h.request(srv, 'GET', '/healthz', { key: 'nope' });
  assert.equal(res.status, 200, res.text);
});

test('the store counters move when a key is written', async () => {
  const before_ = (await h.request(srv, 'GET', '/healthz')).json.store;
  await h.createKey(srv, srv.key, { name: 'counter', permissions: ['users.track'] });
  // The writer publishes its counters just after it answered the batch, so
  // /healthz may lag the 201 by a moment: poll.
  const after_ = await h.poll(async () => {
    const s = (await h.request(srv, 'GET', '/healthz')).json.store;
    return s.writes > before_.writes && s.commits > before_.commits ? s : null;
  });
  assert.ok(after_, `store counters did not move after a create: ${JSON.stringify(before_)}`);
  assert.equal(after_.failed, 0);
});

test('unknown paths answer 404 JSON', async () => {
  for (const p of ['/', '/nope', '/admin', '/admin/keys/nope', '/healthz/x', '/users/nope']) {
    for (const m of ['GET', 'POST']) {
      const res = await h.request(srv, m, p, m === 'POST' ? { key: srv.key, body: {} } : { key: srv.key });
      h.assertError(res, 404, 'Not Found');
    }
  }
});

test('one trailing slash is tolerated', async () => {
  const res = await h.request(srv, 'GET', '/healthz/');
  assert.equal(res.status, 200, res.text);
});

test('a known path with the wrong method answers 405 with Allow', async () => {
  let res = await h.request(srv, 'DELETE', '/admin/keys', { key: srv.key });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');

  res = await h.request(srv, 'PUT', '/admin/keys', { key: srv.key, body: { name: 'x' } });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'GET, HEAD, POST');

  res = await h.request(srv, 'GET', '/admin/keys/revoke', { key: srv.key });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'POST');

  res = await h.request(srv, 'POST', '/healthz', { body: {} });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
});

test('keep-alive: the connection keeps serving after error answers', async () => {
  const c = await h.rawConnect(srv.port);
  try {
    // 404 on a GET without a body.
    await c.write('GET /nope HTTP/1.1\r\nHost: t\r\n\r\n');
    let res = await c.read();
    h.assertRawError(res, 404, 'Not Found');
    assert.notEqual((res.headers.connection || '').toLowerCase(), 'close');

    await c.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    res = await c.read();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status, 'ok');

    // 405 with a body: the body is drained, the next request is parsed.
    const body = '{"name":"x","permissions":"users.track"}';
    await c.write(`DELETE /admin/keys HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    res = await c.read();
    h.assertRawError(res, 405, 'Method Not Allowed');

    // 401 on a POST with a body.
    await c.write(`POST /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    res = await c.read();
    h.assertRawError(res, 401, 'Invalid API key: nope');

    // And an authenticated request on the same connection.
    await c.write(`GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\n\r\n`);
    res = await c.read();
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.message, 'success');
    assert.equal(c.closed, false);
  } finally {
    c.close();
  }
});

test('pipelined requests are answered in order', async () => {
  const c = await h.rawConnect(srv.port);
  try {
    await c.write('GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    h.assertRawError(await c.read(), 404, 'Not Found');
    const res = await c.read();
    assert.equal(res.status, 200, res.text);
  } finally {
    c.close();
  }
});
