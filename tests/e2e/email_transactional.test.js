// email_transactional.test.js -- Braze's transactional email end to end:
// POST /transactional/v1/campaigns/{campaign_id}/send delivers one email
// through a real SMTP server (aiosmtpd) to one user, whatever the user's
// subscription state, with trigger_properties and a template behind the
// campaign's variation; recipient attributes create the user; an
// external_send_id repeated within a day sends nothing more; the delivery
// postbacks (sent, processed, delivered / bounced / aborted) reach the
// campaign's postback_url in Braze's body; and every refusal, with its
// status and message.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');
const { smtpReceiver, parseEmail } = require('./smtp_receiver.js');

let srv, rx, cb;
before(async () => {
  rx = await smtpReceiver();
  cb = await h.callbackServer();
  srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
});
after(async () => {
  if (srv) await srv.stop();
  if (rx) rx.close();
  if (cb) await cb.close();
});

const post = (p, body, key = srv.key) => h.request(srv, 'POST', p, { key, body });
const get = (p) => h.request(srv, 'GET', p, { key: srv.key });
const send = (cid, body, key) => post(`/transactional/v1/campaigns/${cid}/send`, body, key);

async function done(id) {
  let d;
  await h.poll(async () => (d = (await get(`/admin/dispatches/${id}`)).json).state === 'done', { deadlineMs: 30000, intervalMs: 100 });
  return d;
}

// The postbacks of one dispatch, once n of them came.
async function postbacks(dispatchId, n) {
  const mine = () => cb.got.filter((g) => g.body.dispatch_id === dispatchId);
  await h.poll(async () => mine().length >= n, { deadlineMs: 30000, intervalMs: 50 });
  assert.equal(mine().length, n, JSON.stringify(mine().map((g) => g.body)));
  return mine().map((g) => g.body);
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/;
let campaign, template;

async function transactionalCampaign(extra = {}) {
  const res = await post('/admin/campaigns', { name: 'Receipt', kind: 'transactional', postback_url: cb.url, variations: [{
    name: 'Email', channel: 'email',
    content: { app_id: 'app', from: 'Shop <shop@brand.example>', email_template_id: template, subject: 'Order {{api_trigger_properties.${order}}}' },
  }], ...extra });
  assert.equal(res.status, 201, res.text);
  return res.json.campaign_id;
}

test('a transactional send: one email, whatever the subscription state, with postbacks sent, processed, delivered', async () => {
  template = (await post('/templates/email/create', { template_name: 'Receipt', subject: 'unused',
    body: '<p>Hi {{${first_name}}}, order {{api_trigger_properties.${order}}} is confirmed.</p>' +
          '{% if api_trigger_properties.${stop} %}{% abort_message("stopped by the template") %}{% endif %}' })).json.email_template_id;
  campaign = await transactionalCampaign();
  await h.usersApi(srv).trackOk({ attributes: [
    { external_id: 'ursula', email: 'ursula@example.com', first_name: 'Ursula', email_subscribe: 'unsubscribed' },
    { external_id: 'noaddr', first_name: 'No' },
    { external_id: 'bouncer', email: 'bounce-b@example.com', first_name: 'B' },
  ] });
  const n = rx.got.length;
  const res = await send(campaign, { external_send_id: 'b3JkZXItMTc=', trigger_properties: { order: 'A-17' },
    recipient: { external_user_id: 'ursula' } });
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.dispatch_id, /^[0-9a-f]{24}$/);
  assert.deepEqual(res.json, { dispatch_id: res.json.dispatch_id, status: 'queued',
    metadata: { external_send_id: 'b3JkZXItMTc=', campaign_api_id: campaign }, message: 'success' });
  const d = await done(res.json.dispatch_id);
  assert.deepEqual([d.total, d.sent, d.campaign_id], [1, 1, campaign]);
  await rx.wait(n + 1);
  const m = parseEmail(rx.got[n].data);
  assert.deepEqual(m.defects, []);
  assert.deepEqual(rx.got[n].rcpt_tos, ['ursula@example.com']);
  assert.deepEqual(m.headers.subject, ['Order A-17']);
  assert.match(m.html, /Hi Ursula, order A-17 is confirmed\./);

  const pb = await postbacks(res.json.dispatch_id, 3);
  assert.deepEqual(pb.map((b) => b.status), ['sent', 'processed', 'delivered']);
  for (const b of pb) {
    assert.equal(b.dispatch_id, res.json.dispatch_id);
    assert.equal(b.metadata.campaign_api_id, campaign);
    assert.equal(b.metadata.external_send_id, 'b3JkZXItMTc=');
  }
  assert.deepEqual(Object.keys(pb[0].metadata).sort(),
                   ['campaign_api_id', 'enqueued_at', 'executed_at', 'external_send_id', 'received_at', 'sent_at']);
  for (const k of ['received_at', 'enqueued_at', 'executed_at', 'sent_at']) assert.match(pb[0].metadata[k], TIME);
  assert.match(pb[1].metadata.processed_at, TIME);
  assert.match(pb[2].metadata.delivered_at, TIME);
  assert.equal(cb.got.find((g) => g.body.dispatch_id === res.json.dispatch_id).headers['content-type'], 'application/json');

  // The same external_send_id again: the first dispatch, nothing sent.
  const again = await send(campaign, { external_send_id: 'b3JkZXItMTc=', trigger_properties: { order: 'A-18' },
    recipient: { external_user_id: 'ursula' } });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.dispatch_id, res.json.dispatch_id);
  // Another id sends again (and is the only new message).
  const other = await send(campaign, { external_send_id: 'order+19/x=', trigger_properties: { order: 'A-19' },
    recipient: { external_user_id: 'ursula' } });
  assert.equal(other.status, 201, other.text);
  assert.notEqual(other.json.dispatch_id, res.json.dispatch_id);
  await done(other.json.dispatch_id);
  await rx.wait(n + 2);
  assert.equal(rx.got.length, n + 2);
  assert.deepEqual(parseEmail(rx.got[n + 1].data).headers.subject, ['Order A-19']);
  // Without an external_send_id there is none to repeat, and none in the postbacks.
  const plain = await send(campaign, { trigger_properties: { order: 'A-20' }, recipient: { external_user_id: 'ursula' } });
  assert.equal(plain.status, 201, plain.text);
  assert.deepEqual(plain.json.metadata, { campaign_api_id: campaign });
  const ppb = await postbacks(plain.json.dispatch_id, 3);
  assert.equal(ppb[0].metadata.external_send_id, undefined);
});

test('recipient attributes create the user; a user alias is a recipient too', async () => {
  const n = rx.got.length;
  const res = await send(campaign, { trigger_properties: { order: 'N-1' },
    recipient: { external_user_id: 'newbie', attributes: { email: 'newbie@example.com', first_name: 'Nia' } } });
  assert.equal(res.status, 201, res.text);
  assert.equal((await done(res.json.dispatch_id)).sent, 1);
  await rx.wait(n + 1);
  assert.match(parseEmail(rx.got[n].data).html, /Hi Nia, order N-1/);
  const u = await post('/users/export/ids', { external_ids: ['newbie'], fields_to_export: ['email', 'first_name'] });
  assert.deepEqual([u.json.users[0].email, u.json.users[0].first_name], ['newbie@example.com', 'Nia']);

  const al = await send(campaign, { trigger_properties: { order: 'AL-1' }, recipient: {
    user_alias: { alias_name: 'guest-9', alias_label: 'checkout' }, attributes: { email: 'guest9@example.com', first_name: 'Gus' } } });
  assert.equal(al.status, 201, al.text);
  assert.equal((await done(al.json.dispatch_id)).sent, 1);
  await rx.wait(n + 2);
  assert.match(parseEmail(rx.got[n + 1].data).html, /Hi Gus, order AL-1/);
});

test('postbacks of what is not delivered: bounced with the relay answer, aborted with the reason', async () => {
  let res = await send(campaign, { external_send_id: 'bnc', trigger_properties: { order: 'B' }, recipient: { external_user_id: 'bouncer' } });
  assert.equal(res.status, 201, res.text);
  let pb = await postbacks(res.json.dispatch_id, 2);
  assert.deepEqual(pb.map((b) => b.status), ['sent', 'bounced']);
  assert.match(pb[1].metadata.bounced_at, TIME);
  assert.match(pb[1].metadata.reason, /^550/);
  assert.equal(pb[1].metadata.external_send_id, 'bnc');

  res = await send(campaign, { trigger_properties: { order: 'C' }, recipient: { external_user_id: 'noaddr' } });
  pb = await postbacks(res.json.dispatch_id, 1);
  assert.equal(pb[0].status, 'aborted');
  assert.equal(pb[0].metadata.reason, 'User not emailable');
  assert.match(pb[0].metadata.aborted_at, TIME);

  res = await send(campaign, { trigger_properties: { order: 'D' }, recipient: { external_user_id: 'nobody-at-all' } });
  assert.equal(res.status, 201, res.text);
  pb = await postbacks(res.json.dispatch_id, 1);
  assert.deepEqual([pb[0].status, pb[0].metadata.reason], ['aborted', 'User does not exist']);

  res = await send(campaign, { trigger_properties: { order: 'E', stop: true }, recipient: { external_user_id: 'ursula' } });
  pb = await postbacks(res.json.dispatch_id, 1);
  assert.equal(pb[0].status, 'aborted');
  assert.match(pb[0].metadata.reason, /stopped by the template/);
  assert.equal((await done(res.json.dispatch_id)).aborted, 1);
});

test('refusals: the campaign, the body, the key, the server without a relay', async () => {
  const body = { recipient: { external_user_id: 'ursula' } };
  h.assertError(await send('no-such-campaign', body), 400, 'Campaign does not exist');
  h.assertError(await send('x'.repeat(65), body), 400, 'campaign_id must be a string of the campaign api identifier');
  const trig = (await post('/admin/campaigns', { name: 'Trig', kind: 'api_triggered', variations: [{ channel: 'email',
    content: { app_id: 'app', from: 'shop@brand.example', subject: 's', body: 'b' } }] })).json.campaign_id;
  h.assertError(await send(trig, body), 400,
                'The campaign is not a transactional campaign. Only transactional campaigns may use this endpoint');
  const archived = await transactionalCampaign({ name: 'Old', archived: true });
  h.assertError(await send(archived, body), 400,
                'The campaign is archived. Unarchive the campaign in order for trigger requests to take effect.');
  const paused = await transactionalCampaign({ name: 'Paused', draft: true });
  h.assertError(await send(paused, body), 400,
                'The campaign is paused. Resume the campaign in order for trigger requests to take effect.');

  h.assertError(await send(campaign, {}), 400, "Bad Request: 'recipient' is required (an object)");
  h.assertError(await send(campaign, { recipient: [] }), 400, "Bad Request: 'recipient' is required (an object)");
  h.assertError(await send(campaign, { recipient: {} }), 400,
                'Bad Request: recipient needs exactly one of external_user_id or user_alias');
  h.assertError(await send(campaign, { recipient: { external_user_id: 'a', user_alias: { alias_name: 'a', alias_label: 'b' } } }), 400,
                'Bad Request: recipient needs exactly one of external_user_id or user_alias');
  h.assertError(await send(campaign, { recipient: { external_user_id: 7 } }), 400,
                'Bad Request: recipient.external_user_id must be a non-empty string');
  h.assertError(await send(campaign, { recipient: { user_alias: { alias_name: 'a' } } }), 400,
                'Bad Request: recipient.user_alias must be an object with string alias_name and alias_label');
  h.assertError(await send(campaign, { recipient: { external_user_id: 'a', attributes: [] } }), 400,
                'Bad Request: recipient.attributes must be an object');
  h.assertError(await send(campaign, { recipient: { external_user_id: 'a', email: 'a@b.c' } }), 400,
                "Bad Request: recipient: unknown field 'email'");
  h.assertError(await send(campaign, { ...body, recipients: [] }), 400, "Bad Request: unknown field 'recipients'");
  for (const bad of ['has space', 'a.b', '', 'ü', 7, 'x'.repeat(256)])
    h.assertError(await send(campaign, { ...body, external_send_id: bad }), 400,
                  /^Bad Request: 'external_send_id' must be a string of 1 to 255 characters of A-Z/);
  h.assertError(await send(campaign, { ...body, trigger_properties: 'x' }), 400, "Bad Request: 'trigger_properties' must be an object");
  h.assertError(await send(campaign, { ...body, trigger_properties: { big: 'x'.repeat(51 * 1024) } }), 400,
                "Bad Request: 'trigger_properties' is larger than 50 KB");
  h.assertError(await send(campaign, [body]), 400, 'Bad Request: the body must be a JSON object');

  const key = await h.createKey(srv, srv.key, { name: 'no-tx', permissions: ['campaigns.trigger.send'] });
  h.assertError(await send(campaign, body, key.key), 403, /^Access Denied.*transactional\.send/);
  const txKey = await h.createKey(srv, srv.key, { name: 'tx', permissions: ['transactional.send'] });
  assert.equal((await send(campaign, body, txKey.key)).status, 201);

  // A transactional campaign is sent through its own endpoint only.
  h.assertError(await post('/campaigns/trigger/send', { campaign_id: campaign, recipients: [{ external_user_id: 'ursula' }] }), 400,
                `Invalid Campaign ID: campaign '${campaign}' is transactional: send it with /transactional/v1/campaigns/{id}/send`);
  const vid = (await get(`/admin/campaigns/${campaign}`)).json.variations[0].id;
  h.assertError(await post('/messages/send', { campaign_id: campaign, external_user_ids: ['ursula'], messages: { email: {
    app_id: 'app', from: 'a@b.example', subject: 's', body: 'b', message_variation_id: vid } } }), 400,
                `Invalid Campaign ID: campaign '${campaign}' is transactional: send it with /transactional/v1/campaigns/{id}/send`);
  h.assertError(await post('/sends/id/create', { campaign_id: campaign }), 400,
                `Invalid Campaign ID: send ids are for API campaigns; '${campaign}' is transactional`);

  // The server without an email relay refuses at once.
  const bare = await h.startServer();
  try {
    const c = await h.request(bare, 'POST', '/admin/campaigns', { key: bare.key, body: { name: 'T', kind: 'transactional',
      variations: [{ channel: 'email', content: { app_id: 'app', from: 'a@b.example', subject: 's', body: 'b' } }] } });
    assert.equal(c.status, 201, c.text);
    h.assertError(await h.request(bare, 'POST', `/transactional/v1/campaigns/${c.json.campaign_id}/send`, { key: bare.key, body }), 400,
                  `Bad Request: campaign '${c.json.campaign_id}' sends email, and no email relay is configured on this server (BRASA_SMTP_URL or brasa smtp add)`);
  } finally {
    await bare.stop();
  }
});

test('a transactional campaign: one email variation, no control group, a postback_url of http(s)', async () => {
  const v = { channel: 'email', content: { app_id: 'app', from: 'a@b.example', subject: 's', body: 'b' } };
  const mk = (extra) => post('/admin/campaigns', { name: 'T', kind: 'transactional', variations: [v], ...extra });
  h.assertError(await mk({ variations: [v, { ...v, name: 'Two' }] }), 400, 'Bad Request: a transactional campaign has exactly one variation');
  h.assertError(await mk({ control_percent: 10 }), 400, 'Bad Request: a transactional campaign has no control group (control_percent 0)');
  h.assertError(await mk({ variations: [{ channel: 'webhook', content: { url: 'https://x.example', request_method: 'POST' } }] }), 400,
                'Bad Request: variations[0].channel: a transactional campaign sends email');
  h.assertError(await mk({ variations: [{ channel: 'email' }] }), 400,
                'Bad Request: variations[0].content is required: an API-triggered or transactional campaign stores its message');
  h.assertError(await mk({ conversion_events: [{ type: 'starts_session' }] }), 400,
                'Bad Request: a transactional campaign has no conversion events');
  h.assertError(await mk({ postback_url: 'ftp://x.example/p' }), 400,
                "Bad Request: 'postback_url' must be an http:// or https:// URL of at most 2048 bytes");
  h.assertError(await mk({ postback_url: 5 }), 400, "Bad Request: 'postback_url' must be an http:// or https:// URL of at most 2048 bytes");
  h.assertError(await post('/admin/campaigns', { name: 'A', kind: 'api', postback_url: cb.url, variations: [{ channel: 'email' }] }), 400,
                "Bad Request: 'postback_url' is for transactional campaigns");
  const ok = await mk({});
  assert.equal(ok.status, 201, ok.text);
  const details = await get(`/campaigns/details?campaign_id=${ok.json.campaign_id}`);
  assert.equal(details.json.schedule_type, 'transactional');
  // The postback URL is set, changed and kept by updates.
  const up = await post(`/admin/campaigns/${ok.json.campaign_id}`, { postback_url: 'https://hooks.example/tx' });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.postback_url, 'https://hooks.example/tx');
  assert.equal((await post(`/admin/campaigns/${ok.json.campaign_id}`, { name: 'T2' })).json.postback_url, 'https://hooks.example/tx');
});

test('the Global Control Group gets transactional email (every user is eligible), not other campaigns', async () => {
  const g = await h.startServer({ env: { BRASA_SMTP_URL: rx.url }, args: ['--global-control-group', '15', '--global-control-group-start', '0'] });
  try {
    const req = (p, body) => h.request(g, 'POST', p, { key: g.key, body });
    const users = [];
    for (let b = 0; b < 2; b++) {
      const ids = Array.from({ length: 50 }, (_, i) => `gcg${b * 50 + i}`);
      await h.usersApi(g).trackOk({ attributes: ids.map((external_id) => ({ external_id, email: `${external_id}@example.com` })) });
      const ex = await req('/users/export/ids', { external_ids: ids, fields_to_export: ['external_id', 'random_bucket'] });
      assert.equal(ex.status, 201, ex.text);
      users.push(...ex.json.users);
    }
    const member = users.find((u) => u.random_bucket < 1500); // buckets 0..1499: the group
    assert.ok(member, 'one of 100 users is in a 15% group');
    const content = { app_id: 'app', from: 'shop@brand.example', subject: 'GCG {{${user_id}}}', body: '<p>x</p>' };
    const tx = await req('/admin/campaigns', { name: 'T', kind: 'transactional', variations: [{ channel: 'email', content }] });
    const tr = await req('/admin/campaigns', { name: 'R', kind: 'api_triggered', variations: [{ channel: 'email', content }] });
    const waitDone = async (id) => {
      let d;
      await h.poll(async () => (d = (await h.request(g, 'GET', `/admin/dispatches/${id}`, { key: g.key })).json).state === 'done',
                   { deadlineMs: 30000, intervalMs: 100 });
      return d;
    };
    let res = await req('/campaigns/trigger/send', { campaign_id: tr.json.campaign_id, recipients: [{ external_user_id: member.external_id }] });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual([(await waitDone(res.json.dispatch_id)).sent], [0], 'the group gets no API-triggered campaign');
    const n = rx.got.length;
    res = await req(`/transactional/v1/campaigns/${tx.json.campaign_id}/send`, { recipient: { external_user_id: member.external_id } });
    assert.equal(res.status, 201, res.text);
    assert.equal((await waitDone(res.json.dispatch_id)).sent, 1);
    await rx.wait(n + 1);
    assert.deepEqual(rx.got[n].rcpt_tos, [`${member.external_id}@example.com`]);
  } finally {
    await g.stop();
  }
});
