// routing.test.js -- issue #12 item 8: routes match the path as sent (a
// proxy rule on the raw path cannot be bypassed by percent-encoding it), and
// HEAD is answered like GET without a body. Hostile requests go over a raw
// socket: fetch would normalise them.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const srv = h.fileServer();

// Sends data on a fresh connection and returns every byte until the server
// closes it (the last request should say Connection: close).
async function exchange(port, data) {
  const r = await h.rawExchange(port, data);
  assert.ok(r.closed, `no close within 10 s; got ${JSON.stringify(r.raw.slice(0, 400))}`);
  return r.raw;
}

test('percent-encoded spellings of a route do not reach it', async () => {
  const body = '{"attributes":[{"external_id":"enc","a":1}]}';
  for (const p of ['/users%2ftrack', '/users%2Ftrack', '/%75sers/track', '/users/trac%6b', '/%2fusers/track']) {
    const res = await h.rawRequest(srv.port, `POST ${p} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    h.assertRawError(res, 404, 'Not Found');
  }
  for (const p of ['/%61dmin/keys', '/admin%2fkeys', '/admin/%6beys', '/%68ealthz']) {
    const res = await h.rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\n\r\n`);
    h.assertRawError(res, 404, 'Not Found');
  }
  // Nothing was written by the attempts above.
  const exp = await h.request(srv, 'POST', '/users/export/ids', { key: srv.key, body: { external_ids: ['enc'] } });
  assert.equal(exp.status, 201, exp.text);
  assert.deepEqual(exp.json.users, []);
});

test('an encoded slash does not split a path parameter into two segments', async () => {
  // Decoded, this would be /partners/heap/cohorts.
  const body = '{"client_secret":"x","name":"c","cohort_id":"c"}';
  const res = await h.rawRequest(srv.port, `POST /partners/heap%2fcohorts HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  h.assertRawError(res, 404, 'Not Found');
});

test('the query string is still decoded (legacy api_key)', async () => {
  const enc = srv.key.replace(/-/g, '%2D');
  const res = await h.rawRequest(srv.port, `GET /admin/keys?api_key=${enc} HTTP/1.1\r\nHost: t\r\n\r\n`);
  assert.equal(res.status, 200, res.text);
});

test('HEAD on a GET route: the GET status and headers, no body, and the connection goes on', async () => {
  const get = await h.request(srv, 'GET', '/healthz');
  const out = await exchange(srv.port, 'HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  const first = out.indexOf('\r\n\r\n');
  assert.ok(first > 0, out);
  const head = out.slice(0, first);
  assert.match(head, /^HTTP\/1\.1 200 /, out);
  assert.match(head, /\r\ncontent-type: application\/json/i, head);
  const cl = /\r\ncontent-length: (\d+)/i.exec(head);
  assert.ok(cl && Number(cl[1]) > 0, `HEAD carries the GET body's length: ${head}`);
  assert.ok(Math.abs(Number(cl[1]) - get.text.length) <= 2, `${cl[1]} vs ${get.text.length}`);
  // The next bytes are the second answer's status line: no body came first.
  assert.match(out.slice(first + 4), /^HTTP\/1\.1 200 /, out);
});

test('HEAD on an authenticated GET route checks the key like GET', async () => {
  let out = await exchange(srv.port, `HEAD /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\nConnection: close\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 200 /, out);
  assert.ok(out.endsWith('\r\n\r\n'), `no body after the head: ${JSON.stringify(out)}`);
  out = await exchange(srv.port, 'HEAD /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 401 /, out);
  assert.ok(out.endsWith('\r\n\r\n'), out);
});

test('HEAD on a POST-only route: 405, and Allow lists HEAD wherever GET is allowed', async () => {
  const out = await exchange(srv.port, 'HEAD /users/track HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 405 /, out);
  assert.match(out, /\r\nAllow: POST\r\n/i, out);
  const res = await h.request(srv, 'POST', '/healthz', { body: {} });
  h.assertError(res, 405, 'Method Not Allowed');
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
});

test('the log shows the path as sent', () => {
  assert.match(srv.stderr(), /method=GET path=\/%61dmin\/keys status=404/);
  assert.match(srv.stderr(), /method=HEAD path=\/healthz status=200/);
});
