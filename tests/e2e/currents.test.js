// currents.test.js -- Currents connectors against a Custom HTTP receiver
// started here: a destination that is down, slow, answers 200 with
// garbage, 503, 429 with and without Retry-After, 413 for big batches, 400
// for one poisoned event, redirects elsewhere, and presents a certificate
// nobody trusts, one after the other; in the end it holds every event at
// least once, in per-user order, and the dead letter exactly the poisoned
// one. Also: SIGKILL mid-stream loses nothing, replay, pause and resume,
// event-type selection, the dead letter sent again, every refusal of
// /admin/currents and `brasa currents`.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');

const FAST = { BRASA_CURRENTS_BACKOFF_MS: '20', BRASA_CURRENTS_BACKOFF_MAX_MS: '200' };
const call = (srv, method, p, body) => h.request(srv, method, p, { key: srv.key, body });

// A Custom HTTP receiver. mode(req, events) decides each answer: undefined
// (200) or {status, headers, body, delayMs}. Only 2xx answers count: got
// holds their events in arrival order.
async function receiver({ tls } = {}) {
  const r = { got: [], requests: 0, headers: [], mode: () => undefined, port: 0 };
  const handle = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      let events = [];
      try {
        events = JSON.parse(Buffer.concat(chunks).toString('utf8')).events;
      } catch {
        res.writeHead(400).end('not JSON');
        return;
      }
      const a = r.mode(req, events) || {};
      const answer = () => {
        const status = a.status || 200;
        if (status < 300) {
          r.got.push(...events);
          r.headers.push(req.headers);
        }
        res.writeHead(status, a.headers || {}).end(a.body || '');
      };
      if (a.delayMs) setTimeout(answer, a.delayMs);
      else answer();
    });
  };
  r.listen = (opts) =>
    new Promise((resolve) => {
      r.server = tls ? https.createServer(opts || r.tlsOpts, handle) : http.createServer(handle);
      if (tls) r.tlsOpts = opts || r.tlsOpts;
      r.server.keepAliveTimeout = 60000;
      r.server.listen(r.port, '127.0.0.1', () => {
        r.port = r.server.address().port;
        r.url = `${tls ? 'https' : 'http'}://127.0.0.1:${r.port}/currents?workspace=test`;
        resolve();
      });
    });
  r.close = () =>
    new Promise((resolve) => {
      if (!r.server) return resolve();
      r.server.closeAllConnections?.();
      r.server.close(() => resolve());
      r.server = null;
    });
  if (!tls) await r.listen();
  return r;
}

async function connector(srv, body) {
  const res = await call(srv, 'POST', '/admin/currents', body);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.message, 'success');
  assert.match(res.json.id, /^[0-9a-f]{24}$/);
  return res.json.id;
}

async function show(srv, id) {
  const res = await call(srv, 'GET', `/admin/currents/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json.connector;
}

// Tracks one custom event per (user, n) given: {name, properties: {n}}.
let clock = Date.parse('2026-12-01T00:00:00Z');
async function track(srv, items) {
  const events = items.map(([user, n, name = 'step']) => ({
    external_id: user,
    name,
    time: new Date(clock++).toISOString(),
    properties: { n, note: `event ${n} of ${user}` },
  }));
  await h.usersApi(srv).trackOk({ events });
}

const key = (e) => `${e.user.external_user_id}/${e.properties.custom_properties.n}`;

async function until(fn, what, deadlineMs = 30000) {
  const ok = await h.poll(fn, { deadlineMs, intervalMs: 25 });
  assert.ok(ok, `timed out waiting for ${what}`);
}

test('a destination failing every way in turn: every event at least once, in per-user order, the poisoned one dead-lettered', async () => {
  const rcv = await receiver();
  const srv = await h.startServer({ env: FAST });
  const want = new Set();
  let n = 0;
  const users = ['ana', 'bo', 'cy', 'di'];
  // Several events per user per request: per-user order is checked on them.
  const batch = async (k, name) => {
    const items = [];
    for (let i = 0; i < k; i++) {
      const u = users[i % users.length];
      items.push([u, n, name && i === 2 ? name : 'step']);
      if (!(name && i === 2)) want.add(`${u}/${n}`);
      n++;
    }
    await track(srv, items);
  };
  const delivered = () => want.size === [...want].filter((k) => rcv.got.some((e) => key(e) === k)).length;
  try {
    const id = await connector(srv, { name: 'heap', type: 'custom_http', url: rcv.url, token: 'tok-123', timeout_ms: 1000 });

    // Down: nothing listens. Counted (status 0), retried, lag visible.
    await rcv.close();
    await batch(8);
    await until(async () => ((await show(srv, id)).errors['0'] || 0) >= 2, 'connection errors');
    let c = await show(srv, id);
    assert.equal(c.lag.events, 8);
    assert.ok(c.retries >= 2 && c.last_error, JSON.stringify(c));
    await rcv.listen();
    await until(async () => delivered(), 'delivery once the destination is up');

    // Slow: answers after 2.5 s, over the 1 s timeout, twice.
    let slow = 2;
    rcv.mode = () => (slow-- > 0 ? { delayMs: 2500 } : undefined);
    await batch(6);
    await until(async () => delivered(), 'delivery past the slow answers');

    // 200 with garbage: accepted (only the status counts).
    rcv.mode = () => ({ status: 200, body: '<html>not what you expected' });
    await batch(5);
    await until(async () => delivered(), 'delivery with garbage answers');

    // 503 three times, then 429 with Retry-After, then 429 without.
    let fails = [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 429 }];
    rcv.mode = () => fails.shift();
    await batch(7);
    await until(async () => delivered(), 'delivery past 503 and 429');

    // 413 for any batch over 10 events: halved until they pass.
    rcv.mode = (req, events) => (events.length > 10 ? { status: 413, body: 'too large' } : undefined);
    await batch(40);
    await until(async () => delivered(), 'delivery in halves');
    assert.ok(rcv.got.length >= want.size);

    // 400 for the batch holding the poisoned event: split, the others pass.
    rcv.mode = (req, events) =>
      events.some((e) => e.properties.name === 'poison') ? { status: 400, body: '{"error":"poisoned"}' } : undefined;
    await batch(12, 'poison');
    await until(async () => delivered(), 'delivery of all but the poisoned event');
    await until(async () => (await show(srv, id)).dead_letter === 1, 'the dead letter');

    // A redirect to another host: not followed, retried until it stops.
    let redirects = 2;
    rcv.mode = () => (redirects-- > 0 ? { status: 302, headers: { location: 'http://elsewhere.invalid/take' } } : undefined);
    await batch(4);
    await until(async () => delivered(), 'delivery after redirects');

    // Every event at least once; per user, first arrivals in tracked order.
    const seen = new Set(rcv.got.map(key));
    for (const k of want) assert.ok(seen.has(k), `event ${k} never arrived`);
    assert.ok(!rcv.got.some((e) => e.properties.name === 'poison'), 'the poisoned event was never accepted');
    const firsts = new Map();
    const order = {};
    for (const e of rcv.got) {
      if (firsts.has(key(e))) continue;
      firsts.set(key(e), true);
      (order[e.user.external_user_id] ||= []).push(e.properties.custom_properties.n);
    }
    for (const [u, ns] of Object.entries(order)) assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `order of ${u}`);

    // The wire: Braze's envelope, headers and event shape.
    for (const hd of rcv.headers) {
      assert.equal(hd['braze-currents-version'], '1');
      assert.equal(hd.authorization, 'Bearer tok-123');
      assert.equal(hd['content-type'], 'application/json');
    }
    const e = rcv.got[0];
    assert.deepEqual(Object.keys(e), ['event_type', 'id', 'time', 'user', 'properties']);
    assert.equal(e.event_type, 'users.behaviors.CustomEvent');
    assert.match(e.user.user_id, /^[0-9a-f]{24}$/);
    assert.equal(typeof e.time, 'number');
    assert.equal(e.properties.name, 'step');
    assert.equal(typeof e.properties.custom_properties, 'object');
    assert.equal(new Set(rcv.got.map((x) => x.id)).size, seen.size, 'one id per event, stable across re-sends');

    // Counters and the dead letter.
    await until(async () => (await show(srv, id)).errors['302'] >= 1, 'the redirects counted');
    // The receiver has the last batch before brasa reads its answer and
    // moves the cursor: the lag reaches 0 just after delivery.
    await until(async () => (await show(srv, id)).lag.events === 0, 'the lag back to 0');
    c = await show(srv, id);
    for (const s of ['0', '503', '429', '413', '400', '302']) assert.ok(c.errors[s] >= 1, `errors[${s}]: ${JSON.stringify(c.errors)}`);
    assert.equal(c.lag.events, 0);
    assert.ok(c.sent >= want.size);
    assert.equal(c.settings.token_set, true);
    assert.equal(c.settings.token, undefined, 'the token is never shown');
    assert.match(c.last_error, /HTTP 302: a redirect \(to http:\/\/elsewhere.invalid\/take\), not followed/);
    const dl = await call(srv, 'GET', `/admin/currents/${id}/dead_letter`);
    assert.equal(dl.status, 200, dl.text);
    assert.equal(dl.json.events.length, 1);
    const dead = dl.json.events[0];
    assert.equal(dead.status, 400);
    assert.equal(dead.event_type, 'users.behaviors.CustomEvent');
    assert.equal(dead.event.name, 'poison');
    assert.match(dead.error, /^HTTP 400: \{"error":"poisoned"\}/);

    // The destination takes it now: sent again from the dead letter.
    rcv.mode = () => undefined;
    const rp = await call(srv, 'POST', `/admin/currents/${id}/dead_letter/replay`, {});
    assert.deepEqual(rp.json, { message: 'success', marked: 1 });
    await until(async () => rcv.got.some((x) => x.properties.name === 'poison'), 'the dead-lettered event sent again');
    await until(async () => (await show(srv, id)).dead_letter === 0, 'an empty dead letter');
  } finally {
    await srv.stop();
    await rcv.close();
  }
});

test('TLS: a certificate nobody trusts is retried; once the destination presents one from ca_file, all is delivered', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-cur-tls-'));
  const cert = (name) => {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-addext',
      'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', `${tmp}/${name}.key`, '-out', `${tmp}/${name}.pem`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { key: fs.readFileSync(`${tmp}/${name}.key`), cert: fs.readFileSync(`${tmp}/${name}.pem`) };
  };
  const trusted = cert('trusted'), stranger = cert('stranger');
  const rcv = await receiver({ tls: true });
  await rcv.listen(stranger);
  const srv = await h.startServer({ env: FAST });
  try {
    const id = await connector(srv, { name: 'tls', type: 'custom_http', url: rcv.url, ca_file: `${tmp}/trusted.pem` });
    await track(srv, [['tess', 1], ['tess', 2]]);
    await until(async () => ((await show(srv, id)).errors['0'] || 0) >= 2, 'TLS failures');
    assert.match((await show(srv, id)).last_error, /certificate|SSL/i);
    assert.equal(rcv.got.length, 0);
    await rcv.close();
    await rcv.listen(trusted);
    await until(async () => rcv.got.length === 2, 'delivery over trusted TLS');
    assert.deepEqual(rcv.got.map((e) => e.properties.custom_properties.n), [1, 2]);
  } finally {
    await srv.stop();
    await rcv.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('SIGKILL mid-stream loses nothing: every event acknowledged is delivered after the restart', async () => {
  const rcv = await receiver();
  // Slow answers keep a backlog in flight when the kill comes.
  rcv.mode = () => ({ delayMs: 5 });
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir, env: FAST });
  const acked = new Set();
  try {
    await connector(srv, { name: 'k', type: 'custom_http', url: rcv.url, batch_size: 20 });
    const writers = [];
    let stop = false;
    for (let w = 0; w < 4; w++) {
      writers.push((async () => {
        for (let i = 0; !stop; i++) {
          const items = Array.from({ length: 10 }, (_, j) => [`w${w}`, i * 10 + j]);
          const events = items.map(([u, k]) => ({ external_id: u, name: 'step', time: '2026-12-01T00:00:00Z', properties: { n: k } }));
          try {
            const res = await h.request(srv, 'POST', '/users/track', { key: srv.key, body: { events } });
            if (res.status === 201) for (const [u, k] of items) acked.add(`${u}/${k}`);
          } catch {
            return; // the server is gone
          }
        }
      })());
    }
    await until(async () => rcv.got.length > 200, 'some delivery before the kill');
    await srv.kill9();
    stop = true;
    await Promise.all(writers);
    srv = await h.startServer({ dir, env: FAST });
    await until(async () => {
      const seen = new Set(rcv.got.map(key));
      return [...acked].every((k) => seen.has(k));
    }, 'every acknowledged event after the restart', 60000);
    assert.ok(acked.size > 200, `${acked.size} events acknowledged`);
  } finally {
    await srv.stop();
    await rcv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('event types, pause and resume, replay from earliest and from a cursor, start times', async () => {
  const rcv = await receiver(), rcv2 = await receiver();
  const srv = await h.startServer({ env: FAST });
  try {
    await track(srv, [['pat', 1]]); // before any connector: not sent unless asked
    const purchases = await connector(srv, { name: 'buys', type: 'custom_http', url: rcv2.url, event_types: ['users.behaviors.Purchase'], start: 'earliest' });
    const id = await connector(srv, { name: 'all', type: 'custom_http', url: rcv.url });
    await track(srv, [['pat', 2]]);
    await h.usersApi(srv).trackOk({ purchases: [{ external_id: 'pat', product_id: 'tea', currency: 'EUR', price: 3.5, time: '2026-12-01T00:00:00Z', properties: { size: 'L' } }] });
    await until(async () => rcv.got.length === 2 && rcv2.got.length === 1, 'both connectors');
    assert.deepEqual(rcv.got.map((e) => e.event_type), ['users.behaviors.CustomEvent', 'users.behaviors.Purchase']);
    assert.equal(rcv.got[0].properties.custom_properties.n, 2, 'the event before the connector is not sent');
    const p = rcv2.got[0];
    assert.equal(p.event_type, 'users.behaviors.Purchase');
    assert.deepEqual(p.properties.purchase_properties, { size: 'L' });
    assert.equal(p.properties.product_id, 'tea');
    assert.equal(p.properties.price, 3.5);
    assert.equal(p.properties.currency, 'EUR');

    // Paused: events wait (lag grows); resumed: they go.
    let res = await call(srv, 'POST', `/admin/currents/${id}/pause`);
    assert.deepEqual(res.json, { message: 'success' });
    assert.equal((await show(srv, id)).state, 'paused');
    await track(srv, [['pat', 3]]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rcv.got.length, 2);
    assert.equal((await show(srv, id)).lag.events, 1);
    res = await call(srv, 'POST', `/admin/currents/all/resume`); // by name too
    assert.equal(res.status, 200, res.text);
    await until(async () => rcv.got.length === 3, 'delivery after resume');

    // Replay from the earliest event the outboxes hold: everything again.
    await until(async () => (await show(srv, id)).lag.events === 0, 'the cursor written');
    const before = await show(srv, id);
    res = await call(srv, 'POST', `/admin/currents/${id}/replay`, { from: 'earliest' });
    assert.equal(res.status, 200, res.text);
    await until(async () => rcv.got.length === 3 + 4, 'the replay');
    const again = rcv.got.slice(3);
    assert.equal(new Set(again.map((e) => e.id)).size, 4, 'the event before the connector too');
    for (const e of rcv.got.slice(0, 3)) assert.ok(again.some((x) => x.id === e.id), `${e.id} sent again with the same id`);
    // ...and back to the cursor it had: nothing more.
    res = await call(srv, 'POST', `/admin/currents/${id}/replay`, { cursor: before.cursor });
    assert.equal(res.status, 200, res.text);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rcv.got.length, 7);
    // From a time: the events written since.
    const t = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await track(srv, [['pat', 4]]);
    await until(async () => rcv.got.length === 8, 'a new event');
    res = await call(srv, 'POST', `/admin/currents/${id}/replay`, { from: t });
    assert.equal(res.status, 200, res.text);
    await until(async () => rcv.got.length === 9, 'the replay from a time');
    assert.equal(rcv.got[8].properties.custom_properties.n, 4);
    assert.equal((await show(srv, purchases)).sent, 1);

    // Removed: gone from the list, nothing more sent.
    res = await h.request(srv, 'DELETE', `/admin/currents/${id}`, { key: srv.key });
    assert.deepEqual(res.json, { message: 'success' });
    const list = (await call(srv, 'GET', '/admin/currents')).json.connectors;
    assert.deepEqual(list.map((c) => c.name), ['buys']);
    await track(srv, [['pat', 5]]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rcv.got.length, 9);
  } finally {
    await srv.stop();
    await rcv.close();
    await rcv2.close();
  }
});

test('/admin/currents refuses what it cannot deliver, with the reason', async () => {
  const srv = await h.startServer();
  try {
    const bad = async (body, msg) =>
      h.assertError(await call(srv, 'POST', '/admin/currents', body), 400, typeof msg === 'string' ? `Bad Request: ${msg}` : msg);
    await bad({ type: 'custom_http', url: 'http://x.example/' }, "'name' is required and must be a string");
    await bad({ name: 'a b', type: 'custom_http', url: 'http://x.example/' }, /'name'/);
    await bad({ name: 'a', type: 'kafka' }, "'type' must be custom_http, amplitude, mixpanel or files");
    await bad({ name: 'a', type: 'custom_http' }, "a custom_http connector needs 'url'");
    await bad({ name: 'a', type: 'custom_http', url: 'ftp://x.example/' }, "'url' must be an absolute http:// or https:// URL");
    await bad({ name: 'a', type: 'custom_http', url: 'not a url' }, /'url'/);
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', event_types: ['users.behaviors.Nope'] },
      "unknown event type 'users.behaviors.Nope' in 'event_types'");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', event_types: [] }, "'event_types' must be a non-empty array of event type names");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', batch_size: 101 }, "'batch_size' must be an integer from 1 to 100");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', surprise: 1 }, "unknown field 'surprise'");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', api_key: 'k' }, "'api_key' does not apply to a custom_http connector");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', start: 'yesterday' }, "'start' must be \"latest\", \"earliest\" or an ISO 8601 time");
    await bad({ name: 'a', type: 'custom_http', url: 'http://x.example/', ca_file: 'relative.pem' }, "'ca_file' must be an absolute path to a readable PEM file of CA certificates");
    await bad({ name: 'a', type: 'amplitude' }, "an amplitude connector needs 'api_key' (the project's API key)");
    await bad({ name: 'a', type: 'amplitude', api_key: 'k', region: 'MARS' }, "'region' must be US or EU");
    await bad({ name: 'a', type: 'mixpanel', api_secret: 's' }, "a mixpanel connector needs 'api_secret' and 'project_token'");
    await bad({ name: 'a', type: 'files' }, "a files connector needs 'dir', an absolute directory");
    await bad({ name: 'a', type: 'files', dir: 'relative/dir' }, "a files connector needs 'dir', an absolute directory");
    await bad({ name: 'a', type: 'files', dir: '/tmp', format: 'csv' }, "'format' must be avro or ndjson");
    await bad({ name: 'a', type: 'files', dir: '/tmp', prefix: '../up' }, "'prefix' must be a relative path of letters, digits and _-.= (no '..')");
    h.assertError(await h.request(srv, 'POST', '/admin/currents', { key: srv.key, raw: '[1]', headers: { 'content-type': 'application/json' } }), 400, /must be a JSON object|JSON/);

    const id = await connector(srv, { name: 'a', type: 'custom_http', url: 'http://127.0.0.1:9/' });
    h.assertError(await call(srv, 'POST', '/admin/currents', { name: 'a', type: 'custom_http', url: 'http://127.0.0.1:9/' }), 409,
      "Already exists: a Currents connector named 'a' already exists");
    for (const [m, p] of [['GET', '/admin/currents/nope'], ['DELETE', '/admin/currents/nope'], ['POST', '/admin/currents/nope/pause'],
      ['POST', '/admin/currents/nope/resume'], ['GET', '/admin/currents/nope/dead_letter']])
      h.assertError(await call(srv, m, p), 404, "Not Found: no Currents connector 'nope'");
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/replay`, {}), 400, "Bad Request: give either 'from' (\"earliest\" or an ISO 8601 time) or 'cursor'");
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/replay`, { from: 'latest' }), 400, "Bad Request: 'from' must be \"earliest\" or an ISO 8601 time");
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/replay`, { cursor: { outbox_seq: -1 } }), 400, /^Bad Request: 'cursor' needs 'outbox_seq' and 'message_id'/);
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/replay`, { from: 'earliest', when: 1 }), 400, /when/);
    h.assertError(await call(srv, 'POST', '/admin/currents/nope/replay', { from: 'earliest' }), 404, "Not Found: no Currents connector 'nope'");
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/dead_letter/replay`, { seq: 77 }), 404, 'Not Found: no dead-letter event 77 for this connector');
    h.assertError(await call(srv, 'POST', `/admin/currents/${id}/dead_letter/replay`, { seq: 'x' }), 400, "Bad Request: 'seq' must be a dead-letter seq (a positive integer)");
    h.assertError(await call(srv, 'GET', `/admin/currents/${id}/dead_letter?limit=0`), 400, "Bad Request: 'limit' must be an integer from 1 to 1000");
    h.assertError(await call(srv, 'GET', `/admin/currents/${id}/dead_letter?after=x`), 400, "Bad Request: 'after' must be a dead-letter seq (a non-negative integer)");
    for (let i = 1; i < 16; i++) await connector(srv, { name: `c${i}`, type: 'custom_http', url: 'http://127.0.0.1:9/' });
    h.assertError(await call(srv, 'POST', '/admin/currents', { name: 'c16', type: 'custom_http', url: 'http://127.0.0.1:9/' }), 400,
      'Bad Request: at most 16 Currents connectors can be configured');

    // An API key without brasa.keys cannot see or change connectors.
    const weak = await h.createKey(srv, srv.key, { name: 'weak', permissions: ['users.track'] });
    const r = await h.request(srv, 'GET', '/admin/currents', { key: weak });
    assert.equal(r.status, 401, r.text);
  } finally {
    await srv.stop();
  }
});

test('brasa currents add, list, pause, resume, replay, dead-letter and remove, also while the server runs', async () => {
  const rcv = await receiver();
  const dir = h.makeDataDir();
  const srv = await h.startServer({ dir, env: FAST });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'brasa-cur-cli-'));
  try {
    fs.writeFileSync(`${tmp}/c.json`, JSON.stringify({ name: 'cli', type: 'custom_http', url: rcv.url, token: 'shh' }));
    let r = h.cli(['currents', 'add', `${tmp}/c.json`], { dir });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f]{24}\n$/);
    // The running server picks it up within a second.
    await new Promise((res) => setTimeout(res, 1200));
    await track(srv, [['cleo', 1]]);
    await until(async () => rcv.got.length === 1, 'delivery through a connector added by the CLI');

    r = h.cli(['currents', 'list', '--json'], { dir });
    assert.equal(r.status, 0, r.stderr);
    const [c] = JSON.parse(r.stdout);
    assert.equal(c.name, 'cli');
    assert.equal(c.settings.token_set, true);
    assert.ok(!r.stdout.includes('shh'), 'the token is never printed');
    r = h.cli(['currents', 'list'], { dir });
    assert.match(r.stdout, /^NAME +TYPE +STATE/);
    assert.match(r.stdout, /\ncli +custom_http +active/);

    assert.equal(h.cli(['currents', 'pause', 'cli'], { dir }).status, 0);
    await new Promise((res) => setTimeout(res, 1200));
    await track(srv, [['cleo', 2]]);
    await new Promise((res) => setTimeout(res, 500));
    assert.equal(rcv.got.length, 1);
    assert.equal(h.cli(['currents', 'resume', 'cli'], { dir }).status, 0);
    await until(async () => rcv.got.length === 2, 'delivery after resume');
    assert.equal(h.cli(['currents', 'replay', 'cli', '--from', 'earliest'], { dir }).status, 0);
    await until(async () => rcv.got.length === 4, 'the replay');
    r = h.cli(['currents', 'dead-letter', 'cli'], { dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    r = h.cli(['currents', 'dead-letter', 'cli', '--replay', 'all'], { dir });
    assert.equal(r.stdout, '0 events marked to be sent again\n');

    // Refusals.
    fs.writeFileSync(`${tmp}/bad.json`, JSON.stringify({ name: 'x', type: 'custom_http' }));
    r = h.cli(['currents', 'add', `${tmp}/bad.json`], { dir });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "brasa: a custom_http connector needs 'url'\n");
    fs.writeFileSync(`${tmp}/notjson`, '{');
    r = h.cli(['currents', 'add', `${tmp}/notjson`], { dir });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /is not JSON/);
    r = h.cli(['currents', 'add', `${tmp}/c.json`], { dir });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "brasa: a Currents connector named 'cli' already exists\n");
    r = h.cli(['currents', 'pause', 'nope'], { dir });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "brasa: no Currents connector 'nope'\n");
    r = h.cli(['currents', 'replay', 'cli', '--from', 'tomorrow'], { dir });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'brasa: currents replay needs --from earliest or an ISO 8601 time\n');
    r = h.cli(['currents', 'dead-letter', 'cli', '--replay', '0'], { dir });
    assert.equal(r.status, 2);
    r = h.cli(['currents', 'frobnicate', 'x'], { dir });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown currents command 'frobnicate'/);
    r = h.cli(['currents', 'list', 'extra'], { dir });
    assert.equal(r.status, 2);

    assert.equal(h.cli(['currents', 'remove', 'cli'], { dir }).status, 0);
    assert.equal(JSON.parse(h.cli(['currents', 'list', '--json'], { dir }).stdout).length, 0);
  } finally {
    await srv.stop();
    await rcv.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
