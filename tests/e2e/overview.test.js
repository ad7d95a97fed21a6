// overview.test.js -- GET /admin/overview, the dashboard's first page: its
// shape (24 hourly points, oldest first, zeros where nothing happened), that
// its figures move by exactly what was sent through /users/track (profiles,
// events today, the last hour, the ingest rates, the journal) and with the
// admin routes (segments, campaigns, a Currents connector's lag), "today"
// from midnight in the workspace's time zone, and its errors.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./harness.js');

const srv = h.fileServer();

const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });

async function overview(query = '') {
  const res = await admin('GET', `/admin/overview${query}`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success', res.text);
  return res.json;
}

test('overview: the shape, and 24 hourly points ending with the current hour', async () => {
  const o = await overview();
  for (const k of ['profiles', 'cohorts', 'segments', 'campaigns', 'events_today']) assert.equal(typeof o[k], 'number', k);
  assert.equal(o.time_zone, 'UTC');
  assert.match(o.today_start, h.ISO_MS_RE);
  assert.equal(Date.parse(o.today_start) % 86400000, 0, 'UTC midnight');
  assert.equal(o.ingest.route, 'POST /users/track');
  for (const k of ['window_seconds', 'requests_per_second', 'objects_per_second']) assert.equal(typeof o.ingest[k], 'number', k);
  for (const k of ['journal_seq', 'checkpoint_seq', 'journal_pending_batches', 'commits', 'writes', 'writes_failed',
    'writes_per_commit', 'batch_max', 'commit_seconds_avg', 'wal_checkpoints'])
    assert.equal(typeof o.store[k], 'number', `store.${k}`);
  assert.equal(o.store.failed, false);
  assert.ok(o.store.last_checkpoint_at === null || h.ISO_MS_RE.test(o.store.last_checkpoint_at), o.store.last_checkpoint_at);
  assert.deepEqual(o.queues, { dispatches_sending: 0, recipients_pending: 0, postbacks_pending: 0, currents: [] });
  assert.equal(o.series.length, 24);
  const hour = Math.floor(Date.now() / 3600000) * 3600;
  assert.ok([hour, hour - 3600].includes(o.series[23].start), 'the last point is the current hour');
  o.series.forEach((p, i) => {
    assert.deepEqual(Object.keys(p), ['time', 'start', 'events']);
    assert.equal(p.start, o.series[23].start - (23 - i) * 3600, 'oldest first, an hour apart');
    assert.equal(p.time, new Date(p.start * 1000).toISOString());
    assert.equal(p.events, 0, 'nothing recorded yet: a 0, not a missing point');
  });
});

test('overview: unknown query parameters are ignored; a POST is 405; a key needs brasa.marketing', async () => {
  const o = await overview('?length=3&foo=bar');
  assert.equal(o.series.length, 24);
  h.assertError(await admin('POST', '/admin/overview', {}), 405, 'Method Not Allowed');
  h.assertError(await h.request(srv, 'GET', '/admin/overview'), 401, 'Invalid API key: ');
  const k = await h.createKey(srv, srv.key, { name: 'tracker', permissions: ['users.track'] });
  h.assertError(await h.request(srv, 'GET', '/admin/overview', { key: k.key }), 403,
    "Access Denied: this API key does not have the 'brasa.marketing' permission");
});

test('overview: the figures move by exactly what /users/track recorded', async () => {
  const users = h.usersApi(srv);
  const now = new Date().toISOString();
  // 3 events and 4 purchases (a quantity of 3 is 3, as Currents gets them)
  // for 2 new users, in 2 requests of 6 objects in all.
  const first = {
    attributes: [{ external_id: 'ov-a', first_name: 'Ann' }],
    events: [{ external_id: 'ov-a', name: 'opened', time: now }, { external_id: 'ov-b', name: 'opened', time: now }],
  };
  const second = {
    events: [{ external_id: 'ov-a', name: 'played', time: '2020-01-01T00:00:00Z' }], // recorded now, sent as old
    purchases: [
      { external_id: 'ov-a', product_id: 'p1', price: 1.5, currency: 'USD', time: now },
      { external_id: 'ov-b', product_id: 'p2', price: 2, currency: 'USD', quantity: 3, time: now },
    ],
  };
  // An hour (or a day) that turns between the two reads moves the window:
  // measured again then.
  for (let attempt = 0; ; attempt++) {
    const before0 = await overview();
    await users.trackOk(first);
    await users.trackOk(second);
    const after0 = await overview();
    if ((before0.series[23].start !== after0.series[23].start || before0.today_start !== after0.today_start) && attempt < 2)
      continue;
    if (attempt === 0) assert.equal(after0.profiles - before0.profiles, 2, 'two new users');
    else assert.equal(after0.profiles, before0.profiles);
    assert.equal(after0.events_today - before0.events_today, 7);
    assert.equal(after0.series[23].events - before0.series[23].events, 7);
    assert.equal(after0.series.slice(0, 23).reduce((s, p) => s + p.events, 0),
      before0.series.slice(0, 23).reduce((s, p) => s + p.events, 0), 'the earlier hours are as they were');
    assert.equal(after0.store.journal_seq - before0.store.journal_seq, 2, 'two batches journaled');
    assert.ok(after0.store.commits > before0.store.commits);
    if (attempt) break;
    // The rates measure from the ring's oldest sample when none is a minute
    // old: the first overview of this file, before which and since which
    // nothing but these two requests (6 objects) went to /users/track. A
    // request is counted once answered: wait for the count to land.
    const ingest = await h.poll(async () => {
      const o = (await overview()).ingest;
      return Math.round(o.requests_per_second * o.window_seconds) >= 2 ? o : null;
    });
    assert.ok(ingest, 'the requests were counted');
    assert.equal(Math.round(ingest.requests_per_second * ingest.window_seconds), 2);
    assert.equal(Math.round(ingest.objects_per_second * ingest.window_seconds), 6);
    break;
  }
});

test('overview: segments, campaigns and a paused Currents connector\'s lag', async () => {
  const before0 = await overview();
  let res = await admin('POST', '/admin/segments', {
    name: 'Openers', definition: { and: [{ type: 'custom_event', name: 'opened', op: 'count_ge', value: 1, days: 30 }] },
  });
  assert.equal(res.status, 201, res.text);
  res = await admin('POST', '/admin/campaigns', { name: 'Hello', kind: 'api', variations: [{ name: 'A', channel: 'webhook' }] });
  assert.equal(res.status, 201, res.text);
  res = await admin('POST', '/admin/currents', { name: 'later', type: 'custom_http', url: 'http://127.0.0.1:9/' });
  assert.equal(res.status, 201, res.text);
  const id = res.json.id;
  assert.equal((await admin('POST', `/admin/currents/${id}/pause`, {})).status, 200);
  const t = new Date().toISOString();
  await h.usersApi(srv).trackOk({ events: [{ external_id: 'ov-c', name: 'opened', time: t }, { external_id: 'ov-c', name: 'opened', time: t }] });
  const o = await overview();
  assert.equal(o.segments - before0.segments, 1);
  assert.equal(o.campaigns - before0.campaigns, 1);
  assert.equal(o.queues.currents.length, 1);
  const c = o.queues.currents[0];
  assert.deepEqual([c.id, c.name, c.type, c.paused, c.dead_letter], [id, 'later', 'custom_http', true, 0]);
  // The new user's lifecycle event too, maybe: at least the two events.
  assert.ok(c.lag_events >= 2, JSON.stringify(c));
  assert.equal(typeof c.lag_seconds, 'number');
  // Archived segments are left out.
  const seg = (await admin('GET', '/admin/segments')).json.segments.find((s) => s.name === 'Openers');
  assert.equal((await admin('POST', `/admin/segments/${seg.segment_id || seg.id}`, { archived: true })).status, 200);
  assert.equal((await overview()).segments, before0.segments);
});

test('overview: a send in progress is a dispatch sending until its webhook answers', async () => {
  // A webhook that holds its answer until released.
  let release;
  const held = new Promise((r) => { release = r; });
  const rx = http.createServer((req, res) => { req.resume(); held.then(() => res.end('ok')); });
  await new Promise((r) => rx.listen(0, '127.0.0.1', r));
  try {
    const t = new Date().toISOString();
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ov-d', first_name: 'Dee' }] });
    const res = await admin('POST', '/messages/send', { external_user_ids: ['ov-d'], messages: { webhook: {
      url: `http://127.0.0.1:${rx.address().port}/hook`, request_method: 'POST', body: t } } });
    assert.equal(res.status, 201, res.text);
    const sending = await h.poll(async () => ((await overview()).queues.dispatches_sending === 1 ? true : null), { deadlineMs: 10000 });
    assert.ok(sending, 'the dispatch shows as sending while its webhook is held');
    release();
    const done = await h.poll(async () => {
      const q = (await overview()).queues;
      return q.dispatches_sending === 0 && q.recipients_pending === 0 ? q : null;
    }, { deadlineMs: 10000 });
    assert.ok(done, 'and no longer once it answered');
  } finally {
    release();
    rx.closeAllConnections();
    await new Promise((r) => rx.close(r));
  }
});

test('overview: today starts at midnight in the workspace\'s time zone', async () => {
  // Kathmandu: UTC+5:45 all year, a midnight off the UTC quarter hours' grid of whole hours.
  const res = await admin('POST', '/admin/workspace', { time_zone: 'Asia/Kathmandu' });
  assert.equal(res.status, 200, res.text);
  const o = await overview();
  assert.equal(o.time_zone, 'Asia/Kathmandu');
  const start = Date.parse(o.today_start), off = (5 * 60 + 45) * 60000;
  assert.equal((start + off) % 86400000, 0, o.today_start);
  assert.ok(start <= Date.now() && Date.now() - start < 86400000, o.today_start);
  // Every event of this test file was recorded after that midnight, or
  // within the hour (the file runs in seconds): at least as many as the
  // last hour holds, once the hour is past Kathmandu's midnight.
  if (Date.now() - start >= 3600000) assert.ok(o.events_today >= o.series[23].events, JSON.stringify(o));
});
