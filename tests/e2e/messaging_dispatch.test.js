// messaging_dispatch.test.js -- the dispatcher end to end: API-triggered
// campaigns with trigger_properties and users created on the way, a
// broadcast split between variations and a control group, retries and
// final errors of the webhook channel, a recipient whose Liquid aborts,
// and a SIGKILL in the middle of a 50,000-user broadcast: after the
// restart every user got the message, with at most the documented number
// of repeats (send/dispatch.h: DSP_CHUNK x DSP_WINDOW).
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const DUPLICATE_BOUND = 500 * 4; // DSP_CHUNK * DSP_WINDOW

const post = (srv, p, body) => h.request(srv, 'POST', p, { key: srv.key, body });
const get = (srv, p) => h.request(srv, 'GET', p, { key: srv.key });

async function campaign(srv, body) {
  const res = await post(srv, '/admin/campaigns', body);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function dispatchDone(srv, id, ms = 60000) {
  let d;
  await h.poll(async () => {
    d = (await get(srv, `/admin/dispatches/${id}`)).json;
    return d && d.state === 'done';
  }, { deadlineMs: ms, intervalMs: 100 });
  assert.equal(d.state, 'done', JSON.stringify(d));
  return d;
}

test('API-triggered campaign: trigger_properties per request and recipient, users created first', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'u1', first_name: 'Ann' }] });
    const c = await campaign(srv, {
      name: 'Order update', kind: 'api_triggered',
      variations: [{ name: 'Only', channel: 'webhook', content: {
        url: rx.url('/orders/{{${user_id}}}'), request_method: 'PUT',
        request_headers: { 'Content-Type': 'application/json' },
        body: '{"hi":"{{${first_name} | default: \'friend\'}}","coupon":"{{api_trigger_properties.${coupon}}}",' +
              '"shop":"{{api_trigger_properties.${shop}}}","campaign":"{{campaign.${api_id}}}"}',
      } }],
    });
    const res = await post(srv, '/campaigns/trigger/send', {
      campaign_id: c.campaign_id, trigger_properties: { coupon: 'TOP', shop: 'Lyon' },
      recipients: [
        { external_user_id: 'new1', send_to_existing_only: false, attributes: { first_name: 'Zoé' }, trigger_properties: { coupon: 'MINE' } },
        { external_user_id: 'u1' },
        { external_user_id: 'u1' }, // the same user twice: one message
        { external_user_id: 'nobody' }, // unknown, existing only: skipped
      ],
    });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['dispatch_id', 'message']);
    const d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.total, d.sent, d.errors, d.skipped], [2, 2, 0, 1]);
    const got = (await rx.quiet(500)).map((g) => ({ method: g.method, url: g.url, body: JSON.parse(g.body) }))
      .sort((a, b) => a.url.localeCompare(b.url));
    assert.deepEqual(got, [
      { method: 'PUT', url: '/orders/new1', body: { hi: 'Zoé', coupon: 'MINE', shop: 'Lyon', campaign: c.campaign_id } },
      { method: 'PUT', url: '/orders/u1', body: { hi: 'Ann', coupon: 'TOP', shop: 'Lyon', campaign: c.campaign_id } },
    ]);
    // The user was created by the send, with its attributes; trigger
    // properties are not stored on the profile.
    const ex = await post(srv, '/users/export/ids', { external_ids: ['new1'], fields_to_export: ['first_name', 'custom_attributes'] });
    assert.equal(ex.json.users[0].first_name, 'Zoé');
    assert.deepEqual(ex.json.users[0].custom_attributes ?? {}, {});
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('a triggered broadcast to the campaign segment: variations and a control group split every user once', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    const attributes = [];
    for (let i = 0; i < 300; i++) attributes.push({ external_id: `b${i}`, plan: i < 200 ? 'pro' : 'free' });
    for (let i = 0; i < attributes.length; i += 75) await h.usersApi(srv).trackOk({ attributes: attributes.slice(i, i + 75) });
    const seg = await post(srv, '/admin/segments', { name: 'pro', definition: { type: 'custom_attribute', name: 'plan', op: 'equals', value: 'pro' } });
    assert.equal(seg.status, 201, seg.text);
    const content = (tag) => ({ url: rx.url(`/${tag}`), request_method: 'POST', body: '{"u":"{{${user_id}}}","v":"{{campaign.${message_name}}}"}' });
    const c = await campaign(srv, {
      name: 'Split', kind: 'api_triggered', segment_id: seg.json.segment.id, control_percent: 20,
      variations: [{ name: 'A', channel: 'webhook', percent: 40, content: content('a') },
                   { name: 'B', channel: 'webhook', percent: 40, content: content('b') }],
    });
    const res = await post(srv, '/campaigns/trigger/send', { campaign_id: c.campaign_id, broadcast: true });
    assert.equal(res.status, 201, res.text);
    assert.ok(res.json.send_id, res.text); // a broadcast gets a send id
    const d = await dispatchDone(srv, res.json.dispatch_id);
    assert.equal(d.total, 200);
    const got = await rx.quiet(500);
    const users = got.map((g) => JSON.parse(g.body).u);
    assert.equal(new Set(users).size, users.length, 'nobody twice');
    for (const u of users) assert.ok(Number(u.slice(1)) < 200, `${u} is not in the segment`);
    const byVar = { A: 0, B: 0 };
    for (const g of got) byVar[JSON.parse(g.body).v]++;
    assert.equal(got.length, d.sent);
    // 200 users split 20/40/40 by a hash: loosely, each part is there.
    assert.ok(byVar.A > 40 && byVar.B > 40 && 200 - got.length > 10, JSON.stringify(byVar));
    const series = await get(srv, `/campaigns/data_series?campaign_id=${c.campaign_id}&length=1`);
    const rows = series.json.data[0].messages.webhook;
    const sent = rows.filter((r) => r.sent !== undefined).reduce((n, r) => n + r.sent, 0);
    const enrolled = rows.filter((r) => r.enrolled !== undefined).reduce((n, r) => n + r.enrolled, 0);
    assert.equal(sent, got.length);
    assert.equal(sent + enrolled, 200);
    assert.equal(series.json.data[0].unique_recipients, 200);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('webhook retries: 503 with Retry-After and 429 are retried, 500 until the last attempt is an error', async () => {
  const env = { BRASA_WEBHOOK_ATTEMPTS: '3', BRASA_WEBHOOK_BACKOFF_MS: '100' };
  const srv = await h.startServer({ env });
  const rx = await webhookReceiver({ statuses: [503, 429], headers: { 'Retry-After': '1' } });
  const bad = await webhookReceiver({ statuses: [500, 500, 500, 500] });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'r1' }, { external_id: 'r2' }] });
    const c = await campaign(srv, { name: 'Retry', kind: 'api', variations: [{ name: 'v', channel: 'webhook' }] });
    const v = c.variations[0].id;
    const send = (url, ids) => post(srv, '/messages/send', { campaign_id: c.campaign_id, external_user_ids: ids,
      messages: { webhook: { url, request_method: 'POST', body: 'x={{${user_id}}}', message_variation_id: v } } });
    const t0 = Date.now();
    let res = await send(rx.url(), ['r1']);
    assert.equal(res.status, 201, res.text);
    let d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.sent, d.errors], [1, 0]);
    assert.ok(Date.now() - t0 >= 2000, 'Retry-After: 1 was honoured twice');
    const got = await rx.quiet(300);
    assert.equal(got.length, 3);
    assert.equal(new Set(got.map((g) => g.headers['x-brasa-message-id'])).size, 1, 'one message id across attempts');
    assert.equal(got[2].headers['content-type'], 'application/x-www-form-urlencoded');

    res = await send(bad.url(), ['r2']);
    d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.sent, d.errors], [0, 1]);
    assert.equal((await bad.quiet(300)).length, 3);
    const series = await get(srv, `/campaigns/data_series?campaign_id=${c.campaign_id}&length=1`);
    assert.deepEqual(series.json.data[0].messages.webhook.map((r) => [r.sent, r.errors]), [[1, 1]]);
  } finally {
    await srv.stop();
    await rx.close();
    await bad.close();
  }
});

test('a recipient whose Liquid aborts gets nothing; the others are sent', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'ok1', vip: true }, { external_id: 'no1', vip: false }] });
    const res = await post(srv, '/messages/send', { external_user_ids: ['ok1', 'no1'], messages: { webhook: {
      url: rx.url(), request_method: 'POST',
      body: '{% if custom_attribute.${vip} != true %}{% abort_message("not a vip") %}{% endif %}{{${user_id}}}',
    } } });
    assert.equal(res.status, 201, res.text);
    const d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.total, d.sent, d.aborted], [2, 1, 1]);
    assert.deepEqual((await rx.quiet(300)).map((g) => g.body), ['ok1']);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('SIGKILL in the middle of a 50,000-user broadcast: after restart everyone got it, repeats within the bound', async () => {
  const N = 50000;
  const dir = h.makeDataDir();
  let srv = await h.startServer({ dir });
  const rx = await webhookReceiver();
  try {
    const api = h.usersApi(srv);
    const batch = [];
    for (let i = 0; i < N; i++) batch.push({ external_id: `k${i}`, n: i });
    const jobs = [];
    for (let i = 0; i < N; i += 75) jobs.push(batch.slice(i, i + 75));
    for (let i = 0; i < jobs.length; i += 8) await Promise.all(jobs.slice(i, i + 8).map((a) => api.trackOk({ attributes: a })));
    const seg = await post(srv, '/admin/segments', { name: 'all', definition: { type: 'custom_attribute', name: 'n', op: 'exists' } });
    assert.equal(seg.status, 201, seg.text);
    assert.equal(seg.json.segment.size, N);
    const c = await campaign(srv, { name: 'Big', kind: 'api', variations: [{ name: 'v', channel: 'webhook' }] });
    const res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, segment_id: seg.json.segment.id, broadcast: true,
      messages: { webhook: { url: rx.url(), request_method: 'POST', body: '{{${user_id}}}', message_variation_id: c.variations[0].id } } });
    assert.equal(res.status, 201, res.text);
    await rx.wait(N / 5, 120000);
    await srv.kill9();
    const before = rx.got.length;
    assert.ok(before < N, `the broadcast finished before the kill (${before})`);

    const key = srv.key;
    srv = await h.startServer({ dir });
    srv.key = key;
    const d = await dispatchDone(srv, res.json.dispatch_id, 180000);
    assert.equal(d.total, N);
    const got = await rx.quiet(500);
    const ids = new Map();
    for (const g of got) ids.set(g.headers['x-brasa-message-id'], g.body);
    const bodies = new Set(ids.values());
    assert.equal(bodies.size, N, 'every user got the message');
    for (let i = 0; i < N; i += 997) assert.ok(bodies.has(`k${i}`));
    const repeats = got.length - ids.size;
    assert.ok(repeats <= DUPLICATE_BOUND, `${repeats} repeats, more than ${DUPLICATE_BOUND}`);
    // Counters count each user once: what was recorded before the kill was
    // not recorded again.
    const series = await get(srv, `/campaigns/data_series?campaign_id=${c.campaign_id}&length=1`);
    assert.equal(series.json.data[0].messages.webhook[0].sent, N);
    assert.equal(d.sent, N);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('a URL that renders to something other than http(s) aborts that recipient; a triggered email campaign is refused', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'w1', hook: rx.url('/w1') }, { external_id: 'w2', hook: 'ftp://example.com/x' }] });
    let res = await post(srv, '/messages/send', { external_user_ids: ['w1', 'w2'], messages: { webhook: {
      url: '{{custom_attribute.${hook}}}', request_method: 'POST', body: '{{${user_id}}}' } } });
    assert.equal(res.status, 201, res.text);
    const d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.sent, d.aborted, d.errors], [1, 1, 0]);
    assert.deepEqual((await rx.quiet(300)).map((g) => g.url), ['/w1']);

    const c = await campaign(srv, { name: 'Mail', kind: 'api_triggered', variations: [{ name: 'm', channel: 'email',
      content: { app_id: 'a', from: 'Shop <shop@example.com>', subject: 'Hi', body: '<p>Hi</p>' } }] });
    res = await post(srv, '/campaigns/trigger/send', { campaign_id: c.campaign_id, recipients: [{ external_user_id: 'w1' }] });
    h.assertError(res, 400, `Bad Request: campaign '${c.campaign_id}' has an email variation, and no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)`);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('frequency caps: a capped user is skipped unless the request overrides them or the campaign does not obey them', async () => {
  const srv = await h.startServer();
  const rx = await webhookReceiver();
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'f1' }, { external_id: 'f2' }, { external_id: 'f3' }] });
    let res = await post(srv, '/admin/frequency_caps', { rules: [{ channel: 'webhook', max_messages: 1, period_hours: 24 }] });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await get(srv, '/admin/frequency_caps')).json, { rules: [{ channel: 'webhook', max_messages: 1, period_hours: 24 }] });
    const RULE = 'must be {"channel": "webhook"|"email"|"any", "max_messages": 1 to 1000000, "period_hours": 1 to 720}';
    for (const [bad, msg] of [
      [{ rules: [{ channel: 'sms', max_messages: 1, period_hours: 1 }] }, `rules[0] ${RULE}`],
      [{ rules: [{ channel: 'any', max_messages: 1, period_hours: 1 }, { channel: 'any', max_messages: 0, period_hours: 1 }] }, `rules[1] ${RULE}`],
      [{ rules: [{ channel: 'any', max_messages: 1, period_hours: 721 }] }, `rules[0] ${RULE}`],
      [{ rules: [{ channel: 'any', max_messages: 1, period_hours: 1, extra: 1 }] }, `rules[0] ${RULE}`],
      [{ rules: 'x' }, "'rules' must be an array of at most 10 rules"],
      [{ rules: Array(11).fill({ channel: 'any', max_messages: 1, period_hours: 1 }) }, "'rules' must be an array of at most 10 rules"],
      [{ rule: [] }, "unknown field 'rule'"],
      [[], 'the body must be a JSON object'],
    ]) {
      h.assertError(await post(srv, '/admin/frequency_caps', bad), 400, `Bad Request: ${msg}`);
    }
    // The refusals changed nothing.
    assert.deepEqual((await get(srv, '/admin/frequency_caps')).json, { rules: [{ channel: 'webhook', max_messages: 1, period_hours: 24 }] });
    const obeys = await campaign(srv, { name: 'Capped', kind: 'api', variations: [{ name: 'v', channel: 'webhook' }] });
    const free = await campaign(srv, { name: 'Free', kind: 'api', frequency_capping: false, variations: [{ name: 'v', channel: 'webhook' }] });
    const send = async (c, ids, extra = {}) => {
      const r = await post(srv, '/messages/send', { campaign_id: c.campaign_id, external_user_ids: ids, ...extra,
        messages: { webhook: { url: rx.url(), request_method: 'POST', body: '{{${user_id}}}', message_variation_id: c.variations[0].id } } });
      assert.equal(r.status, 201, r.text);
      return dispatchDone(srv, r.json.dispatch_id);
    };
    let d = await send(obeys, ['f1', 'f2']);
    assert.deepEqual([d.sent, d.skipped], [2, 0]);
    d = await send(obeys, ['f1', 'f2', 'f3']);
    assert.deepEqual([d.sent, d.skipped], [1, 2]);
    d = await send(obeys, ['f1', 'f2', 'f3'], { override_frequency_capping: true });
    assert.deepEqual([d.sent, d.skipped], [3, 0]);
    d = await send(free, ['f1']);
    assert.deepEqual([d.sent, d.skipped], [1, 0]);
    assert.equal((await rx.quiet(300)).length, 7);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('the Global Control Group gets no campaign message', async () => {
  const srv = await h.startServer({ args: ['--global-control-group', '10', '--global-control-group-start', '0'] });
  const rx = await webhookReceiver();
  try {
    const attributes = [];
    for (let i = 0; i < 150; i++) attributes.push({ external_id: `g${i}`, n: i });
    for (let i = 0; i < 150; i += 75) await h.usersApi(srv).trackOk({ attributes: attributes.slice(i, i + 75) });
    const ids = attributes.map((a) => a.external_id);
    const inGroup = new Set();
    for (let i = 0; i < ids.length; i += 50) {
      const ex = await post(srv, '/users/export/ids', { external_ids: ids.slice(i, i + 50), fields_to_export: ['external_id', 'random_bucket'] });
      for (const u of ex.json.users) if (u.random_bucket < 1000) inGroup.add(u.external_id);
    }
    assert.ok(inGroup.size > 0 && inGroup.size < 150, `${inGroup.size} users in the group`);
    const seg = await post(srv, '/admin/segments', { name: 'all', definition: { type: 'custom_attribute', name: 'n', op: 'exists' } });
    const c = await campaign(srv, { name: 'G', kind: 'api', variations: [{ name: 'v', channel: 'webhook' }] });
    const res = await post(srv, '/messages/send', { campaign_id: c.campaign_id, segment_id: seg.json.segment.id, broadcast: true,
      messages: { webhook: { url: rx.url(), request_method: 'POST', body: '{{${user_id}}}', message_variation_id: c.variations[0].id } } });
    const d = await dispatchDone(srv, res.json.dispatch_id);
    assert.deepEqual([d.total, d.sent, d.skipped], [150, 150 - inGroup.size, inGroup.size]);
    const got = new Set((await rx.quiet(300)).map((g) => g.body));
    for (const u of inGroup) assert.ok(!got.has(u), `${u} is in the Global Control Group`);
    assert.equal(got.size, 150 - inGroup.size);
  } finally {
    await srv.stop();
    await rx.close();
  }
});
