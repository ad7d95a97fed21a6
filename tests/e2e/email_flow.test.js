// email_flow.test.js -- SmarterSends' flow with the email channel: an API
// campaign with two email variations, a send id, a schedule per variation
// (one updated, one deleted before it fires), the messages arriving at a
// real SMTP server with each variation's rendered subject and body, and
// sends/data_series counting them; then an API-triggered campaign whose
// stored email content is rendered with trigger_properties.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

const SMARTERSENDS = ['users.track', 'users.export.ids', 'messages.schedule.create', 'messages.schedule.update',
                     'messages.schedule.delete', 'sends.id.create', 'segments.list', 'segments.data_series',
                     'segments.details', 'sends.data_series'];
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();

test('SmarterSends with email: two variations, schedules updated, deleted and fired, the analytics', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
  try {
    let res = await admin('POST', '/admin/campaigns', { name: 'Local teams', kind: 'api',
      variations: [{ name: 'North', channel: 'email' }, { name: 'South', channel: 'email' }] });
    assert.equal(res.status, 201, res.text);
    const campaignId = res.json.campaign_id;
    const [north, south] = res.json.variations;
    const key = (await h.createKey(srv, srv.key, { name: 'smartersends', permissions: SMARTERSENDS, allow_ips: ['127.0.0.1'] })).key;
    const tool = (p, body) => h.request(srv, 'POST', p, { key, body });
    res = await tool('/users/track', { attributes: [
      { external_id: 'n1', first_name: 'Ann', email: 'ann@north.example' },
      { external_id: 'n2', first_name: 'Bob', email: 'bob@north.example' },
      { external_id: 's1', first_name: 'Cy', email: 'cy@south.example' },
    ] });
    assert.equal(res.status, 201, res.text);
    assert.equal((await tool('/sends/id/create', { campaign_id: campaignId, send_id: 'week-49' })).status, 201);

    const email = (variation, team, subject = `${team}: hello {{\${first_name}}}`) => ({
      app_id: 'web', message_variation_id: variation, from: `${team} team <${team}@brand.example>`, subject,
      body: `<p>Hi {{\${first_name}}}, news from {{campaign.\${message_name}}}.</p>`,
    });
    const schedule = (ids, variation, team, secs) => tool('/messages/schedule/create', {
      campaign_id: campaignId, send_id: 'week-49', external_user_ids: ids,
      schedule: { time: inSeconds(secs) }, messages: { email: email(variation, team) } });
    const a = await schedule(['n1', 'n2'], north.id, 'north', 60);
    const b = await schedule(['s1'], south.id, 'south', 2);
    const c = await schedule(['s1', 'n1'], south.id, 'never', 3);
    for (const x of [a, b, c]) assert.equal(x.status, 201, x.text);
    assert.equal((await tool('/messages/schedule/delete', { schedule_id: c.json.schedule_id })).status, 201);
    res = await tool('/messages/schedule/update', { schedule_id: a.json.schedule_id, schedule: { time: inSeconds(2) },
      messages: { email: email(north.id, 'north', 'north (updated): hello {{${first_name}}}') } });
    assert.equal(res.status, 201, res.text);

    await rx.wait(3);
    await new Promise((r) => setTimeout(r, 2500)); // the deleted one would have come by now
    const got = rx.got.map((m) => ({ to: m.rcpt_tos[0], from: m.mail_from, ...parseEmail(m.data) }))
      .sort((x, y) => x.to.localeCompare(y.to));
    assert.deepEqual(got.map((m) => [m.to, m.from, m.headers.subject[0], m.defects.length]), [
      ['ann@north.example', 'north@brand.example', 'north (updated): hello Ann', 0],
      ['bob@north.example', 'north@brand.example', 'north (updated): hello Bob', 0],
      ['cy@south.example', 'south@brand.example', 'south: hello Cy', 0],
    ]);
    assert.match(got[0].html, /Hi Ann, news from North\./);
    assert.match(got[2].text, /Hi Cy, news from South\./);

    let rows;
    await h.poll(async () => {
      const r = await h.request(srv, 'GET', `/sends/data_series?campaign_id=${campaignId}&send_id=week-49&length=1`, { key });
      rows = Object.fromEntries(r.json.data[0].messages.email.map((v) => [v.variation_name, v]));
      return rows.North?.delivered === 2 && rows.South?.delivered === 1;
    }, { deadlineMs: 5000 });
    assert.deepEqual([rows.North.sent, rows.North.delivered, rows.North.bounces, rows.North.unique_recipients], [2, 2, 0, 2]);
    assert.deepEqual([rows.South.sent, rows.South.delivered], [1, 1]);
  } finally {
    await srv.stop();
    rx.close();
  }
});

test('an API-triggered campaign with stored email content, rendered with trigger_properties', async () => {
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  const admin = (method, p, body) => h.request(srv, method, p, { key: srv.key, body });
  try {
    await h.usersApi(srv).trackOk({ attributes: [{ external_id: 'u1', first_name: 'Zoé', email: 'zoe@example.com' }] });
    const res = await admin('POST', '/admin/campaigns', { name: 'Receipt', kind: 'api_triggered', variations: [{
      name: 'Only', channel: 'email', content: { app_id: 'web', from: 'Shop <orders@shop.example>',
        subject: 'Order {{api_trigger_properties.${order}}} confirmed', body: '<p>Merci {{${first_name}}}!</p>' } }] });
    assert.equal(res.status, 201, res.text);
    const sent = await admin('POST', '/campaigns/trigger/send', { campaign_id: res.json.campaign_id,
      recipients: [{ external_user_id: 'u1', trigger_properties: { order: 'A-17' } }] });
    assert.equal(sent.status, 201, sent.text);
    await rx.wait(1);
    const m = parseEmail(rx.got[0].data);
    assert.deepEqual(m.defects, []);
    assert.deepEqual(m.headers.subject, ['Order A-17 confirmed']);
    assert.deepEqual(m.headers.from, ['Shop <orders@shop.example>']);
    assert.match(m.html, /Merci Zoé!/);
  } finally {
    await srv.stop();
    rx.close();
  }
});
