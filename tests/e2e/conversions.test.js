// conversions.test.js -- campaign conversions end to end (send/convert.h):
// a campaign with two conversion behaviours sent to 3 users, then custom
// events and purchases by recipients (once, twice, with a time before the
// send) and by a user who received nothing; the counters and revenue of
// /campaigns/data_series and of the send's /sends/data_series, the
// users.campaigns.Conversion events (with the send id and dispatch id of
// the message that converted), and a restart that counts nothing twice.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });

function sql(dir, query) {
  const r = spawnSync('sqlite3', [path.join(dir, 'brasa.db'), query], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function series(srv, id) {
  const res = await get(srv, `/campaigns/data_series?campaign_id=${id}&length=1`);
  assert.equal(res.status, 200, res.text);
  const d = res.json.data[0];
  return { conversions: d.conversions, conversions1: d.conversions1, revenue: d.revenue,
           by_send_time: [d.conversions_by_send_time, d.conversions1_by_send_time] };
}

async function settle(srv, id, want) {
  let s;
  await h.poll(async () => {
    s = await series(srv, id);
    return s.conversions === want.conversions && s.conversions1 === want.conversions1 && s.revenue === want.revenue;
  }, { deadlineMs: 10000, intervalMs: 100 });
  // and nothing more comes
  await new Promise((r) => setTimeout(r, 800));
  return series(srv, id);
}

test('conversions: counted once per behaviour and message, revenue, events, and a restart counts nothing twice', async () => {
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  const rx = await webhookReceiver();
  try {
    const api = h.usersApi(srv);
    await api.trackOk({ attributes: ['u1', 'u2', 'u3', 'u4'].map((id) => ({ external_id: id })) });
    const before = new Date(Date.now() - 3600 * 1000).toISOString();
    const c = await post(srv, '/admin/campaigns', {
      name: 'Conv', kind: 'api', variations: [{ name: 'Only', channel: 'webhook' }],
      conversion_events: [{ type: 'performs_custom_event', name: 'bought', window_hours: 24 }, { type: 'makes_purchase' }],
    });
    assert.equal(c.status, 201, c.text);
    const cid = c.json.campaign_id, vid = c.json.variations[0].id;
    const sendId = (await post(srv, '/sends/id/create', { campaign_id: cid, send_id: 'spring' })).json.send_id;
    assert.equal(sendId, 'spring');
    const res = await post(srv, '/messages/send', {
      campaign_id: cid, send_id: sendId, external_user_ids: ['u1', 'u2', 'u3'],
      messages: { webhook: { url: rx.url(), request_method: 'POST', body: '{{${user_id}}}', message_variation_id: vid } },
    });
    assert.equal(res.status, 201, res.text);
    let d;
    await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${res.json.dispatch_id}`)).json).state === 'done',
      { deadlineMs: 30000, intervalMs: 100 });
    assert.equal(d.sent, 3, JSON.stringify(d));
    await new Promise((r) => setTimeout(r, 1100)); // event times are whole seconds

    const now = () => new Date().toISOString();
    // u1: 'bought' twice -> one conversion of behaviour 0
    await api.trackOk({ events: [{ external_id: 'u1', name: 'bought', time: now() }] });
    await api.trackOk({ events: [{ external_id: 'u1', name: 'bought', time: now() }] });
    // u2: a purchase of 2 x 10 -> one conversion of behaviour 1, revenue 20; and 'bought' -> behaviour 0
    await api.trackOk({ purchases: [{ external_id: 'u2', product_id: 'p1', currency: 'USD', price: 10, quantity: 2, time: now() }] });
    await api.trackOk({ events: [{ external_id: 'u2', name: 'bought', time: now() }] });
    // u3: 'bought' and a purchase an hour before the send: nothing; another event: nothing
    await api.trackOk({ events: [{ external_id: 'u3', name: 'bought', time: before }, { external_id: 'u3', name: 'other', time: now() }],
                        purchases: [{ external_id: 'u3', product_id: 'p1', currency: 'USD', price: 5, time: before }] });
    // u4 received nothing
    await api.trackOk({ events: [{ external_id: 'u4', name: 'bought', time: now() }],
                        purchases: [{ external_id: 'u4', product_id: 'p1', currency: 'USD', price: 7, time: now() }] });

    const want = { conversions: 2, conversions1: 1, revenue: 20, by_send_time: [2, 1] };
    assert.deepEqual(await settle(srv, cid, want), want);

    // The Currents events: one per conversion, with their behaviour.
    const events = () => JSON.parse(sql(dir, "SELECT json_group_array(e.value) FROM message_outbox, json_each(events) e " +
      "WHERE json_extract(e.value, '$.event_type') = 'users.campaigns.Conversion'")).map((e) => (typeof e === 'string' ? JSON.parse(e) : e));
    let evs = events();
    assert.equal(evs.length, 3, JSON.stringify(evs));
    const byUser = (ext, k) => evs.find((e) => e.external_user_id === ext && e.conversion_behavior_index === k);
    const e1 = byUser('u1', 0);
    assert.ok(e1, JSON.stringify(evs));
    assert.equal(e1.campaign_id, cid);
    assert.equal(e1.campaign_name, 'Conv');
    assert.equal(e1.message_variation_id, vid);
    assert.equal(e1.message_variation_name, 'Only');
    assert.deepEqual(JSON.parse(e1.conversion_behavior), { type: 'performs_custom_event', name: 'bought', window_hours: 24 });
    assert.match(e1.user_id, h.BRAZE_ID_RE);
    assert.equal(typeof e1.time, 'number');
    assert.ok(byUser('u2', 0) && byUser('u2', 1), JSON.stringify(evs));
    assert.deepEqual(JSON.parse(byUser('u2', 1).conversion_behavior), { type: 'makes_purchase', window_hours: 72 });
    assert.equal(new Set(evs.map((e) => e.id)).size, 3);
    // ... and the send that converted: its send id and dispatch id, and
    // the send's own series counts them.
    for (const e of evs) assert.deepEqual([e.send_id, e.dispatch_id], [sendId, res.json.dispatch_id], JSON.stringify(e));
    const sendSeries = await get(srv, `/sends/data_series?campaign_id=${cid}&send_id=${sendId}&length=1`);
    const row = sendSeries.json.data[0].messages.webhook[0];
    assert.deepEqual([row.sent, row.conversions, row.revenue], [3, 2, 20], sendSeries.text);

    // A restart: the cursor was recorded with the counts; nothing is counted
    // again, and a recipient who converted already does not convert again.
    const key = srv.key;
    await srv.stop();
    srv = await h.startServer({ dir });
    srv.key = key;
    await h.usersApi(srv).trackOk({ events: [{ external_id: 'u1', name: 'bought', time: now() }] });
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await settle(srv, cid, want), want);
    evs = events();
    assert.equal(evs.length, 3);
    assert.equal(Number(sql(dir, 'SELECT count(*) FROM conversions')), 3);
    const cursor = Number(sql(dir, 'SELECT seq FROM conversion_cursor'));
    assert.equal(cursor, Number(sql(dir, 'SELECT max(seq) FROM outbox')));
  } finally {
    await srv.stop();
    await rx.close();
    require('node:fs').rmSync(dir, { recursive: true, force: true });
  }
});

test('conversions of a control group are counted in its row, not in the totals; a SIGKILL loses and repeats nothing', async () => {
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  const rx = await webhookReceiver();
  try {
    const N = 40;
    const ids = Array.from({ length: N }, (_, i) => `c${i}`);
    await h.usersApi(srv).trackOk({ attributes: ids.map((id) => ({ external_id: id })) });
    const c = await post(srv, '/admin/campaigns', {
      name: 'Lift', kind: 'api_triggered', control_percent: 50,
      variations: [{ name: 'V', channel: 'webhook', content: { url: rx.url(), request_method: 'POST', body: '{{${user_id}}}' } }],
      conversion_events: [{ type: 'performs_custom_event', name: 'came_back' }],
    });
    assert.equal(c.status, 201, c.text);
    const cid = c.json.campaign_id;
    const res = await post(srv, '/campaigns/trigger/send', { campaign_id: cid, recipients: ids.map((id) => ({ external_user_id: id })) });
    assert.equal(res.status, 201, res.text);
    let d;
    await h.poll(async () => (d = (await get(srv, `/admin/dispatches/${res.json.dispatch_id}`)).json).state === 'done',
      { deadlineMs: 30000, intervalMs: 100 });
    const sent = (await rx.quiet(300)).length;
    assert.equal(sent, d.sent);
    assert.ok(sent > 0 && sent < N, `${sent} of ${N} sent`);
    await new Promise((r) => setTimeout(r, 1100));
    const t = new Date().toISOString();
    await h.usersApi(srv).trackOk({ events: ids.map((id) => ({ external_id: id, name: 'came_back', time: t })) });

    const counts = async () => {
      const s = (await get(srv, `/campaigns/data_series?campaign_id=${cid}&length=1`)).json.data[0];
      const rows = s.messages.webhook;
      const ctl = rows.find((r) => r.enrolled !== undefined);
      return { total: s.conversions, control: ctl ? ctl.conversions : 0, enrolled: ctl ? ctl.enrolled : 0 };
    };
    const want = { total: sent, control: N - sent, enrolled: N - sent };
    let got;
    await h.poll(async () => (got = await counts()).total === want.total && got.control === want.control,
      { deadlineMs: 10000, intervalMs: 100 });
    assert.deepEqual(got, want);

    // SIGKILL: the batch recorded stays recorded once; events after the
    // restart by users who converted already count nothing.
    const key = srv.key;
    await srv.kill9();
    srv = await h.startServer({ dir });
    srv.key = key;
    await h.usersApi(srv).trackOk({ events: ids.slice(0, 10).map((id) => ({ external_id: id, name: 'came_back', time: new Date().toISOString() })) });
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await counts(), want);
    assert.equal(Number(sql(dir, 'SELECT count(*) FROM conversions')), N);
    assert.equal(Number(sql(dir, 'SELECT seq FROM conversion_cursor')), Number(sql(dir, 'SELECT max(seq) FROM outbox')));
  } finally {
    await srv.stop();
    await rx.close();
    require('node:fs').rmSync(dir, { recursive: true, force: true });
  }
});
