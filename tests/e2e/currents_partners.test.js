// currents_partners.test.js -- Amplitude and Mixpanel connectors against
// receivers shaped like the real APIs (started here; the connector's url
// points at them): custom events, purchases and a subscription change sent
// through /users/track and /email/status reach each receiver once, in
// Braze's export shape (docs/currents.md), and so do an email's Send and
// Delivery events (from the message outbox, ids longer than Mixpanel's
// $insert_id allows), with the partner's
// authentication; the events of users a partner cannot take (no external
// id) are not sent; a connector missing its key or token is refused.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const h = require('./harness.js');
const { smtpReceiver } = require('./smtp_receiver.js');

const call = (srv, method, p, body) => h.request(srv, method, p, { key: srv.key, body });

// A receiver recording every request; answer(body) gives [status, reply].
async function receiver(path, answer) {
  const got = [];
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      got.push({ method: req.method, url: req.url, headers: req.headers, raw, body });
      const [status, reply] = answer(body, raw);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}${path}`,
    got,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

// Amplitude's and Mixpanel's success answers.
const amplitudeOk = (body, raw) => [200, { code: 200, events_ingested: body.events.length, payload_size_bytes: raw.length, server_upload_time: Date.now() }];
const mixpanelOk = (body) => [200, { code: 200, num_records_imported: body.length, status: 'OK' }];

// The names Braze's glossary gives the types this test produces.
const TITLE = {
  'users.behaviors.Purchase': 'Purchase',
  'users.behaviors.subscription.GlobalStateChange': 'Global Subscription State Change',
  'users.messages.email.Send': 'Email Send',
  'users.messages.email.Delivery': 'Email Delivery',
};
const CUSTOM = 'users.behaviors.CustomEvent', PURCHASE = 'users.behaviors.Purchase';

// Everything of a flat record but what a partner puts elsewhere, custom
// properties prefixed (docs/currents.md).
function flat(rec, drop, rename = {}) {
  const out = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === null || drop.includes(k) || (rec.event_type === CUSTOM && k === 'name')) continue;
    if (k === 'properties' && (rec.event_type === CUSTOM || rec.event_type === PURCHASE)) {
      const pre = rec.event_type === CUSTOM ? '[Custom event property] ' : '[Purchase property] ';
      for (const [pk, pv] of Object.entries(JSON.parse(v))) out[pre + pk] = pv;
      continue;
    }
    out[rename[k] || k] = v;
  }
  return out;
}

function toAmplitude(rec) {
  const e = {
    event_type: rec.event_type === CUSTOM ? `[Appboy] [Custom Event] ${rec.name}` : `[Appboy] ${TITLE[rec.event_type]}`,
    insert_id: rec.id, user_id: rec.external_user_id, time: rec.time * 1000, library: 'Braze',
  };
  const drop = ['id', 'event_type', 'user_id', 'external_user_id', 'device_id', 'time'];
  if (rec.event_type === PURCHASE) {
    Object.assign(e, { price: rec.price, productId: rec.product_id });
    drop.push('price', 'product_id');
  }
  e.event_properties = flat(rec, drop);
  return e;
}

const mixpanelId = (id) => (/^[A-Za-z0-9-]{1,36}$/.test(id) ? id : crypto.createHash('sha256').update(id).digest('hex').slice(0, 32));

function toMixpanel(rec) {
  return {
    event: rec.event_type === CUSTOM ? `[Braze Custom Event] ${rec.name}` : TITLE[rec.event_type],
    properties: {
      $insert_id: mixpanelId(rec.id), distinct_id: rec.external_user_id, time: rec.time * 1000, token: 'mp-token', $partner_id: 'braze',
      ...flat(rec, ['id', 'event_type', 'user_id', 'external_user_id', 'time'], { device_model: '$device', os_version: '$os' }),
    },
  };
}

test('Amplitude and Mixpanel connectors: every event once, in Braze\'s shape, with the partner\'s auth', async () => {
  const amp = await receiver('/batch', amplitudeOk);
  const mp = await receiver('/import?strict=1', mixpanelOk);
  const rx = await smtpReceiver();
  const srv = await h.startServer({ env: { BRASA_SMTP_URL: rx.url } });
  try {
    let res = await call(srv, 'POST', '/admin/currents',
      { name: 'amp', type: 'amplitude', url: amp.url, api_key: 'amp-key', region: 'EU', batch_size: 2, start: 'earliest' });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.id, /^[0-9a-f]{24}$/);
    res = await call(srv, 'POST', '/admin/currents',
      { name: 'mp', type: 'mixpanel', url: mp.url, api_secret: 'mp-secret', project_token: 'mp-token', start: 'earliest' });
    assert.equal(res.status, 201, res.text);

    // Raw, for an integer past 2^53 that JSON.stringify would round.
    const now = new Date().toISOString();
    const track = JSON.stringify({
      attributes: [{ external_id: 'ann', email: 'ann@example.com', time_zone: 'Europe/Paris' }],
      events: [
        { external_id: 'ann', app_id: 'app-1', name: 'Played Song', time: now,
          properties: { plan: 'gold', n: 3, big: 'BIG', pi: 3.25, on: true, nested: { a: [1, { b: null }] }, 'ключ': 'значение 🎵' } },
        { external_id: 'José "Q" 🎵', name: 'Écouté 日本', time: now, properties: {} },
        // a user with no external id: neither partner takes it
        { email: 'anon@example.com', name: 'anonymous', time: now },
      ],
      purchases: [{ external_id: 'bob', product_id: 'sku-7', currency: 'EUR', price: 9.99, quantity: 2, time: now, properties: { color: 'red' } }],
    }).replace('"BIG"', '12345678901234567');
    res = await h.request(srv, 'POST', '/users/track', { key: srv.key, raw: track, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201, res.text);
    res = await call(srv, 'POST', '/messages/send', { external_user_ids: ['ann'],
      messages: { email: { app_id: 'app', from: 'news@brand.example', subject: 'Hi', body: '<p>Hi</p>' } } });
    assert.equal(res.status, 201, res.text);
    const sent = await h.poll(async () => (await call(srv, 'GET', `/admin/dispatches/${res.json.dispatch_id}`)).json.state === 'done',
      { deadlineMs: 60000, intervalMs: 100 });
    assert.ok(sent, 'the email was sent');
    res = await call(srv, 'POST', '/email/status', { email: 'ann@example.com', subscription_state: 'unsubscribed' });
    assert.equal(res.status, 201, res.text);

    // What the outboxes hold is what the partners must get, once each.
    const all = [...h.outboxEvents(srv.dir, 'users.', 'outbox'), ...h.outboxEvents(srv.dir, 'users.', 'message_outbox')];
    const known = all.filter((e) => e.external_user_id);
    assert.deepEqual(known.map((e) => e.event_type).sort(), [CUSTOM, CUSTOM, PURCHASE, PURCHASE,
      'users.behaviors.subscription.GlobalStateChange', 'users.messages.email.Delivery', 'users.messages.email.Send'],
    JSON.stringify(all));
    assert.ok(known.some((e) => e.id.length > 36), 'an id Mixpanel needs hashed');
    assert.ok(all.some((e) => e.event_type === CUSTOM && e.name === 'anonymous' && !e.external_user_id), JSON.stringify(all));

    const ampEvents = () => amp.got.flatMap((r) => r.body.events);
    const mpEvents = () => mp.got.flatMap((r) => r.body);
    await h.poll(() => ampEvents().length >= known.length && mpEvents().length >= known.length, { deadlineMs: 60000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 500)); // anything more would be a duplicate or the anonymous event

    // Amplitude: the batch API's envelope, the key in the body, no other auth.
    for (const r of amp.got) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/batch');
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.headers.authorization, undefined);
      assert.deepEqual(Object.keys(r.body).sort(), ['api_key', 'events', 'options']);
      assert.equal(r.body.api_key, 'amp-key');
      assert.deepEqual(r.body.options, { min_id_length: 1 });
      assert.ok(r.body.events.length >= 1 && r.body.events.length <= 2, r.raw);
    }
    const byAmp = new Map(ampEvents().map((e) => [e.insert_id, e]));
    assert.equal(byAmp.size, ampEvents().length, 'an event sent twice to Amplitude');
    assert.deepEqual([...byAmp.keys()].sort(), known.map((e) => e.id).sort());
    for (const rec of known) assert.deepEqual(byAmp.get(rec.id), toAmplitude(rec), rec.id);

    // Mixpanel: an array, Basic auth with the API secret and no password.
    for (const r of mp.got) {
      assert.equal(r.method, 'POST');
      assert.equal(r.url, '/import?strict=1');
      assert.match(r.headers['content-type'], /^application\/json/);
      assert.equal(r.headers.authorization, `Basic ${Buffer.from('mp-secret:').toString('base64')}`);
      assert.ok(Array.isArray(r.body) && r.body.length >= 1, r.raw);
    }
    const byMp = new Map(mpEvents().map((e) => [e.properties.$insert_id, e]));
    assert.equal(byMp.size, mpEvents().length, 'an event sent twice to Mixpanel');
    assert.deepEqual([...byMp.keys()].sort(), known.map((e) => mixpanelId(e.id)).sort());
    for (const rec of known) assert.deepEqual(byMp.get(mixpanelId(rec.id)), toMixpanel(rec), rec.id);

    // Spelled out once, apart from the oracle above.
    const played = ampEvents().find((e) => e.event_type === '[Appboy] [Custom Event] Played Song');
    assert.equal(played.user_id, 'ann');
    assert.deepEqual(played.event_properties, {
      app_id: 'app-1', '[Custom event property] plan': 'gold', '[Custom event property] n': 3,
      '[Custom event property] big': 12345678901234567, '[Custom event property] pi': 3.25, '[Custom event property] on': true,
      '[Custom event property] nested': { a: [1, { b: null }] }, '[Custom event property] ключ': 'значение 🎵',
    });
    assert.ok(played.time % 1000 === 0 && Math.abs(played.time - Date.parse(now)) < 1000, String(played.time));
    assert.ok(played.insert_id.length > 0);
    assert.ok(/"\[Custom event property\] big":12345678901234567[,}]/.test(amp.got.map((r) => r.raw).join('')), 'big integer as sent');
    const bought = ampEvents().filter((e) => e.event_type === '[Appboy] Purchase');
    assert.deepEqual(bought.map((e) => [e.user_id, e.price, e.productId, e.event_properties]),
      [['bob', 9.99, 'sku-7', { currency: 'EUR', '[Purchase property] color': 'red' }],
        ['bob', 9.99, 'sku-7', { currency: 'EUR', '[Purchase property] color': 'red' }]]);
    assert.notEqual(bought[0].insert_id, bought[1].insert_id);
    const unsub = mpEvents().find((e) => e.event === 'Global Subscription State Change');
    assert.deepEqual([unsub.properties.distinct_id, unsub.properties.subscription_status, unsub.properties.state_change_source,
      unsub.properties.email_address, unsub.properties.timezone], ['ann', 'Unsubscribed', 'REST API', 'ann@example.com', 'Europe/Paris']);
    const jose = mpEvents().find((e) => e.event === '[Braze Custom Event] Écouté 日本');
    assert.equal(jose.properties.distinct_id, 'José "Q" 🎵');
    assert.ok(!JSON.stringify(ampEvents()).includes('anonymous') && !JSON.stringify(mpEvents()).includes('anonymous'));
  } finally {
    await srv.stop();
    await amp.close();
    await mp.close();
    await rx.close();
  }
});

test('Amplitude and Mixpanel connectors: a missing key, secret or token is refused', async () => {
  const srv = await h.startServer();
  try {
    for (const [body, field] of [
      [{ name: 'a', type: 'amplitude', region: 'US' }, 'api_key'],
      [{ name: 'a', type: 'amplitude', api_key: '' }, 'api_key'],
      [{ name: 'a', type: 'amplitude', api_key: 5 }, 'api_key'],
      [{ name: 'm', type: 'mixpanel', api_secret: 'sec' }, 'project_token'],
      [{ name: 'm', type: 'mixpanel', api_secret: 'sec', project_token: '' }, 'project_token'],
      [{ name: 'm', type: 'mixpanel', project_token: 'tok' }, 'api_secret'],
      [{ name: 'a', type: 'amplitude', api_key: 'k', region: 'MARS' }, 'region'],
    ]) {
      const res = await call(srv, 'POST', '/admin/currents', body);
      h.assertError(res, 400, new RegExp(field));
    }
    const res = await call(srv, 'GET', '/admin/currents');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.connectors, [], 'nothing was created');
  } finally {
    await srv.stop();
  }
});
