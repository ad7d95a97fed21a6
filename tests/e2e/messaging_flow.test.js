// messaging_flow.test.js -- SmarterSends' flow against the real binary: an
// operator creates an API campaign with two variations, the tool (a key
// with exactly SmarterSends' permissions and an IP allowlist) creates a
// send id, schedules a webhook per variation, updates one schedule,
// deletes another before it fires, and reads the send analytics back;
// the receiver gets exactly the rendered requests.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { webhookReceiver } = require('./webhook_receiver.js');

const SMARTERSENDS = ['users.track', 'users.export.ids', 'messages.schedule.create', 'messages.schedule.update',
                     'messages.schedule.delete', 'sends.id.create', 'segments.list', 'segments.data_series',
                     'segments.details', 'sends.data_series'];

let srv, rx;
before(async () => {
  srv = await h.startServer();
  rx = await webhookReceiver();
});
after(async () => {
  if (srv) await srv.stop();
  if (rx) await rx.close();
});

const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();

test('SmarterSends: campaign, send id, schedules (updated, deleted, fired), analytics', async () => {
  // The operator: an API campaign with one variation per sending group.
  let res = await admin('POST', '/admin/campaigns', {
    name: 'Local teams', kind: 'api', tags: ['smartersends'],
    variations: [{ name: 'North', channel: 'webhook' }, { name: 'South', channel: 'webhook' }],
  });
  assert.equal(res.status, 201, res.text);
  const campaignId = res.json.campaign_id;
  const [north, south] = res.json.variations;
  assert.match(campaignId, /^[0-9a-f-]{36}$/);
  assert.deepEqual([north.name, south.name], ['North', 'South']);

  // The tool's key: exactly its permissions, from this address only.
  const key = (await h.createKey(srv, srv.key, { name: 'smartersends', permissions: SMARTERSENDS, allow_ips: ['127.0.0.1'] })).key;
  const tool = (p, body) => h.request(srv, 'POST', p, { key, body });
  res = await tool('/users/track', { attributes: [
    { external_id: 'n1', first_name: 'Ann', team: 'north' },
    { external_id: 'n2', first_name: 'Bob', team: 'north' },
    { external_id: 's1', first_name: 'Cy', team: 'south' },
  ] });
  assert.equal(res.status, 201, res.text);

  res = await tool('/sends/id/create', { campaign_id: campaignId, send_id: 'week-49' });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { message: 'success', send_id: 'week-49' });

  const webhook = (variation, tag) => ({
    url: rx.url(`/hook/${tag}`), request_method: 'POST', request_headers: { 'Content-Type': 'application/json', 'X-Team': tag },
    body: `{"user":"{{\${user_id}}}","name":"{{\${first_name}}}","campaign":"{{campaign.\${name}}}","variation":"{{campaign.\${message_name}}}","dispatch":"{{campaign.\${dispatch_id}}}"}`,
    message_variation_id: variation,
  });
  const schedule = (ids, variation, tag, secs) => tool('/messages/schedule/create', {
    campaign_id: campaignId, send_id: 'week-49', external_user_ids: ids,
    schedule: { time: inSeconds(secs) }, messages: { webhook: webhook(variation, tag) },
  });
  const a = await schedule(['n1', 'n2'], north.id, 'north', 60);
  assert.equal(a.status, 201, a.text);
  assert.deepEqual(Object.keys(a.json).sort(), ['dispatch_id', 'message', 'schedule_id', 'send_id']);
  const b = await schedule(['s1'], south.id, 'south', 2);
  assert.equal(b.status, 201, b.text);
  const c = await schedule(['s1', 'n1'], south.id, 'never', 3);
  assert.equal(c.status, 201, c.text);

  // Delete c before it fires; bring a forward to 2 s and change its header.
  res = await tool('/messages/schedule/delete', { schedule_id: c.json.schedule_id });
  assert.equal(res.status, 201, res.text);
  const changed = webhook(north.id, 'north');
  changed.request_headers['X-Team'] = 'north-updated';
  res = await tool('/messages/schedule/update', { schedule_id: a.json.schedule_id, schedule: { time: inSeconds(2) },
                                                 messages: { webhook: changed } });
  assert.equal(res.status, 201, res.text);

  await rx.wait(3);
  const got = await rx.quiet(3000);
  assert.equal(got.length, 3, JSON.stringify(got.map((g) => g.url)));
  const bodies = got.map((g) => ({ path: g.url, team: g.headers['x-team'], body: JSON.parse(g.body) }))
    .sort((x, y) => x.body.user.localeCompare(y.body.user));
  assert.deepEqual(bodies, [
    { path: '/hook/north', team: 'north-updated', body: { user: 'n1', name: 'Ann', campaign: 'Local teams', variation: 'North', dispatch: a.json.dispatch_id } },
    { path: '/hook/north', team: 'north-updated', body: { user: 'n2', name: 'Bob', campaign: 'Local teams', variation: 'North', dispatch: a.json.dispatch_id } },
    { path: '/hook/south', team: 'south', body: { user: 's1', name: 'Cy', campaign: 'Local teams', variation: 'South', dispatch: b.json.dispatch_id } },
  ]);
  for (const g of got) {
    assert.equal(g.method, 'POST');
    assert.match(g.headers['x-brasa-message-id'], /^[0-9a-f]{24}-[0-9a-f]{24}-webhook$/);
    assert.equal(g.headers['content-type'], 'application/json');
  }

  // Once fired, a schedule can be neither updated nor deleted.
  res = await tool('/messages/schedule/delete', { schedule_id: b.json.schedule_id });
  h.assertError(res, 400, /^Bad Request: schedule '.*' has already been sent$/);
  res = await tool('/messages/schedule/update', { schedule_id: c.json.schedule_id, schedule: { time: inSeconds(60) } });
  h.assertError(res, 400, /^Bad Request: schedule '.*' has already been deleted$/);

  // Analytics: the send's series counts per variation; the campaign's too.
  const day = new Date().toISOString().slice(0, 10);
  await h.poll(async () => {
    const r = await h.request(srv, 'GET', `/sends/data_series?campaign_id=${campaignId}&send_id=week-49&length=1`, { key });
    return r.json.data[0].messages.webhook.reduce((n, v) => n + v.sent, 0) === 3;
  }, { deadlineMs: 5000 });
  res = await h.request(srv, 'GET', `/sends/data_series?campaign_id=${campaignId}&send_id=week-49&length=1`, { key });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.message, 'success');
  assert.equal(res.json.data.length, 1);
  assert.equal(res.json.data[0].time, day);
  const rows = Object.fromEntries(res.json.data[0].messages.webhook.map((v) => [v.variation_name, v]));
  assert.equal(rows.North.sent, 2);
  assert.equal(rows.South.sent, 1);
  assert.equal(rows.North.errors, 0);
  assert.equal(rows.North.unique_recipients, 2);
  assert.equal(res.json.data[0].unique_recipients, 3);

  res = await admin('GET', `/campaigns/data_series?campaign_id=${campaignId}&length=2`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.data.length, 2);
  const today = res.json.data[1];
  assert.equal(today.time, day);
  const byId = Object.fromEntries(today.messages.webhook.map((v) => [v.variation_api_id, v]));
  assert.deepEqual([byId[north.id].sent, byId[south.id].sent], [2, 1]);
  assert.deepEqual(res.json.data[0].messages.webhook, []);

  // The tool's key cannot read what SmarterSends was not granted.
  res = await h.request(srv, 'GET', `/campaigns/data_series?campaign_id=${campaignId}&length=2`, { key });
  assert.equal(res.status, 403, res.text);

  // What each user received, as the users export shows it.
  res = await h.request(srv, 'POST', '/users/export/ids', { key, body: { external_ids: ['n1'], fields_to_export: ['campaigns_received'] } });
  assert.equal(res.status, 201, res.text);
  const rcv = res.json.users[0].campaigns_received;
  assert.equal(rcv.length, 1);
  assert.equal(rcv[0].api_campaign_id, campaignId);
  assert.equal(rcv[0].variation_api_id, north.id);
  assert.equal(rcv[0].name, 'Local teams');
});
