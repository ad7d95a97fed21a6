// authfail.test.js -- issue #12 item 7: failed authentications are throttled
// per client address and their log lines sampled; a key is its whole text.
// Other client addresses are 127.0.0.x: Linux routes all of 127/8 to the
// loopback, so a socket bound to 127.0.0.2 reaches a server on 127.0.0.1.
'use strict';

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./harness.js');

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});
async function start(args) {
  const srv = await h.startServer({ args });
  servers.push(srv);
  return srv;
}

// One request from the given source address; resolves with the answer and
// whether the server closed the connection after it.
function requestFrom(srv, localAddress, data) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: srv.port, host: '127.0.0.1', localAddress });
    const parts = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      const p = h.parseResponse(Buffer.concat(parts), closed);
      if (!p) return;
      done = true;
      clearTimeout(t);
      resolve({ res: p.res, sock });
    };
    const t = setTimeout(() => reject(new Error(`no answer from ${localAddress}`)), 10000);
    sock.on('data', (d) => {
      parts.push(d);
      finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => {});
    sock.write(data);
  });
}

async function get(srv, from, path, key) {
  const auth = key === undefined ? '' : `Authorization: Bearer ${key}\r\n`;
  const { res, sock } = await requestFrom(srv, from, `GET ${path} HTTP/1.1\r\nHost: t\r\n${auth}Connection: close\r\n\r\n`);
  sock.destroy();
  return res;
}

test('after LIMIT failures in the window an address gets 429 with Retry-After, whatever key it sends', async () => {
  const srv = await start(['--auth-fail-limit', '5/60s']);
  for (let i = 0; i < 5; i++) h.assertRawError(await get(srv, '127.0.0.1', '/admin/keys', `bad-${i}`), 401, `Invalid API key: bad-${i}`);
  // The right key from the same address is refused too: the key is not looked at.
  const { res, sock } = await requestFrom(srv, '127.0.0.1', `GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${srv.key}\r\n\r\n`);
  h.assertRawError(res, 429, /^Too Many Requests: too many failed authentications from this address: retry after \d+ s$/);
  const ra = Number(res.headers['retry-after']);
  assert.ok(ra >= 1 && ra <= 60, `Retry-After ${res.headers['retry-after']}`);
  assert.equal(res.headers.connection, 'close');
  sock.destroy();
  assert.equal((await get(srv, '127.0.0.1', '/healthz')).status, 429);
  // Another address has its own budget.
  assert.equal((await get(srv, '127.0.0.2', '/admin/keys', srv.key)).status, 200);
  h.assertRawError(await get(srv, '127.0.0.2', '/admin/keys', 'bad'), 401, 'Invalid API key: bad');
  assert.match(srv.stderr(), /warn http: ip=127\.0\.0\.1 refused for up to 60 s after 5 failed authentications/);
  await srv.stop();
});

test('wrong partner client secrets count as failed authentications too', async () => {
  const srv = await start(['--auth-fail-limit', '3/60s']);
  const body = '{"client_secret":"wrong","partner_api_key":"p","name":"c","cohort_id":"c","created_at":"2024-01-01T00:00:00Z"}';
  const req = `POST /partners/heap/cohorts HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  for (let i = 0; i < 3; i++) {
    const { res, sock } = await requestFrom(srv, '127.0.0.3', req);
    sock.destroy();
    assert.equal(res.status, 401, res.text);
  }
  const { res, sock } = await requestFrom(srv, '127.0.0.3', req);
  sock.destroy();
  assert.equal(res.status, 429, res.text);
  await srv.stop();
});

test('failed authentications are sampled in the log: the first few per address, then one summary line', async () => {
  const srv = await start(['--auth-fail-limit', '0']);
  const N = 300;
  // Keep-alive, so 300 requests take well under a second.
  const c = await h.rawConnect(srv.port);
  for (let i = 0; i < N; i++) {
    await c.write(`GET /admin/keys HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer bad-${i}\r\n\r\n`);
    assert.equal((await c.read()).status, 401);
  }
  c.close();
  // Nobody was refused (limit 0), and a good request is logged as usual.
  assert.equal((await h.request(srv, 'GET', '/admin/keys', { key: srv.key })).status, 200);
  const summary = await h.poll(() => /auth failures not logged: lines=(\d+)/.exec(srv.stderr()), { deadlineMs: 5000 });
  assert.ok(summary, `a summary line: ${h.tail(srv.stderr(), 1500)}`);
  const lines = srv.stderr().split('\n');
  const logged = lines.filter((l) => / status=401 /.test(l)).length;
  assert.ok(logged >= 1 && logged <= 5, `${logged} lines for 401s`);
  const summed = [...srv.stderr().matchAll(/auth failures not logged: lines=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(logged + summed, N, 'every failure is either logged or counted');
  assert.ok(lines.some((l) => / status=200 /.test(l) && l.includes('path=/admin/keys')));
  await srv.stop();
});

test('refusals (429) are sampled like failures', async () => {
  const srv = await start(['--auth-fail-limit', '2/60s']);
  for (let i = 0; i < 40; i++) await get(srv, '127.0.0.4', '/admin/keys', 'bad');
  await srv.stop(); // the last summary is written at shutdown
  const lines = srv.stderr().split('\n').filter((l) => /ip=127\.0\.0\.4/.test(l) && / status=(401|429) /.test(l));
  assert.ok(lines.length <= 5, lines.join('\n'));
  const summed = [...srv.stderr().matchAll(/auth failures not logged: lines=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(lines.length + summed, 40);
});

test('a JSON api_key is its whole string: "KEY\\u0000junk" does not authenticate as KEY', async () => {
  const srv = await start([]);
  const raw = `{"api_key":"${srv.key}\\u0000junk","name":"nul","permissions":"users.track"}`;
  const res = await h.request(srv, 'POST', '/admin/keys', { raw, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 401, res.text);
  // The same key without the tail does.
  const ok = await h.request(srv, 'POST', '/admin/keys', { raw: `{"api_key":"${srv.key}","name":"ok","permissions":"users.track"}`, headers: { 'content-type': 'application/json' } });
  assert.equal(ok.status, 201, ok.text);
  await srv.stop();
});
