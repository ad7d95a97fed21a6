// metrics.test.js -- GET /metrics as a Prometheus scraper reads it: every
// line parses as the text exposition format (0.0.4), every sample belongs to
// a metric declared by # HELP and # TYPE before it, histograms are
// cumulative and end with +Inf = _count, and the figures move with what the
// server did (Currents connectors too: one delivering to a receiver started
// here, with a poisoned event in its dead letter, and one whose destination
// answers 503). The permission is brasa.metrics, which "all" does not grant.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const h = require('./harness.js');

const srv = h.fileServer();

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (-?(?:[0-9]+(?:\\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\\+Inf|-Inf|NaN))$`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

// Parses the exposition strictly; returns { name: { type, help, samples: [{ name, labels, value }] } }.
function parse(text) {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const metrics = {};
  let current = null;
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) {
      assert.ok(new RegExp(`^${NAME}$`).test(m[1]), line);
      assert.ok(!metrics[m[1]], `${m[1]} declared twice`);
      metrics[m[1]] = { help: m[2], samples: [] };
      current = m[1];
    } else if ((m = /^# TYPE (\S+) (\S+)$/.exec(line))) {
      assert.equal(m[1], current, `TYPE right after its HELP: ${line}`);
      assert.ok(TYPES.has(m[2]), line);
      metrics[current].type = m[2];
    } else {
      m = SAMPLE_RE.exec(line);
      assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
      const base = metrics[current] && metrics[current].type === 'histogram' ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
      assert.equal(base, current, `sample of the metric declared above it: ${line}`);
      const labels = {};
      for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
      metrics[current].samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
  }
  for (const [name, m] of Object.entries(metrics)) {
    assert.ok(m.type, `${name} has a TYPE`); // (a family may have no samples yet)
    if (m.type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
  }
  return metrics;
}

// Checks every histogram series: buckets cumulative, +Inf last and = _count.
function checkHistograms(metrics) {
  for (const [name, m] of Object.entries(metrics)) {
    if (m.type !== 'histogram') continue;
    const series = new Map();
    for (const s of m.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!series.has(key)) series.set(key, { buckets: [], sum: null, count: null });
      const x = series.get(key);
      if (s.name === `${name}_bucket`) x.buckets.push([le, s.value]);
      else if (s.name === `${name}_sum`) x.sum = s.value;
      else if (s.name === `${name}_count`) x.count = s.value;
    }
    for (const [key, x] of series) {
      assert.ok(x.buckets.length > 1 && x.sum !== null && x.count !== null, `${name}${key}: buckets, _sum, _count`);
      assert.equal(x.buckets[x.buckets.length - 1][0], '+Inf', `${name}${key}: +Inf last`);
      for (let i = 1; i < x.buckets.length; i++) {
        assert.ok(Number(x.buckets[i][0]) > Number(x.buckets[i - 1][0]) || x.buckets[i][0] === '+Inf', `${name}${key}: le increasing`);
        assert.ok(x.buckets[i][1] >= x.buckets[i - 1][1], `${name}${key}: cumulative`);
      }
      assert.equal(x.buckets[x.buckets.length - 1][1], x.count, `${name}${key}: +Inf = _count`);
      assert.ok(x.sum >= 0);
    }
  }
}

function value(metrics, name, labels = {}) {
  const m = metrics[name.replace(/_(bucket|sum|count)$/, '')] || metrics[name];
  assert.ok(m, `${name} is exported`);
  const s = m.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : undefined;
}

async function scrape(key = srv.key, server = srv) {
  const res = await h.request(server, 'GET', '/metrics', { key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const metrics = parse(res.text);
  checkHistograms(metrics);
  return metrics;
}

test('every line is the text exposition format, and the figures follow what the server did', async () => {
  const before = await scrape();
  assert.equal(value(before, 'brasa_build_info'), 1);
  assert.ok(value(before, 'process_resident_memory_bytes') > 1e6);

  const api = h.usersApi(srv, srv.key);
  await api.trackOk({ attributes: [{ external_id: 'm1', a: 1 }, { external_id: 'm2', a: 2 }] });
  await api.trackOk({ events: [{ external_id: 'm1', name: 'e', time: new Date().toISOString() }] });
  h.assertError(await h.request(srv, 'POST', '/users/track', { key: srv.key, body: { attributes: 'x' } }), 400,
    "Bad Request: 'attributes' must be an array of objects");
  assert.equal((await h.request(srv, 'GET', '/no/such/route')).status, 404);

  const after = await scrape();
  const track = { method: 'POST', route: '/users/track' };
  assert.equal(value(after, 'brasa_http_requests_total', { ...track, code: '201' }), 2);
  assert.equal(value(after, 'brasa_http_requests_total', { ...track, code: '400' }), 1);
  assert.equal(value(after, 'brasa_http_request_duration_seconds_count', track), 3);
  assert.ok(value(after, 'brasa_http_requests_total', { route: '(unmatched)', code: '404' }) >= 1);
  // The first scrape is counted once it was answered.
  assert.equal(value(after, 'brasa_http_requests_total', { method: 'GET', route: '/metrics', code: '200' }), 1);
  assert.equal(value(after, 'brasa_profiles'), 2);
  assert.ok(value(after, 'brasa_engine_commands_total') >= value(before, 'brasa_engine_commands_total') + 2);
  assert.ok(value(after, 'brasa_store_commits_total') > value(before, 'brasa_store_commits_total'));
  assert.ok(value(after, 'brasa_store_commit_duration_seconds_count') >= value(after, 'brasa_store_commits_total'));
  assert.equal(value(after, 'brasa_store_failed'), 0);
  assert.equal(value(after, 'brasa_segments'), 0);
  assert.equal(value(after, 'brasa_cohorts'), 0);
});

test('the brasa.metrics permission: named, never part of "all"; no key is 401', async () => {
  h.assertError(await h.request(srv, 'GET', '/metrics'), 401, 'Invalid API key: ');
  h.assertError(await h.request(srv, 'GET', '/metrics', { key: 'not-a-key' }), 401, 'Invalid API key: not-a-key');
  const all = await h.createKey(srv, srv.key, { name: 'all', permissions: ['all'] });
  assert.ok(!all.permissions.includes('brasa.metrics'));
  h.assertError(await h.request(srv, 'GET', '/metrics', { key: all.key }), 403,
    "Access Denied: this API key does not have the 'brasa.metrics' permission");
  const prom = await h.createKey(srv, srv.key, { name: 'prometheus', permissions: ['brasa.metrics'] });
  await scrape(prom.key);
  h.assertError(await h.request(srv, 'POST', '/users/track', { key: prom.key, body: { attributes: [] } }), 403,
    "Access Denied: this API key does not have the 'users.track' permission");
  h.assertError(await h.request(srv, 'POST', '/metrics', { key: prom.key }), 405, 'Method Not Allowed');
});

test('--metrics-listen: GET /metrics without a key on its own address, nothing else there; bad values refused', async () => {
  const s2 = await h.startServer({ args: ['--metrics-listen', '127.0.0.1:0'] });
  try {
    const m = /^metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/m.exec(s2.stdout());
    assert.ok(m, s2.stdout());
    const murl = `http://127.0.0.1:${m[1]}`;
    // A request on the API counts in what the metrics address reports.
    await h.usersApi(s2, s2.key).trackOk({ attributes: [{ external_id: 'x', a: 1 }] });
    const res = await fetch(`${murl}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const metrics = parse(await res.text());
    checkHistograms(metrics);
    assert.equal(value(metrics, 'brasa_http_requests_total', { method: 'POST', route: '/users/track', code: '201' }), 1);
    assert.equal(value(metrics, 'brasa_profiles'), 1);
    const other = await fetch(`${murl}/users/track`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    assert.equal(other.status, 404);
    assert.equal((await fetch(`${murl}/healthz`)).status, 404);
    // The API's own /metrics still wants its key.
    h.assertError(await h.request(s2, 'GET', '/metrics'), 401, 'Invalid API key: ');
  } finally {
    await s2.stop();
  }
  const dir = h.makeDataDir();
  try {
    for (const bad of ['nope', '127.0.0.1:', ':9100', '127.0.0.1:70000', '[::1:9100', '127.0.0.1:9x']) {
      const r = h.cli(['serve', '--metrics-listen', bad], { dir });
      assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /^brasa: --metrics-listen must be HOST:PORT/, bad);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const CURRENTS = ['brasa_currents_events_sent_total', 'brasa_currents_batches_total', 'brasa_currents_retries_total',
  'brasa_currents_errors_total', 'brasa_currents_dead_letter_events', 'brasa_currents_lag_events',
  'brasa_currents_lag_seconds', 'brasa_currents_paused'];

test('Currents: per connector, what was sent, retried, failed and dead-lettered, the lag and whether it is paused', async () => {
  // /ok takes every batch but one holding a poisoned event (400: split,
  // then that event alone is refused); /down answers 503 to everything.
  const rcv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')).events;
      const poisoned = events.some((e) => e.properties.custom_properties.poison);
      res.writeHead(req.url === '/down' ? 503 : poisoned ? 400 : 200).end();
    });
  });
  await new Promise((resolve) => rcv.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${rcv.address().port}`;
  const s2 = await h.startServer({ env: { BRASA_CURRENTS_BACKOFF_MS: '20', BRASA_CURRENTS_BACKOFF_MAX_MS: '200' } });
  const call = (method, p, body) => h.request(s2, method, p, { key: s2.key, body });
  try {
    // No connector: the families are declared, without samples.
    let m = await scrape(s2.key, s2);
    for (const name of CURRENTS) {
      assert.ok(m[name], `${name} is declared`);
      assert.equal(m[name].samples.length, 0, name);
    }
    assert.equal(m.brasa_currents_lag_seconds.type, 'gauge');
    assert.equal(m.brasa_currents_errors_total.type, 'counter');

    for (const [name, url] of [['good', `${base}/ok`], ['bad', `${base}/down`]]) {
      const res = await call('POST', '/admin/currents', { name, type: 'custom_http', url });
      assert.equal(res.status, 201, res.text);
    }
    const time = new Date().toISOString();
    await h.usersApi(s2, s2.key).trackOk({ events: [
      { external_id: 'u1', name: 'e', time, properties: { n: 1 } },
      { external_id: 'u1', name: 'e', time, properties: { n: 2, poison: true } },
      { external_id: 'u1', name: 'e', time, properties: { n: 3 } },
    ] });
    const show = async (name) => (await call('GET', `/admin/currents/${name}`)).json.connector;
    // Delivered: 2 events (alone, after the 400 split), the poisoned one
    // dead-lettered; the other has retried and waits, a second old at least.
    assert.ok(await h.poll(async () => {
      const [g, b] = [await show('good'), await show('bad')];
      return g.sent === 2 && g.dead_letter === 1 && g.lag.events === 0 && b.retries >= 2 && b.lag.seconds >= 1;
    }, { deadlineMs: 30000, intervalMs: 50 }), 'the connectors delivered and failed');

    m = await scrape(s2.key, s2);
    const good = { connector: 'good', type: 'custom_http' }, bad = { connector: 'bad', type: 'custom_http' };
    assert.equal(value(m, 'brasa_currents_events_sent_total', good), 2);
    assert.equal(value(m, 'brasa_currents_batches_total', good), 2);
    assert.equal(value(m, 'brasa_currents_retries_total', good), 0);
    assert.equal(value(m, 'brasa_currents_errors_total', { ...good, status: '400' }), 2); // the batch, then the event
    assert.equal(value(m, 'brasa_currents_dead_letter_events', good), 1);
    assert.equal(value(m, 'brasa_currents_lag_events', good), 0);
    assert.equal(value(m, 'brasa_currents_lag_seconds', good), 0);
    assert.equal(value(m, 'brasa_currents_paused', good), 0);
    assert.equal(value(m, 'brasa_currents_events_sent_total', bad), 0);
    assert.equal(value(m, 'brasa_currents_batches_total', bad), 0);
    assert.equal(value(m, 'brasa_currents_dead_letter_events', bad), 0);
    assert.equal(value(m, 'brasa_currents_lag_events', bad), 3);
    assert.ok(value(m, 'brasa_currents_lag_seconds', bad) >= 1);
    const retries = value(m, 'brasa_currents_retries_total', bad);
    assert.ok(retries >= 2);
    assert.equal(value(m, 'brasa_currents_errors_total', { ...bad, status: '503' }), retries, 'each failed attempt counted once');
    // Only statuses that happened have a series.
    assert.deepEqual(m.brasa_currents_errors_total.samples.map((x) => `${x.labels.connector}/${x.labels.status}`).sort(),
      ['bad/503', 'good/400']);
    // One series per connector in every other family.
    for (const name of CURRENTS.filter((x) => x !== 'brasa_currents_errors_total'))
      assert.deepEqual(m[name].samples.map((x) => x.labels.connector), ['bad', 'good'], name);

    // Paused: 1, and its events still wait.
    assert.equal((await call('POST', '/admin/currents/bad/pause')).status, 200);
    m = await scrape(s2.key, s2);
    assert.equal(value(m, 'brasa_currents_paused', bad), 1);
    assert.equal(value(m, 'brasa_currents_paused', good), 0);
    assert.equal(value(m, 'brasa_currents_lag_events', bad), 3);
    assert.ok(value(m, 'brasa_currents_retries_total', bad) >= retries);

    // Removed: its series go.
    assert.equal((await call('DELETE', '/admin/currents/bad')).status, 200);
    m = await scrape(s2.key, s2);
    assert.equal(value(m, 'brasa_currents_lag_events', bad), undefined);
    assert.deepEqual(m.brasa_currents_errors_total.samples.map((x) => x.labels.connector), ['good']);
  } finally {
    await s2.stop();
    await new Promise((resolve) => rcv.close(resolve));
  }
});
